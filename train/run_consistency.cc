// train/run_consistency.cc: configuration, data and shape agreement at start-up.
#include "train/run_consistency.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/status.h"
#include "distributed/agreement.h"
#include "distributed/grad_sync.h"

namespace alro::train {
namespace {

// The values each rank contributes, one column each.
enum Field : size_t { kConfig, kManifest, kShapes, kGroup, kNumParams, kNumFields };

std::string Hex(uint64_t v) { return absl::StrFormat("0x%016x", v); }

bool Contains(const std::vector<std::pair<int, int>>& pairs, int rank) {
  return std::any_of(pairs.begin(), pairs.end(), [&](const auto& p) { return p.first == rank; });
}

}  // namespace

absl::Status CheckRunConsistency(dist::Communicator& world, uint64_t config_hash, const std::vector<at::Tensor>& params,
                                 uint64_t data_manifest_hash, int shape_group) {
  std::vector<uint64_t> mine(kNumFields);
  mine[kConfig] = config_hash;
  mine[kManifest] = data_manifest_hash;
  mine[kShapes] = dist::HashParameterShapes(params);
  mine[kGroup] = static_cast<uint64_t>(static_cast<int64_t>(shape_group));
  mine[kNumParams] = params.size();
  const std::vector<std::vector<uint64_t>> all = dist::AllGatherValues(world, mine);

  std::vector<std::string> problems;
  const auto config = dist::Disagreements(all, kConfig);
  const auto manifest = dist::Disagreements(all, kManifest);
  for (int r = 1; r < world.size(); ++r) {
    if (Contains(config, r)) {
      problems.push_back(absl::StrCat("rank ", r, " has configuration hash ", Hex(all[r][kConfig]), ", rank 0 has ",
                                      Hex(all[0][kConfig])));
    }
    if (Contains(manifest, r)) {
      problems.push_back(absl::StrCat("rank ", r, " has data manifest hash ", Hex(all[r][kManifest]), ", rank 0 has ",
                                      Hex(all[0][kManifest])));
    }
  }
  for (const auto& [r, first] : dist::Disagreements(all, kShapes, kGroup)) {
    problems.push_back(absl::StrCat("rank ", r, " has parameter shapes ", Hex(all[r][kShapes]), " (",
                                    all[r][kNumParams], " tensors), rank ", first, " has ", Hex(all[first][kShapes]),
                                    " (", all[first][kNumParams], " tensors)"));
  }
  if (problems.empty()) return absl::OkStatus();
  return UserError(absl::StatusCode::kFailedPrecondition,
                   absl::StrCat("start-up consistency check failed across ", world.size(), " ranks: ",
                                absl::StrJoin(problems, "; ")),
                   "every rank must run the same alro build with the same config file, --set overrides and data "
                   "directory (shared storage, not per-node copies that differ)");
}

}  // namespace alro::train
