// core/cblas.cc: the gemm entry points looked up in the running process
// (CBLAS and oneDNN's sgemm) and the choice between them (see cblas.h).
#include "core/cblas.h"

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "core/tile_gemm.h"

namespace alro::core::cblas {
namespace {

// CBLAS's enums and its LP64 integer (OpenBLAS and MKL's default interfaces).
constexpr int kRowMajor = 101;
constexpr int kNoTrans = 111;
constexpr int kTrans = 112;
using SgemmFn = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*,
                         int);
using DgemmFn = void (*)(int, int, int, int, int, int, double, const double*, int, const double*, int, double,
                         double*, int);
// oneDNN's C API (dnnl.h, stable since 1.0): row-major, 'N'/'T' flags,
// 64-bit dimensions, returns dnnl_status_t (0 = dnnl_success).
using DnnlSgemmFn = int (*)(char, char, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
                            int64_t, float, float*, int64_t);
constexpr int kDnnlSuccess = 0;

struct Entries {
  SgemmFn sgemm = nullptr;
  DgemmFn dgemm = nullptr;
  DnnlSgemmFn dnnl_sgemm = nullptr;
};

// RTLD_DEFAULT searches every library loaded at start (libtorch_cpu brings
// OpenBLAS and, in Debian's build, libdnnl.so.2).
const Entries& Loaded() {
  static const Entries entries = [] {
    Entries e;
    e.sgemm = reinterpret_cast<SgemmFn>(dlsym(RTLD_DEFAULT, "cblas_sgemm"));
    e.dgemm = reinterpret_cast<DgemmFn>(dlsym(RTLD_DEFAULT, "cblas_dgemm"));
    e.dnnl_sgemm = reinterpret_cast<DnnlSgemmFn>(dlsym(RTLD_DEFAULT, "dnnl_sgemm"));
    return e;
  }();
  return entries;
}

// ALRO_SGEMM, read once: the library every float32 product must use, or
// nullopt for the size rule.
std::optional<Library> ForcedLibrary() {
  static const std::optional<Library> forced = []() -> std::optional<Library> {
    const char* v = std::getenv("ALRO_SGEMM");
    if (v == nullptr || *v == '\0' || std::strcmp(v, "auto") == 0) return std::nullopt;
    if (std::strcmp(v, "cblas") == 0) return Library::kCblas;
    if (std::strcmp(v, "onednn") == 0) {
      if (Loaded().dnnl_sgemm == nullptr) {
        FatalError(
            "ALRO_SGEMM=onednn, but no oneDNN (dnnl_sgemm) is loaded in this process\n"
            "  HINT: unset ALRO_SGEMM, or use a LibTorch linked against a shared libdnnl (Debian's is)");
      }
      return Library::kOneDnn;
    }
    FatalError(absl::StrCat("ALRO_SGEMM=", v, " is not a gemm library\n",
                            "  HINT: use auto (the default), cblas or onednn"));
  }();
  return forced;
}

// CBLAS takes 32-bit dimensions.
int Int(int64_t v) {
  ALRO_CHECK(v >= 0 && v <= std::numeric_limits<int>::max(), "CBLAS gemm: dimension ", v,
             " exceeds CBLAS's 32-bit int");
  return static_cast<int>(v);
}

}  // namespace

bool Available() { return Loaded().sgemm != nullptr && Loaded().dgemm != nullptr; }

bool OneDnnAvailable() { return Loaded().dnnl_sgemm != nullptr; }

bool LibraryForced() { return ForcedLibrary().has_value(); }

Library FloatLibrary(int64_t m, int64_t n, int64_t k) {
  if (const std::optional<Library> forced = ForcedLibrary()) return *forced;
  return OneDnnAvailable() && m * n * k >= kOneDnnMinWork ? Library::kOneDnn : Library::kCblas;
}

std::string FloatLibrarySummary() {
  const std::optional<Library> forced = ForcedLibrary();
  if (forced) {
    return absl::StrCat(*forced == Library::kOneDnn ? "oneDNN sgemm" : "CBLAS sgemm",
                        " for every float32 product (ALRO_SGEMM)");
  }
  if (!OneDnnAvailable()) return "CBLAS sgemm for float32 products (no oneDNN loaded)";
  return absl::StrCat("oneDNN sgemm for float32 products of >= ", kOneDnnMinWork,
                      " multiply-adds, CBLAS below",
                      tile_gemm::Enabled() ? ", alro's tile kernels for attention heads of 16-64 dims"
                                           : " (ALRO_TILE_GEMM=0: attention on CBLAS too)",
                      " (ALRO_SGEMM=cblas|onednn forces one library; docs/performance.md)");
}

void GemmWith(Library library, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
              const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (library == Library::kOneDnn) {
    ALRO_CHECK(OneDnnAvailable(), "oneDNN gemm requested but dnnl_sgemm is not loaded");
    const int status = Loaded().dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb,
                                           beta, c, ldc);
    ALRO_CHECK(status == kDnnlSuccess, "dnnl_sgemm failed with dnnl_status_t ", status, " on ", m, " x ", n, " x ",
               k, " (lda ", lda, ", ldb ", ldb, ", ldc ", ldc, ")");
    return;
  }
  Loaded().sgemm(kRowMajor, trans_a ? kTrans : kNoTrans, trans_b ? kTrans : kNoTrans, Int(m), Int(n), Int(k), alpha,
                 a, Int(lda), b, Int(ldb), beta, c, Int(ldc));
}

void Gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  GemmWith(FloatLibrary(m, n, k), trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void Gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
          const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  Loaded().dgemm(kRowMajor, trans_a ? kTrans : kNoTrans, trans_b ? kTrans : kNoTrans, Int(m), Int(n), Int(k), alpha,
                 a, Int(lda), b, Int(ldb), beta, c, Int(ldc));
}

}  // namespace alro::core::cblas
