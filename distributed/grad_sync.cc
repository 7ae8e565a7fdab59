// distributed/grad_sync.cc: bucketed gradient averaging, the coalesced
// parameter broadcast and the parameter-shape fingerprint (grad_sync.h).
#include "distributed/grad_sync.h"

#include <torch/csrc/autograd/custom_function.h>
#include <torch/csrc/autograd/function_hook.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/hash.h"
#include "common/status.h"
#include "distributed/watchdog.h"

namespace alro::dist {
namespace {

at::Tensor NewFlatBuffer(const GradBucket& bucket, const std::vector<at::Tensor>& params) {
  return at::empty({bucket.numel}, params[bucket.param_indices.front()].options().dtype(bucket.dtype));
}

// Parameter k of `bucket` as a view of the bucket's flat buffer.
at::Tensor Slot(const GradBucket& bucket, const std::vector<at::Tensor>& params, const at::Tensor& flat, size_t k) {
  const at::Tensor& p = params[bucket.param_indices[k]];
  return flat.narrow(0, bucket.offsets[k], p.numel()).view(p.sizes());
}

}  // namespace

// ---------------------------------------------------------------- planning

std::vector<GradBucket> PlanGradBuckets(const std::vector<at::Tensor>& params, size_t bucket_bytes) {
  std::vector<GradBucket> buckets;
  GradBucket current;
  size_t current_bytes = 0;
  auto close = [&] {
    if (!current.param_indices.empty()) buckets.push_back(std::move(current));
    current = GradBucket();
    current_bytes = 0;
  };
  for (size_t i = params.size(); i-- > 0;) {
    const at::Tensor& p = params[i];
    ALRO_CHECK(p.defined(), "parameter ", i, " is undefined");
    const size_t bytes = static_cast<size_t>(p.numel()) * p.element_size();
    if (!current.param_indices.empty() &&
        (p.scalar_type() != current.dtype || current_bytes + bytes > bucket_bytes)) {
      close();
    }
    current.dtype = p.scalar_type();
    current.param_indices.push_back(i);
    current.offsets.push_back(current.numel);
    current.numel += p.numel();
    current_bytes += bytes;
  }
  close();
  return buckets;
}

// ---------------------------------------------------------- synchronizer

// Per-bucket progress of one backward pass.
struct GradientSynchronizer::BucketState {
  at::Tensor flat;                    // the bucket's flat buffer; its parameters' grads are views of it
  std::vector<at::Tensor> slots;      // each parameter's view of `flat`, made once
  size_t expected = 0;                // parameters whose hooks must fire
  size_t ready = 0;                   // hooks fired so far in this pass
  std::unique_ptr<PendingWork> work;  // in-flight all-reduce (overlap mode)
};

// Liveness of a synchronizer as seen by hooks that may outlive it (a graph
// node keeps its hooks until the node dies).
struct internal::GradHookTarget {
  GradientSynchronizer* self = nullptr;
};

GradientSynchronizer::GradientSynchronizer(std::vector<at::Tensor> params, Communicator& dp, size_t bucket_bytes)
    : params_(std::move(params)), dp_(dp), buckets_(PlanGradBuckets(params_, bucket_bytes)) {
  bucket_of_param_.assign(params_.size(), 0);
  for (size_t b = 0; b < buckets_.size(); ++b) {
    state_.push_back(std::make_unique<BucketState>());
    for (size_t i : buckets_[b].param_indices) {
      bucket_of_param_[i] = b;
      if (params_[i].requires_grad()) ++state_[b]->expected;
    }
  }
  // Trainable parameters get their gradient views now, so the first
  // backward already accumulates into the buckets; the others are bound by
  // the first Synchronize(), which defines every gradient.
  at::NoGradGuard no_grad;
  for (size_t b = 0; b < buckets_.size(); ++b) {
    BucketState& state = *state_[b];
    state.flat = NewFlatBuffer(buckets_[b], params_).zero_();
    for (size_t k = 0; k < buckets_[b].param_indices.size(); ++k) {
      state.slots.push_back(Slot(buckets_[b], params_, state.flat, k));
      at::Tensor& p = params_[buckets_[b].param_indices[k]];
      if (p.requires_grad() && !p.grad().defined()) p.mutable_grad() = state.slots.back();
    }
  }
}

GradientSynchronizer::~GradientSynchronizer() {
  // Finish anything in flight, then make surviving hooks inert.
  for (auto& state : state_) state->work.reset();
  if (hook_target_) hook_target_->self = nullptr;
}

namespace {

// Runs after a parameter's AccumulateGrad node, i.e. once its .grad holds
// this backward's contribution.
class GradReadyHook : public torch::autograd::FunctionPostHook {
 public:
  GradReadyHook(std::shared_ptr<internal::GradHookTarget> target, size_t index,
                void (*notify)(GradientSynchronizer*, size_t))
      : target_(std::move(target)), index_(index), notify_(notify) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                            const torch::autograd::variable_list& /*inputs*/) override {
    if (target_->self != nullptr) notify_(target_->self, index_);
    return outputs;
  }

 private:
  std::shared_ptr<internal::GradHookTarget> target_;
  size_t index_;
  void (*notify_)(GradientSynchronizer*, size_t);
};

}  // namespace

void GradientSynchronizer::EnableOverlap() {
  if (overlap_) return;
  overlap_ = true;
  auto target = std::make_shared<internal::GradHookTarget>();
  target->self = this;
  hook_target_ = target;
  grad_ready_.assign(params_.size(), 0);
  for (size_t i = 0; i < params_.size(); ++i) {
    if (!params_[i].requires_grad()) continue;
    // The accumulator is held weakly by the parameter; keeping it alive here
    // keeps our hook on the node that every backward pass reuses.
    std::shared_ptr<torch::autograd::Node> accumulator = torch::autograd::impl::grad_accumulator(params_[i]);
    ALRO_CHECK(accumulator != nullptr, "parameter ", i, " has no gradient accumulator (not a leaf?)");
    accumulator->add_post_hook(std::make_unique<GradReadyHook>(
        target, i, [](GradientSynchronizer* self, size_t index) { self->OnGradReady(index); }));
    accumulators_.push_back(accumulator);
  }
}

void GradientSynchronizer::OnGradReady(size_t param_index) {
  if (!sync_enabled_) return;
  const size_t b = bucket_of_param_[param_index];
  ALRO_CHECK(b >= next_to_launch_, "the gradient of parameter ", param_index,
             " changed after its bucket was reduced (a parameter used in several reentrant backward passes?); "
             "set parallel.overlap_grad_reduce: false");
  if (grad_ready_[param_index]) return;
  grad_ready_[param_index] = 1;
  ++state_[b]->ready;
  LaunchReadyBuckets();
}

// Launching strictly in bucket order keeps the sequence of collectives the
// same on every rank even if hooks fire in a different order.
void GradientSynchronizer::LaunchReadyBuckets() {
  while (next_to_launch_ < buckets_.size() && state_[next_to_launch_]->ready >= state_[next_to_launch_]->expected) {
    BucketState& state = *state_[next_to_launch_];
    Bind(next_to_launch_);
    state.work = dp_.AllReduceAsync(state.flat, ReduceOp::kAverage);
    ++next_to_launch_;
  }
}

// The gradients of a bucket's parameters are views of its flat buffer
// (`Bind`), so backward accumulates into the buffer and the all-reduce
// averages it in place: no copy in or out. A gradient that someone replaced
// (assigned a new tensor, reset to undefined) is copied into its slot and the
// view restored, which keeps the result the same as packing every gradient.
void GradientSynchronizer::Bind(size_t bucket) {
  BucketState& state = *state_[bucket];
  const GradBucket& plan = buckets_[bucket];
  at::NoGradGuard no_grad;
  for (size_t k = 0; k < plan.param_indices.size(); ++k) {
    at::Tensor& p = params_[plan.param_indices[k]];
    const at::Tensor& slot = state.slots[k];
    const at::Tensor& grad = p.grad();
    if (grad.defined() && grad.data_ptr() == slot.data_ptr() && grad.sizes() == slot.sizes() &&
        grad.strides() == slot.strides() && grad.scalar_type() == slot.scalar_type()) {
      continue;  // already the view: backward wrote into the buffer
    }
    if (grad.defined()) {
      slot.copy_(grad);
    } else {
      slot.zero_();
    }
    p.mutable_grad() = slot;
  }
}

void GradientSynchronizer::Synchronize() {
  if (overlap_) {
    // Non-blocking and blocking collectives never match each other in MPI,
    // so in overlap mode every bucket goes through AllReduceAsync.
    for (; next_to_launch_ < buckets_.size(); ++next_to_launch_) {
      Bind(next_to_launch_);
      state_[next_to_launch_]->work = dp_.AllReduceAsync(state_[next_to_launch_]->flat, ReduceOp::kAverage);
    }
    for (size_t b = 0; b < buckets_.size(); ++b) {
      {
        ScopedWatch watch(absl::StrCat("gradient bucket ", b, " of ", buckets_.size(), " (wait)"));
        state_[b]->work->Wait();
      }
      state_[b]->work.reset();
      state_[b]->ready = 0;
    }
    std::fill(grad_ready_.begin(), grad_ready_.end(), 0);
    next_to_launch_ = 0;
    return;
  }
  for (size_t b = 0; b < buckets_.size(); ++b) {
    Bind(b);
    dp_.AllReduce(state_[b]->flat, ReduceOp::kAverage);
  }
}

// ------------------------------------------------------ broadcast, checks

void BroadcastParameters(const std::vector<at::Tensor>& params, Communicator& dp, int root, size_t bucket_bytes) {
  if (dp.size() == 1) return;
  for (const GradBucket& bucket : PlanGradBuckets(params, bucket_bytes)) {
    at::Tensor flat = NewFlatBuffer(bucket, params);
    at::NoGradGuard no_grad;
    const bool root_rank = dp.rank() == root;
    if (root_rank) {
      for (size_t k = 0; k < bucket.param_indices.size(); ++k) {
        Slot(bucket, params, flat, k).copy_(params[bucket.param_indices[k]]);
      }
    }
    dp.Broadcast(flat, root);
    if (root_rank) continue;
    for (size_t k = 0; k < bucket.param_indices.size(); ++k) {
      at::Tensor p = params[bucket.param_indices[k]];
      p.copy_(Slot(bucket, params, flat, k));
    }
  }
}

uint64_t HashParameterShapes(const std::vector<at::Tensor>& params) {
  uint64_t h = Fnv1aExtend(kFnv1aAlroOffset, static_cast<int64_t>(params.size()));
  for (const at::Tensor& p : params) {
    h = Fnv1aExtend(h, static_cast<int64_t>(p.scalar_type()));
    h = Fnv1aExtend(h, p.dim());
    for (int64_t s : p.sizes()) h = Fnv1aExtend(h, s);
  }
  return h;
}

}  // namespace alro::dist
