// losses/lm_loss.cc: vocab-parallel cross-entropy as a custom autograd function.
#include "losses/lm_loss.h"

#include <torch/csrc/autograd/custom_function.h>

#include "common/status.h"
#include "losses/pairwise_lambda.h"

namespace alro::losses {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class VocabParallelCrossEntropyFunction : public torch::autograd::Function<VocabParallelCrossEntropyFunction> {
 public:
  // local_logits [N, Vs], targets [N]; returns [N].
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& local_logits, const at::Tensor& targets,
                            int64_t vocab_start, dist::Communicator* tp) {
    const at::Tensor logits = local_logits.to(LossComputeDtype(local_logits));
    const int64_t shard_size = logits.size(1);

    // amax: the row maximum without max's index tensor.
    at::Tensor row_max = logits.amax(/*dim=*/1);
    tp->AllReduce(row_max, dist::ReduceOp::kMax);
    at::Tensor shifted = logits - row_max.unsqueeze(1);

    const at::Tensor valid = targets >= 0;
    const at::Tensor local_target = targets - vocab_start;
    const at::Tensor in_shard = valid & (local_target >= 0) & (local_target < shard_size);
    const at::Tensor safe_target = local_target.masked_fill(~in_shard, 0);
    const at::Tensor target_logit = shifted.gather(1, safe_target.unsqueeze(1)).squeeze(1).masked_fill(~in_shard, 0.0);
    // exp in place: the shifted logits are not needed after the gather, and
    // [rows, Vs] is the largest tensor of the objective.
    at::Tensor exp_logits = shifted.exp_();
    // Both sums travel in one all-reduce: row 0 the target logit, row 1 sum exp.
    at::Tensor sums = at::stack({target_logit, exp_logits.sum(1)});
    tp->AllReduce(sums, dist::ReduceOp::kSum);
    const at::Tensor sum_exp = sums[1];

    const at::Tensor loss = (at::log(sum_exp) - sums[0]).masked_fill(~valid, 0.0);
    const at::Tensor softmax = exp_logits.div_(sum_exp.unsqueeze(1));
    ctx->save_for_backward({softmax, safe_target, in_shard, valid});
    ctx->saved_data["input_dtype"] = static_cast<int64_t>(local_logits.scalar_type());
    return loss;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const variable_list saved = ctx->get_saved_variables();
    const at::Tensor& softmax = saved[0];
    const at::Tensor& safe_target = saved[1];
    const at::Tensor& in_shard = saved[2];
    const at::Tensor& valid = saved[3];
    const at::ScalarType dtype = softmax.scalar_type();
    const at::Tensor row_scale = (grad_outputs[0].to(dtype) * valid.to(dtype)).unsqueeze(1);
    // (softmax - onehot(target)) * scale in one pass over [rows, Vs]: the
    // product everywhere, then the target column recomputed as
    // (softmax - 1) * scale (the same arithmetic as subtracting first).
    at::Tensor grad = softmax * row_scale;
    const at::Tensor column = safe_target.unsqueeze(1);
    grad.scatter_(1, column, (softmax.gather(1, column) - in_shard.to(dtype).unsqueeze(1)) * row_scale);
    const auto input_dtype = static_cast<at::ScalarType>(ctx->saved_data["input_dtype"].toInt());
    return {grad.to(input_dtype), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor VocabParallelCrossEntropy(const at::Tensor& local_logits, const at::Tensor& targets,
                                     int64_t vocab_start, dist::Communicator& tp) {
  ALRO_CHECK(local_logits.dim() >= 1 && targets.dim() == local_logits.dim() - 1,
             "VocabParallelCrossEntropy: logits ", c10::str(local_logits.sizes()), " and targets ",
             c10::str(targets.sizes()), " must be [..., Vs] and [...]");
  const int64_t shard_size = local_logits.size(-1);
  const at::Tensor flat_logits = local_logits.reshape({-1, shard_size});
  const at::Tensor flat_targets = targets.reshape({-1}).to(at::kLong);
  ALRO_CHECK(flat_logits.size(0) == flat_targets.size(0), "VocabParallelCrossEntropy: ", flat_logits.size(0),
             " rows of logits but ", flat_targets.size(0), " targets");
  const at::Tensor loss = VocabParallelCrossEntropyFunction::apply(flat_logits, flat_targets, vocab_start, &tp);
  return loss.view(targets.sizes());
}

}  // namespace alro::losses
