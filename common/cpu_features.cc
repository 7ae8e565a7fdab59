// common/cpu_features.cc: CpuFlags and NativeBfloat16CpuFlag (see cpu_features.h).
#include "common/cpu_features.h"

#include <fstream>
#include <sstream>
#include <string>

namespace alro {

std::set<std::string> CpuFlags() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::set<std::string> flags;
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    for (std::string w; words >> w;) flags.insert(w);
    break;  // the first processor's line
  }
  return flags;
}

std::string NativeBfloat16CpuFlag() {
  const std::set<std::string> flags = CpuFlags();
  if (flags.count("amx_bf16") != 0) return "amx_bf16";
  if (flags.count("avx512_bf16") != 0) return "avx512_bf16";
  return "";
}

}  // namespace alro
