// train/fault_injection.cc: parses ALRO_FAULT (see fault_injection.h).
#include "train/fault_injection.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace alro::train {

bool FaultRequested(absl::string_view kind, int rank, int64_t step) {
  const char* spec = std::getenv(kFaultEnvVar);
  if (spec == nullptr || *spec == '\0') return false;
  for (absl::string_view fault : absl::StrSplit(spec, ',', absl::SkipEmpty())) {
    const std::vector<absl::string_view> parts = absl::StrSplit(fault, ':');
    int fault_rank = -1;
    int64_t fault_step = -1;
    if (parts.size() != 3 || parts[0] != kind) continue;
    if (!absl::SimpleAtoi(parts[1], &fault_rank) || !absl::SimpleAtoi(parts[2], &fault_step)) continue;
    if (fault_rank == rank && fault_step == step) return true;
  }
  return false;
}

}  // namespace alro::train
