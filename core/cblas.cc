// core/cblas.cc: the CBLAS gemm entry points looked up in the running
// process (see cblas.h).
#include "core/cblas.h"

#include <dlfcn.h>

#include <limits>

#include "common/status.h"

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

struct Entries {
  SgemmFn sgemm = nullptr;
  DgemmFn dgemm = nullptr;
};

// RTLD_DEFAULT searches every library loaded at start.
const Entries& Loaded() {
  static const Entries entries = [] {
    Entries e;
    e.sgemm = reinterpret_cast<SgemmFn>(dlsym(RTLD_DEFAULT, "cblas_sgemm"));
    e.dgemm = reinterpret_cast<DgemmFn>(dlsym(RTLD_DEFAULT, "cblas_dgemm"));
    return e;
  }();
  return entries;
}

// CBLAS takes 32-bit dimensions.
int Int(int64_t v) {
  ALRO_CHECK(v >= 0 && v <= std::numeric_limits<int>::max(), "CBLAS gemm: dimension ", v,
             " exceeds CBLAS's 32-bit int");
  return static_cast<int>(v);
}

}  // namespace

bool Available() { return Loaded().sgemm != nullptr && Loaded().dgemm != nullptr; }

void Gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  Loaded().sgemm(kRowMajor, trans_a ? kTrans : kNoTrans, trans_b ? kTrans : kNoTrans, Int(m), Int(n), Int(k), alpha,
                 a, Int(lda), b, Int(ldb), beta, c, Int(ldc));
}

void Gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
          const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  Loaded().dgemm(kRowMajor, trans_a ? kTrans : kNoTrans, trans_b ? kTrans : kNoTrans, Int(m), Int(n), Int(k), alpha,
                 a, Int(lda), b, Int(ldb), beta, c, Int(ldc));
}

}  // namespace alro::core::cblas
