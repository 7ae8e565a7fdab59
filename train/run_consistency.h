// train/run_consistency.h: the start-up check that every rank runs the same
// training job: which values must agree (configuration, data set, parameter
// shapes) and what to tell the user when they do not. The comparison itself
// is distributed/agreement.h's.
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/status.h"
#include "distributed/communicator.h"

namespace alro::train {

/// Start-up check that every rank of `world` runs the same job: the same
/// configuration hash (config::ConfigHash), the same data manifest hash, and
/// the same parameter shapes among ranks that hold the same shards (ranks
/// with equal `shape_group`; pass the tp_rank, since different tensor-parallel
/// ranks legitimately hold different shards). Returns the same error on every
/// rank, naming each rank that differs from rank 0 (or from the lowest rank
/// of its shape group) and both values. Collective over `world`.
absl::Status CheckRunConsistency(dist::Communicator& world, uint64_t config_hash, const std::vector<at::Tensor>& params,
                                 uint64_t data_manifest_hash, int shape_group = 0);

}  // namespace alro::train
