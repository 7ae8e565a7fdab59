// core/parallel_linear.cc: column- and row-parallel linears with LoRA.
#include "core/parallel_linear.h"

#include "common/status.h"
#include "core/batched_matmul.h"
#include "core/compute_weight.h"
#include "distributed/tensor_parallel.h"

namespace alro::core {
namespace {

// Registers a child module `name` holding one parameter "weight", giving
// PEFT-style names such as q_proj.lora_A.weight.
at::Tensor RegisterAdapter(torch::nn::Module& parent, const std::string& name, at::Tensor value) {
  auto holder = parent.register_module(name, std::make_shared<torch::nn::Module>());
  return holder->register_parameter("weight", std::move(value));
}

// x W^T in the dtype of x, on W's copy in that dtype (cast once per
// optimizer step, not once per call). `route`: see ComputeWeight.
at::Tensor Linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& route = at::Tensor()) {
  return LinearProduct(x, ComputeWeight(w, x.scalar_type(), route));
}

}  // namespace

ColumnParallelLinear::ColumnParallelLinear(int64_t in_features, int64_t out_features, dist::Communicator& tp,
                                           const LoraSpec& lora, at::Generator dropout_rng, c10::Device device,
                                           int64_t valid_out)
    : in_(in_features),
      out_(out_features),
      valid_out_(valid_out < 0 ? out_features : valid_out),
      local_out_(out_features / tp.size()),
      offset_(local_out_ * tp.rank()),
      tp_(tp),
      lora_(lora),
      rng_(std::move(dropout_rng)) {
  ALRO_CHECK(out_features % tp.size() == 0, "column-parallel output ", out_features, " not divisible by tp ",
             tp.size());
  const at::TensorOptions options = at::TensorOptions().device(device);
  weight_ = register_parameter("weight", at::zeros({local_out_, in_}, options));
  if (lora_.enabled()) {
    lora_a_ = RegisterAdapter(*this, "lora_A", at::zeros({lora_.rank, in_}, options));
    lora_b_ = RegisterAdapter(*this, "lora_B", at::zeros({local_out_, lora_.rank}, options));
  }
}

at::Tensor ColumnParallelLinear::Forward(const at::Tensor& x) {
  return ForwardCopied(dist::CopyToTensorParallelRegion(x, tp_));
}

at::Tensor ColumnParallelLinear::ForwardCopied(const at::Tensor& x) {
  at::Tensor y = Linear(x, weight_);
  if (!lora_.enabled()) return y;
  // A is replicated but each rank sees only its output rows of B, so each
  // computes a partial gradient of A: Copy sums them (in float32) in backward.
  const at::Tensor a = dist::CopyToTensorParallelRegion(lora_a_, tp_);
  const at::Tensor h = Linear(LoraDropout(x, lora_.dropout, is_training(), rng_), lora_a_, a);
  return y + Linear(h, lora_b_) * lora_.scale();
}

std::vector<at::Tensor> ColumnParallelLinear::ForwardCopiedGroup(const at::Tensor& x_copied,
                                                                 const std::vector<ColumnParallelLinear*>& layers) {
  std::vector<at::Tensor> out;
  std::vector<at::Tensor> weights;
  for (ColumnParallelLinear* layer : layers) {
    if (layer->lora_.enabled()) {
      for (ColumnParallelLinear* each : layers) out.push_back(each->ForwardCopied(x_copied));
      return out;
    }
    weights.push_back(ComputeWeight(layer->weight_, x_copied.scalar_type()));
  }
  return LinearProducts(x_copied, weights);
}

at::Tensor ColumnParallelLinear::MergedWeight() const {
  if (!lora_.enabled()) return weight_.detach();
  return (weight_ + lora_.scale() * at::matmul(lora_b_, lora_a_)).detach();
}

void ColumnParallelLinear::AppendShardedParameters(const std::string& prefix,
                                                   std::vector<ShardedParameter>* out) const {
  out->push_back({prefix + "weight", weight_, 0, {valid_out_, in_}, offset_, weight_.requires_grad(), false});
  if (!lora_.enabled()) return;
  out->push_back({prefix + "lora_A.weight", lora_a_, -1, {lora_.rank, in_}, 0, true, false});
  out->push_back({prefix + "lora_B.weight", lora_b_, 0, {out_, lora_.rank}, offset_, true, false});
}

RowParallelLinear::RowParallelLinear(int64_t in_features, int64_t out_features, dist::Communicator& tp,
                                     const LoraSpec& lora, at::Generator dropout_rng, c10::Device device)
    : in_(in_features),
      out_(out_features),
      local_in_(in_features / tp.size()),
      offset_(local_in_ * tp.rank()),
      tp_(tp),
      lora_(lora),
      rng_(std::move(dropout_rng)) {
  ALRO_CHECK(in_features % tp.size() == 0, "row-parallel input ", in_features, " not divisible by tp ", tp.size());
  const at::TensorOptions options = at::TensorOptions().device(device);
  weight_ = register_parameter("weight", at::zeros({out_, local_in_}, options));
  if (lora_.enabled()) {
    lora_a_ = RegisterAdapter(*this, "lora_A", at::zeros({lora_.rank, local_in_}, options));
    lora_b_ = RegisterAdapter(*this, "lora_B", at::zeros({out_, lora_.rank}, options));
  }
}

at::Tensor RowParallelLinear::Forward(const at::Tensor& x) {
  const at::Tensor partial = Linear(x, weight_);
  if (!lora_.enabled()) return dist::ReduceFromTensorParallelRegion(partial, tp_);
  // One all-reduce carries both the output and A x (both partial sums).
  const at::Tensor h_partial = Linear(LoraDropout(x, lora_.dropout, is_training(), rng_), lora_a_);
  const at::Tensor reduced = dist::ReduceFromTensorParallelRegion(at::cat({partial, h_partial}, -1), tp_);
  const at::Tensor y = reduced.narrow(-1, 0, out_);
  const at::Tensor h = reduced.narrow(-1, out_, lora_.rank);
  return y + Linear(h, lora_b_) * lora_.scale();
}

at::Tensor RowParallelLinear::MergedWeight() const {
  if (!lora_.enabled()) return weight_.detach();
  return (weight_ + lora_.scale() * at::matmul(lora_b_, lora_a_)).detach();
}

void RowParallelLinear::AppendShardedParameters(const std::string& prefix, std::vector<ShardedParameter>* out) const {
  out->push_back({prefix + "weight", weight_, 1, {out_, in_}, offset_, weight_.requires_grad(), false});
  if (!lora_.enabled()) return;
  out->push_back({prefix + "lora_A.weight", lora_a_, 1, {lora_.rank, in_}, offset_, true, false});
  out->push_back({prefix + "lora_B.weight", lora_b_, -1, {out_, lora_.rank}, 0, true, false});
}

}  // namespace alro::core
