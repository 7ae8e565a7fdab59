// tests/core/batched_matmul_test.cc: BatchedMatmul's direct CBLAS path
// against at::matmul in double (forward and both gradients), for every
// operand layout attention produces (contiguous, transposed views, batch
// dimensions with arbitrary strides), degenerate sizes, float32, and the
// fallback for dtypes it does not handle; gradients also against central
// finite differences. LinearProduct (a linear layer's x @ W^T) against
// at::matmul on both sides of oneDNN's size threshold, and the two float32
// gemm libraries (core/cblas.h) against a double brute force.
#include "core/batched_matmul.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <vector>

#include "core/cblas.h"

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

// x [.., K] @ w^T through LinearProduct against at::matmul in double on the
// same values: forward, both gradients, and w's gradient in w's own layout
// (it accumulates into contiguous gradient buckets).
TEST(LinearProduct, MatchesMatmulForwardAndBackward) {
  if (!CblasGemmAvailable()) GTEST_SKIP() << "no CBLAS gemm loaded in this process";
  struct Case {
    std::vector<int64_t> x_shape;
    int64_t out;
    at::ScalarType dtype;
    bool strided_x;  // x as a transposed view (not dense in its last dim)
  };
  // 4 x 300 rows x 64 -> 176 is above cblas::kOneDnnMinWork (oneDNN where
  // loaded); 2 x 9 x 16 -> 8 below it (CBLAS).
  const Case cases[] = {{{3, 5, 8}, 6, at::kDouble, false}, {{7, 8}, 6, at::kDouble, true},
                        {{4, 300, 64}, 176, at::kFloat, false}, {{4, 300, 64}, 176, at::kFloat, true},
                        {{2, 9, 16}, 8, at::kFloat, false}, {{64}, 5, at::kFloat, false}};
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << "x " << c10::str(c.x_shape) << " out " << c.out << " "
                                    << c10::toString(c.dtype) << (c.strided_x ? " strided" : ""));
    at::manual_seed(11);
    const at::TensorOptions options = at::TensorOptions().dtype(c.dtype);
    at::Tensor x0 = at::randn(c.x_shape, options);
    if (c.strided_x) {  // the features dimension stored first, then moved last
      x0 = x0.movedim(-1, 0).contiguous().movedim(0, -1);
      ASSERT_FALSE(x0.is_contiguous());
    }
    const at::Tensor w0 = at::randn({c.out, c.x_shape.back()}, options);
    const at::Tensor x = x0.detach().requires_grad_(), w = w0.detach().requires_grad_();
    const at::Tensor xr = x0.to(at::kDouble).requires_grad_(), wr = w0.to(at::kDouble).requires_grad_();
    const at::Tensor y = LinearProduct(x, w);
    const at::Tensor yr = at::matmul(xr, wr.t());
    ASSERT_EQ(y.sizes(), yr.sizes());
    const double tol = c.dtype == at::kDouble ? 1e-12 : 1e-4;
    EXPECT_TRUE(at::allclose(y.to(at::kDouble), yr, tol, tol)) << (y.to(at::kDouble) - yr).abs().max();
    const at::Tensor weights = at::randn(yr.sizes(), yr.options());
    // autograd::grad returns the gradients as the backward made them (no
    // AccumulateGrad re-layout), so w's layout is checked as produced.
    const torch::autograd::variable_list grads = torch::autograd::grad({(y * weights.to(c.dtype)).sum()}, {x, w});
    (yr * weights).sum().backward();
    EXPECT_TRUE(at::allclose(grads[0].to(at::kDouble), xr.grad(), tol, tol))
        << (grads[0].to(at::kDouble) - xr.grad()).abs().max();
    EXPECT_TRUE(at::allclose(grads[1].to(at::kDouble), wr.grad(), tol, tol))
        << (grads[1].to(at::kDouble) - wr.grad()).abs().max();
    // A direct product (more than one row) hands w its gradient row-major.
    if (c.x_shape.size() > 1) EXPECT_TRUE(grads[1].is_contiguous()) << c10::str(grads[1].strides());
  }
}

// LinearProducts (q, k and v from one x) against separate at::matmul in
// double: outputs, x's summed gradient and each weight's; an output whose
// gradient never arrives (it is not used); a gradient arriving as a
// transposed view (v's, through attention's heads-first view).
TEST(LinearProducts, MatchSeparateMatmulsForwardAndBackward) {
  if (!CblasGemmAvailable()) GTEST_SKIP() << "no CBLAS gemm loaded in this process";
  struct Case {
    at::ScalarType dtype;
    std::vector<int64_t> outs;
    int unused;  // index of the output left out of the loss, -1 for none
  };
  // 4 x 300 rows x 64 -> 64/32/32 goes to oneDNN where loaded; 2 x 9 x 16 to CBLAS.
  // bf16 goes through ATen's mm and addmm_ instead.
  const Case cases[] = {{at::kDouble, {6, 4, 4}, -1},      {at::kFloat, {64, 32, 32}, -1},
                        {at::kFloat, {176, 176}, -1},       {at::kDouble, {6, 4, 4}, 1},
                        {at::kFloat, {8, 8}, 0},            {at::kBFloat16, {64, 32, 32}, -1},
                        {at::kBFloat16, {8, 8}, 1}};
  // Largest |a - b| over the largest |b|.
  const auto rel = [](const at::Tensor& a, const at::Tensor& b) {
    return (a.to(at::kDouble) - b).abs().max().item<double>() / std::max(1e-3, b.abs().max().item<double>());
  };
  for (const Case& c : cases) {
    const bool big = c.outs[0] >= 32;
    const std::vector<int64_t> x_shape = big ? std::vector<int64_t>{4, 300, 64} : std::vector<int64_t>{2, 9, 16};
    SCOPED_TRACE(testing::Message() << c10::toString(c.dtype) << " outs " << c10::str(c.outs) << " unused "
                                    << c.unused);
    at::manual_seed(17);
    const at::TensorOptions options = at::TensorOptions().dtype(c.dtype);
    const at::Tensor x = at::randn(x_shape, options).requires_grad_();
    const at::Tensor xr = x.detach().to(at::kDouble).requires_grad_();
    std::vector<at::Tensor> ws, wrs;
    for (int64_t n : c.outs) {
      ws.push_back(at::randn({n, x_shape.back()}, options).requires_grad_());
      wrs.push_back(ws.back().detach().to(at::kDouble).requires_grad_());
    }
    const std::vector<at::Tensor> ys = LinearProducts(x, ws);
    ASSERT_EQ(ys.size(), ws.size());
    // bf16: the product rounded once to bf16 (2^-8 relative), and the
    // incoming gradients of the loss rounded to bf16 too.
    const double tol = c.dtype == at::kDouble ? 1e-12 : c.dtype == at::kFloat ? 1e-5 : 2e-2;
    at::Tensor loss = at::zeros({}, at::kDouble), loss_ref = at::zeros({}, at::kDouble);
    for (size_t i = 0; i < ws.size(); ++i) {
      const at::Tensor yr = at::matmul(xr, wrs[i].t());
      EXPECT_LE(rel(ys[i], yr), tol) << "output " << i;
      if (static_cast<int>(i) == c.unused) continue;
      // The last output's probe multiplies a transposed view, so its
      // gradient reaches LinearProducts as a non-contiguous tensor.
      const at::Tensor probe = at::randn(yr.sizes(), at::kDouble);
      const bool view = i + 1 == ws.size();
      const at::Tensor y = view ? ys[i].transpose(0, 1) : ys[i];
      const at::Tensor p = view ? probe.transpose(0, 1) : probe;
      loss = loss + (y.to(at::kDouble) * p).sum();
      loss_ref = loss_ref + (yr * probe).sum();
    }
    std::vector<at::Tensor> inputs{x};
    inputs.insert(inputs.end(), ws.begin(), ws.end());
    const torch::autograd::variable_list grads =
        torch::autograd::grad({loss}, inputs, {}, c10::nullopt, false, /*allow_unused=*/true);
    loss_ref.backward();
    EXPECT_LE(rel(grads[0], xr.grad()), tol) << "x";
    for (size_t i = 0; i < ws.size(); ++i) {
      if (static_cast<int>(i) == c.unused) {
        EXPECT_FALSE(grads[i + 1].defined() && grads[i + 1].abs().max().item<double>() != 0) << "weight " << i;
        continue;
      }
      EXPECT_LE(rel(grads[i + 1], wrs[i].grad()), tol) << "weight " << i;
    }
  }
}

// Both float32 libraries against a double brute force, every transpose,
// padded leading dimensions, alpha and an accumulating beta.
TEST(Gemm, BothFloatLibrariesMatchDoubleBruteForce) {
  if (!cblas::Available()) GTEST_SKIP() << "no CBLAS gemm loaded in this process";
  std::vector<cblas::Library> libraries = {cblas::Library::kCblas};
  if (cblas::OneDnnAvailable()) libraries.push_back(cblas::Library::kOneDnn);
  const int64_t shapes[][3] = {{37, 29, 23}, {300, 200, 64}, {1, 5, 3}};
  constexpr int64_t kPad = 3;  // elements after each stored row
  for (cblas::Library library : libraries) {
    for (const auto& s : shapes) {
      for (int t = 0; t < 4; ++t) {
        const bool ta = t & 1, tb = t & 2;
        const int64_t m = s[0], n = s[1], k = s[2];
        SCOPED_TRACE(testing::Message() << (library == cblas::Library::kOneDnn ? "oneDNN" : "CBLAS") << " m " << m
                                        << " n " << n << " k " << k << " ta " << ta << " tb " << tb);
        // Stored shapes: A is m x k (k x m when transposed), B k x n (n x k).
        const int64_t a_rows = ta ? k : m, a_cols = ta ? m : k, b_rows = tb ? n : k, b_cols = tb ? k : n;
        at::manual_seed(m * 7 + t);
        const at::Tensor a = at::randn({a_rows, a_cols + kPad}), b = at::randn({b_rows, b_cols + kPad});
        const at::Tensor c0 = at::randn({m, n + kPad});
        at::Tensor c = c0.clone();
        cblas::GemmWith(library, ta, tb, m, n, k, 0.5f, a.data_ptr<float>(), a_cols + kPad, b.data_ptr<float>(),
                        b_cols + kPad, 1.5f, c.data_ptr<float>(), n + kPad);
        const auto av = a.accessor<float, 2>(), bv = b.accessor<float, 2>();
        const auto cv = c.accessor<float, 2>(), c0v = c0.accessor<float, 2>();
        double worst = 0;
        for (int64_t i = 0; i < m; ++i) {
          for (int64_t j = 0; j < n; ++j) {
            double sum = 0;
            for (int64_t p = 0; p < k; ++p) {
              sum += double(ta ? av[p][i] : av[i][p]) * double(tb ? bv[j][p] : bv[p][j]);
            }
            const double expected = 0.5 * sum + 1.5 * double(c0v[i][j]);
            worst = std::max(worst, std::abs(double(cv[i][j]) - expected) / (1 + std::abs(expected)));
          }
        }
        EXPECT_LT(worst, 1e-5);
        // The padding after each row of C is not written.
        EXPECT_TRUE(at::equal(c.slice(1, n), c0.slice(1, n)));
      }
    }
  }
}

TEST(Gemm, FloatProductsGoToOneDnnFromTheThreshold) {
  if (std::getenv("ALRO_SGEMM") != nullptr) GTEST_SKIP() << "ALRO_SGEMM forces a library";
  EXPECT_EQ(cblas::FloatLibrary(55, 55, 16), cblas::Library::kCblas);
  const cblas::Library large = cblas::OneDnnAvailable() ? cblas::Library::kOneDnn : cblas::Library::kCblas;
  EXPECT_EQ(cblas::FloatLibrary(1024, 64, 16), large);  // exactly kOneDnnMinWork
  EXPECT_EQ(cblas::FloatLibrary(1024, 64, 15), cblas::Library::kCblas);
}

}  // namespace
}  // namespace alro::core
