// tests/core/batched_matmul_test.cc: BatchedMatmul's direct CBLAS path
// against at::matmul in double (forward and both gradients), for every
// operand layout attention produces (contiguous, transposed views, batch
// dimensions with arbitrary strides), degenerate sizes, float32, and the
// fallback for dtypes it does not handle; gradients also against central
// finite differences.
#include "core/batched_matmul.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <vector>

namespace alro::core {
namespace {

// A [B1, B2, rows, cols] double tensor whose memory layout is chosen by
// `layout`: 0 contiguous, 1 the transpose of a contiguous [.., cols, rows],
// 2 batch dimensions interleaved with the rows (like k.transpose(1, 2) of
// [B, T, heads, D]), 3 every dimension strided (a slice of a bigger tensor).
at::Tensor MakeOperand(int64_t b1, int64_t b2, int64_t rows, int64_t cols, int layout, uint64_t seed) {
  at::manual_seed(seed);
  const at::TensorOptions f64 = at::TensorOptions().dtype(at::kDouble);
  switch (layout) {
    case 1:
      return at::randn({b1, b2, cols, rows}, f64).transpose(-1, -2);
    case 2:
      return at::randn({b1, rows, b2, cols}, f64).transpose(1, 2);
    case 3:
      return at::randn({b1, b2 * 2, rows * 3, cols * 2}, f64).slice(1, 0, b2 * 2, 2).slice(2, 0, rows * 3, 3)
          .slice(3, 0, cols * 2, 2);
    default:
      return at::randn({b1, b2, rows, cols}, f64);
  }
}

void ExpectMatchesMatmul(const at::Tensor& a0, const at::Tensor& b0) {
  const at::Tensor a = a0.detach().requires_grad_(), b = b0.detach().requires_grad_();
  const at::Tensor ar = a0.detach().requires_grad_(), br = b0.detach().requires_grad_();
  const at::Tensor c = BatchedMatmulDirect(a, b);
  const at::Tensor cr = at::matmul(ar, br);
  ASSERT_EQ(c.sizes(), cr.sizes());
  EXPECT_TRUE(at::allclose(c, cr, 1e-12, 1e-12)) << (c - cr).abs().max();
  const at::Tensor weights = at::randn(cr.sizes(), cr.options());
  (c * weights).sum().backward();
  (cr * weights).sum().backward();
  EXPECT_TRUE(at::allclose(a.grad(), ar.grad(), 1e-12, 1e-12)) << (a.grad() - ar.grad()).abs().max();
  EXPECT_TRUE(at::allclose(b.grad(), br.grad(), 1e-12, 1e-12)) << (b.grad() - br.grad()).abs().max();
}

TEST(BatchedMatmul, EveryOperandLayoutMatchesMatmulForwardAndBackward) {
  if (!CblasGemmAvailable()) GTEST_SKIP() << "no CBLAS gemm loaded in this process";
  for (int la = 0; la < 4; ++la) {
    for (int lb = 0; lb < 4; ++lb) {
      SCOPED_TRACE(testing::Message() << "layout a " << la << ", b " << lb);
      ExpectMatchesMatmul(MakeOperand(3, 2, 5, 4, la, 1), MakeOperand(3, 2, 4, 6, lb, 2));
    }
  }
}

TEST(BatchedMatmul, DegenerateSizes) {
  if (!CblasGemmAvailable()) GTEST_SKIP() << "no CBLAS gemm loaded in this process";
  const int64_t sizes[][3] = {{1, 1, 1}, {1, 7, 3}, {4, 1, 3}, {4, 3, 1}, {2, 2, 2}};
  for (const auto& s : sizes) {
    for (int la = 0; la < 2; ++la) {
      SCOPED_TRACE(testing::Message() << "m " << s[0] << " k " << s[1] << " n " << s[2] << " layout " << la);
      ExpectMatchesMatmul(MakeOperand(2, 3, s[0], s[1], la, 3), MakeOperand(2, 3, s[1], s[2], 1 - la, 4));
    }
  }
  // An empty contraction gives zeros, an empty batch an empty result.
  const at::Tensor zeros = BatchedMatmulDirect(at::ones({2, 3, 0}, at::kDouble), at::ones({2, 0, 4}, at::kDouble));
  EXPECT_TRUE(zeros.eq(0).all().item<bool>());
  EXPECT_EQ(BatchedMatmulDirect(at::ones({0, 3, 2}), at::ones({0, 2, 4})).sizes(), (std::vector<int64_t>{0, 3, 4}));
}

// Element `flat` (row-major order) of `t` as a 0-d view, whatever t's strides.
at::Tensor Element(at::Tensor t, int64_t flat) {
  std::vector<int64_t> index(static_cast<size_t>(t.dim()));
  for (int64_t d = t.dim() - 1; d >= 0; --d) {
    index[static_cast<size_t>(d)] = flat % t.size(d);
    flat /= t.size(d);
  }
  for (int64_t i : index) t = t.select(0, i);
  return t;
}

TEST(BatchedMatmul, GradientsMatchFiniteDifferences) {
  if (!CblasGemmAvailable()) GTEST_SKIP() << "no CBLAS gemm loaded in this process";
  const at::Tensor a = MakeOperand(2, 2, 3, 4, 2, 5).detach().requires_grad_();
  const at::Tensor b = MakeOperand(2, 2, 4, 3, 1, 6).detach().requires_grad_();
  const at::Tensor w = at::randn({2, 2, 3, 3}, at::kDouble);
  const auto loss = [&](const at::Tensor& x, const at::Tensor& y) {
    return (BatchedMatmulDirect(x, y).pow(2) * w).sum();  // nonlinear in the product
  };
  loss(a, b).backward();
  constexpr double kStep = 1e-6;
  for (const at::Tensor* input : {&a, &b}) {
    const at::Tensor flat_grad = input->grad().reshape({-1});
    for (int64_t i = 0; i < input->numel(); i += 5) {
      at::Tensor plus = input->detach().clone(), minus = input->detach().clone();
      Element(plus, i) += kStep;  // in place, keeping the operand's strided layout
      Element(minus, i) -= kStep;
      const double numeric = input == &a ? (loss(plus, b) - loss(minus, b)).item<double>() / (2 * kStep)
                                         : (loss(a, plus) - loss(a, minus)).item<double>() / (2 * kStep);
      EXPECT_NEAR(flat_grad[i].item<double>(), numeric, 1e-6 * (1 + std::abs(numeric))) << "element " << i;
    }
  }
}

TEST(BatchedMatmul, Float32AndTheFallbackAgreeWithMatmul) {
  const at::Tensor a = at::randn({4, 2, 9, 16}), b = at::randn({4, 2, 7, 16}).transpose(-1, -2);
  // float32: the BLAS's summation order may differ from ATen's.
  EXPECT_TRUE(at::allclose(BatchedMatmul(a, b), at::matmul(a, b), 1e-5, 1e-5));
  // bf16 is not handled directly: it is at::matmul, bit for bit.
  const at::Tensor a16 = a.to(at::kBFloat16), b16 = b.to(at::kBFloat16);
  EXPECT_TRUE(at::equal(BatchedMatmul(a16, b16), at::matmul(a16, b16)));
}

}  // namespace
}  // namespace alro::core
