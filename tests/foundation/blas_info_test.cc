// tests/foundation/blas_info_test.cc: when the plan advises another OpenBLAS
// kernel set (launch/blas_info.h's BlasCoreAdvice), against CPU flag sets
// written out by hand.
#include "launch/blas_info.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace alro::launch {
namespace {

const std::set<std::string> kAvx512Cpu = {"avx2", "fma", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"};
const std::set<std::string> kAvx2Cpu = {"avx2", "fma"};

TEST(BlasCoreAdvice, OlderKernelsOnAnAvx512CpuGetTheHint) {
  for (const char* core : {"Haswell", "Zen", "Prescott", "Sandybridge"}) {
    const std::string advice = BlasCoreAdvice(core, kAvx512Cpu);
    EXPECT_NE(advice.find(std::string("its ") + core + " kernels"), std::string::npos) << advice;
    EXPECT_NE(advice.find("HINT: set OPENBLAS_CORETYPE=SkylakeX"), std::string::npos) << advice;
  }
}

TEST(BlasCoreAdvice, NoHintWhereTheKernelsFitTheCpu) {
  for (const char* core : {"SkylakeX", "COOPERLAKE", "SapphireRapids"}) {
    EXPECT_EQ(BlasCoreAdvice(core, kAvx512Cpu), "") << core;
  }
  EXPECT_EQ(BlasCoreAdvice("Haswell", kAvx2Cpu), "");  // AVX2 is the best this CPU runs
  std::set<std::string> partial = kAvx512Cpu;
  partial.erase("avx512bw");  // SkylakeX kernels would not run (e.g. Xeon Phi)
  EXPECT_EQ(BlasCoreAdvice("Haswell", partial), "");
  EXPECT_EQ(BlasCoreAdvice("", kAvx512Cpu), "");  // not OpenBLAS
}

}  // namespace
}  // namespace alro::launch
