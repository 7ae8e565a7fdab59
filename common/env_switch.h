// common/env_switch.h: the on/off switches alro reads from the environment
// to measure one code path against another (ALRO_FUSED_KERNELS,
// ALRO_TILE_GEMM).
#pragma once

#include <cstdlib>
#include <cstring>

namespace alro {

/// True unless the environment variable `name` is set to "0". Read it once
/// (a function-local static) where it picks a kernel: the variable belongs
/// to the process, and a switch that changed mid-run would mix the paths.
inline bool EnvSwitchOn(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr || std::strcmp(v, "0") != 0;
}

}  // namespace alro
