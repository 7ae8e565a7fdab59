// common/cpu_features.cc: NativeBfloat16CpuFlag (see cpu_features.h).
#include "common/cpu_features.h"

#include <fstream>
#include <sstream>
#include <string>

namespace alro {

std::string NativeBfloat16CpuFlag() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    // Only the first processor's line: a machine's cores share one model.
    std::istringstream words(line.substr(line.find(':') + 1));
    bool amx = false, avx512 = false;
    for (std::string w; words >> w;) {
      amx = amx || w == "amx_bf16";
      avx512 = avx512 || w == "avx512_bf16";
    }
    return amx ? "amx_bf16" : avx512 ? "avx512_bf16" : "";
  }
  return "";
}

}  // namespace alro
