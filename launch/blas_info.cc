// launch/blas_info.cc: BlasSummary (see blas_info.h).
#include "launch/blas_info.h"

#include <dlfcn.h>

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace alro::launch {

std::string BlasSummary() {
  // Looked up at run time: alro does not link OpenBLAS itself; LibTorch
  // brings whichever libblas the system's alternatives select.
  using NameFunction = char* (*)();
  auto corename = reinterpret_cast<NameFunction>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  auto config = reinterpret_cast<NameFunction>(dlsym(RTLD_DEFAULT, "openblas_get_config"));
  if (corename == nullptr) return "not OpenBLAS (or not loaded yet)";
  const char* forced = std::getenv("OPENBLAS_CORETYPE");
  return absl::StrCat(config != nullptr ? absl::StripTrailingAsciiWhitespace(config()) : "OpenBLAS", ", core ",
                      corename(),
                      forced != nullptr ? absl::StrCat(" (OPENBLAS_CORETYPE=", forced, ")")
                                        : std::string(" (detected; OPENBLAS_CORETYPE overrides, docs/performance.md)"));
}

}  // namespace alro::launch
