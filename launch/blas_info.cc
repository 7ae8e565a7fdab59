// launch/blas_info.cc: BlasSummary (see blas_info.h).
#include "launch/blas_info.h"

#include <dlfcn.h>

#include <cstdlib>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/cpu_features.h"

namespace alro::launch {

namespace {

using NameFunction = char* (*)();

// Looked up at run time: alro does not link OpenBLAS itself; LibTorch
// brings whichever libblas the system's alternatives select.
NameFunction OpenBlasFunction(const char* name) {
  return reinterpret_cast<NameFunction>(dlsym(RTLD_DEFAULT, name));
}

}  // namespace

std::string BlasCoreAdvice(const std::string& core, const std::set<std::string>& cpu_flags) {
  if (core.empty()) return "";
  for (const char* flag : kSkylakeXFlags) {
    if (cpu_flags.count(flag) == 0) return "";
  }
  const std::string lower = absl::AsciiStrToLower(core);
  if (lower == "skylakex" || lower == "cooperlake" || lower == "sapphirerapids") return "";
  // Measured on a 2-core Zen 5 with OPENBLAS_CORETYPE=Haswell against
  // SkylakeX: the bf16 demo's lists/s rose 4-6% (attention's tiles are
  // OpenBLAS sgemm); docs/performance.md, "BLAS: check the core OpenBLAS picked".
  return absl::StrCat("OpenBLAS runs its ", core,
                      " kernels (AVX2 or older) on a CPU with AVX-512. HINT: set OPENBLAS_CORETYPE=SkylakeX for "
                      "every rank (mpirun -x OPENBLAS_CORETYPE=SkylakeX); docs/performance.md, \"BLAS: check the "
                      "core OpenBLAS picked\"");
}

std::string BlasCoreAdviceHere() {
  const NameFunction corename = OpenBlasFunction("openblas_get_corename");
  return corename == nullptr ? "" : BlasCoreAdvice(corename(), CpuFlags());
}

std::string BlasSummary() {
  const NameFunction corename = OpenBlasFunction("openblas_get_corename");
  const NameFunction config = OpenBlasFunction("openblas_get_config");
  if (corename == nullptr) return "not OpenBLAS (or not loaded yet)";
  const char* forced = std::getenv("OPENBLAS_CORETYPE");
  return absl::StrCat(config != nullptr ? absl::StripTrailingAsciiWhitespace(config()) : "OpenBLAS", ", core ",
                      corename(),
                      forced != nullptr ? absl::StrCat(" (OPENBLAS_CORETYPE=", forced, ")")
                                        : std::string(" (detected; OPENBLAS_CORETYPE overrides, docs/performance.md)"));
}

}  // namespace alro::launch
