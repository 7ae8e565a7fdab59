// distributed/grad_sync.h: data-parallel gradient averaging, the initial
// parameter broadcast, and the parameter-shape fingerprint that the start-up
// consistency check compares (train/run_consistency.h).
//
// Gradients live in flat buckets (default 25 MiB, config key
// parallel.bucket_mb) and each bucket is averaged with one all-reduce over the
// data-parallel group. Every parameter's .grad is a view of its slot in its
// bucket's buffer (PyTorch DDP's gradient_as_bucket_view), so backward
// accumulates straight into the buffer and the all-reduce averages it in
// place: no copy into the bucket before the all-reduce and none back after.
// A gradient replaced behind the synchronizer's back (assigned another tensor
// or reset to undefined) is copied into its slot at the next reduction and
// the view restored, so the result is always the bucketed average.
// Buckets are planned once, from the parameter list, in
// REVERSE parameter order (the order backward produces gradients), one dtype
// per bucket; every rank builds the same plan from the same parameter list,
// so the all-reduces are issued in the same order on every rank.
//
// Two ways to run it:
//  * Synchronize() after backward: averages every bucket in place.
//  * With overlap enabled (parallel.overlap_grad_reduce), hooks on each
//    parameter's gradient accumulator mark it ready as backward produces it;
//    when a bucket is complete (and every earlier bucket has started, which
//    keeps the order identical across ranks) its all-reduce starts at once,
//    and Synchronize() only waits for what is still in flight. Only the last
//    micro-step of an accumulation should reduce: call set_sync_enabled(false)
//    for the earlier ones.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/status.h"
#include "distributed/communicator.h"

namespace torch::autograd {
struct Node;  // an autograd graph node (torch/csrc/autograd/function.h)
}  // namespace torch::autograd

namespace alro::dist {
namespace internal {
/// What gradient hooks call back (grad_sync.cc); outlives the synchronizer.
struct GradHookTarget;
}  // namespace internal

/// Default bucket size: 25 MiB, PyTorch DDP's and Megatron's default.
inline constexpr size_t kDefaultBucketBytes = size_t{25} << 20;

/// One bucket of the plan: indices into the parameter list, same dtype.
struct GradBucket {
  std::vector<size_t> param_indices;
  /// Start of each parameter in the bucket's flat buffer, in elements.
  std::vector<int64_t> offsets;
  at::ScalarType dtype = at::kFloat;
  int64_t numel = 0;
};

/// Groups `params` into buckets of at most `bucket_bytes` (a larger parameter
/// gets a bucket of its own), walking the list in reverse and starting a new
/// bucket when the dtype changes or the size would be exceeded. Pure function.
std::vector<GradBucket> PlanGradBuckets(const std::vector<at::Tensor>& params, size_t bucket_bytes);

/// Averages the gradients of `params` over the data-parallel group.
class GradientSynchronizer {
 public:
  /// `params` are the trainable parameters (same list, same order on every
  /// data-parallel rank); `dp` must outlive this object. Each parameter that
  /// requires grad and has none yet gets a zeroed view of its bucket as .grad.
  GradientSynchronizer(std::vector<at::Tensor> params, Communicator& dp,
                       size_t bucket_bytes = kDefaultBucketBytes);
  ~GradientSynchronizer();
  GradientSynchronizer(const GradientSynchronizer&) = delete;
  GradientSynchronizer& operator=(const GradientSynchronizer&) = delete;

  /// Installs the gradient-accumulator hooks that start bucket all-reduces
  /// during backward (see the file comment). Call once, before backward.
  void EnableOverlap();

  /// When false, hooks do nothing (gradient-accumulation micro-steps before
  /// the last one). Synchronize() is unaffected.
  void set_sync_enabled(bool enabled) { sync_enabled_ = enabled; }

  /// Finishes the averaging: every parameter's grad becomes the average over
  /// the group, as a view of its bucket (an undefined grad counts as zeros and
  /// is defined afterwards). Collective over `dp`.
  void Synchronize();

  /// Buckets whose all-reduce has started in the current pass (hooks start
  /// them during backward in overlap mode; Synchronize() resets to 0).
  size_t buckets_started() const { return next_to_launch_; }

  /// The bucket plan (for logging and tests).
  const std::vector<GradBucket>& buckets() const { return buckets_; }

 private:
  struct BucketState;
  void OnGradReady(size_t param_index);
  void LaunchReadyBuckets();
  void Bind(size_t bucket);

  std::vector<at::Tensor> params_;
  Communicator& dp_;
  std::vector<GradBucket> buckets_;
  std::vector<size_t> bucket_of_param_;
  std::vector<std::unique_ptr<BucketState>> state_;
  size_t next_to_launch_ = 0;
  bool overlap_ = false;
  bool sync_enabled_ = true;
  std::vector<char> grad_ready_;                   // per parameter, this pass (overlap mode)
  std::shared_ptr<internal::GradHookTarget> hook_target_;  // what hooks call; cleared on destruction
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators_;  // keeps the hooked autograd nodes alive
};

/// Copies data-parallel rank `root`'s values of `params` into every other
/// rank's (in place, coalesced into buckets). Call once after initialisation
/// or loading so all replicas start identical. Collective over `dp`.
void BroadcastParameters(const std::vector<at::Tensor>& params, Communicator& dp, int root = 0,
                         size_t bucket_bytes = kDefaultBucketBytes);

/// A stable hash of the parameters' dtypes and shapes, in order.
uint64_t HashParameterShapes(const std::vector<at::Tensor>& params);
}  // namespace alro::dist
