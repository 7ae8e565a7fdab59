// train/fault_injection.h: deliberate failures for the tests of crash safety
// and NaN handling, switched on by an environment variable so the code paths
// are exactly the production ones.
//
//   ALRO_FAULT=kill_during_save:1:4        rank 1 SIGKILLs itself after writing
//                                          its shard of the step-4 checkpoint
//   ALRO_FAULT=nan_loss:0:3                rank 0's loss is NaN at step 3
//
// Several faults are separated by commas. Unset (the normal case) costs one
// getenv per query.
#pragma once

#include <cstdint>

#include "absl/strings/string_view.h"

namespace alro::train {

/// Name of the environment variable read by FaultRequested().
inline constexpr const char* kFaultEnvVar = "ALRO_FAULT";

/// True when ALRO_FAULT asks for fault `kind` on world rank `rank` at `step`.
bool FaultRequested(absl::string_view kind, int rank, int64_t step);

}  // namespace alro::train
