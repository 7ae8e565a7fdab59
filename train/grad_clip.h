// train/grad_clip.h: the global gradient norm across tensor- and
// data-parallel ranks, and clipping by it.
//
// Call after data-parallel averaging: the replicas then hold identical
// gradients, so the norm is taken over one replica, i.e. over the
// tensor-parallel group: every shard of a split parameter counts, and a
// parameter replicated across tensor-parallel ranks (norms) counts once
// (tp_rank 0 contributes it). The result is the same number on every rank
// of the job, equal to the norm of the unsharded model's gradient.
#pragma once

#include <vector>

#include "core/sharded_parameter.h"
#include "distributed/communicator.h"

namespace alro::train {

/// Global L2 norm of the gradients of `params` (undefined grads count as 0).
/// Collective over `tp`.
double GlobalGradNorm(const std::vector<core::ShardedParameter>& params, dist::Communicator& tp);

/// Scales every gradient by max_norm / (norm + 1e-6) when norm > max_norm
/// (max_norm <= 0 disables clipping). Returns the factor applied (1 = none).
double ClipGradients(const std::vector<core::ShardedParameter>& params, double norm, double max_norm);

}  // namespace alro::train
