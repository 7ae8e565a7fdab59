// tests/core/fused_ops_test.cc: each fused CPU kernel of core/fused_ops.h
// (and the tiled attention of core/fused_attention.cc)
// against its composite ATen form, forward and backward: float32 within
// float rounding, double within double rounding, bf16 within bf16 rounding;
// gradients in double against central finite differences; and the kernels'
// multi-threaded reductions against one thread.
#include <gtest/gtest.h>

#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <random>
#include <limits>
#include <cmath>
#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "core/fused_math.h"
#include "core/fused_ops.h"

namespace alro::core {
namespace {

using Op = std::function<at::Tensor(const std::vector<at::Tensor>&)>;

// Output and input gradients of sum(op(inputs) * probe).
struct Result {
  at::Tensor out;
  std::vector<at::Tensor> grads;
};

Result Run(const Op& op, const std::vector<at::Tensor>& inputs, const at::Tensor& probe) {
  std::vector<at::Tensor> leaves;
  for (const at::Tensor& t : inputs) {
    leaves.push_back(t.is_floating_point() ? t.detach().clone().requires_grad_(true) : t);
  }
  const at::Tensor out = op(leaves);
  std::vector<at::Tensor> diff;
  for (const at::Tensor& t : leaves) {
    if (t.requires_grad()) diff.push_back(t);
  }
  const auto grads = torch::autograd::grad({(out.to(at::kDouble) * probe).sum()}, diff);
  return {out.detach(), std::vector<at::Tensor>(grads.begin(), grads.end())};
}

// Largest |a - b| relative to the largest |b| (at least 1e-3), in double.
double RelDiff(const at::Tensor& a, const at::Tensor& b) {
  const at::Tensor bd = b.to(at::kDouble);
  const double scale = std::max(1e-3, bd.abs().max().item<double>());
  return (a.to(at::kDouble) - bd).abs().max().item<double>() / scale;
}

void ExpectClose(const Op& fused, const Op& composite, const std::vector<at::Tensor>& inputs, double tol,
                 const char* what) {
  at::manual_seed(11);
  const at::Tensor probe = at::randn(fused(inputs).sizes(), at::kDouble);
  const Result a = Run(fused, inputs, probe), b = Run(composite, inputs, probe);
  EXPECT_EQ(a.out.scalar_type(), b.out.scalar_type()) << what;
  EXPECT_LE(RelDiff(a.out, b.out), tol) << what << ": forward";
  ASSERT_EQ(a.grads.size(), b.grads.size());
  for (size_t i = 0; i < a.grads.size(); ++i) {
    EXPECT_EQ(a.grads[i].scalar_type(), b.grads[i].scalar_type()) << what << ": input " << i;
    EXPECT_LE(RelDiff(a.grads[i], b.grads[i]), tol) << what << ": gradient of input " << i;
  }
}

// The analytic gradient of sum(op * probe) in double against central
// differences at every entry of every floating input (inputs kept small).
void ExpectFiniteDifferences(const Op& op, const std::vector<at::Tensor>& inputs) {
  at::manual_seed(12);
  const at::Tensor probe = at::randn(op(inputs).sizes(), at::kDouble);
  const Result analytic = Run(op, inputs, probe);
  const double h = 1e-6;
  size_t g = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].is_floating_point()) continue;
    const at::Tensor grad = analytic.grads[g++].reshape({-1});
    for (int64_t j = 0; j < inputs[i].numel(); ++j) {
      std::vector<at::Tensor> plus = inputs, minus = inputs;
      plus[i] = inputs[i].clone();
      minus[i] = inputs[i].clone();
      plus[i].view({-1})[j] += h;
      minus[i].view({-1})[j] -= h;
      const double numeric =
          ((op(plus) * probe).sum().item<double>() - (op(minus) * probe).sum().item<double>()) / (2 * h);
      EXPECT_NEAR(grad[j].item<double>(), numeric, 1e-6 * std::max(1.0, std::abs(numeric)))
          << "input " << i << " entry " << j;
    }
  }
}

// RMSNorm in double: the composite casts to float32 (as Hugging Face does),
// so the double reference is the same formula kept in double.
at::Tensor RmsNormDouble(const at::Tensor& x, const at::Tensor& w, double eps) {
  return x * at::rsqrt(x.pow(2).mean(-1, true) + eps) * w;
}

TEST(FusedOps, RmsNormMatchesCompositeInFloat32) {
  at::manual_seed(1);
  for (int64_t h : {64, 37}) {
    const at::Tensor x = at::randn({3, 50, h}) * 3, w = at::randn({h});
    ExpectClose([](const auto& in) { return RmsNormFused(in[0], in[1], 1e-5); },
                [](const auto& in) { return RmsNormComposite(in[0], in[1], 1e-5); }, {x, w}, 2e-6, "rms_norm f32");
  }
}

// Widths that are no multiple of any clone's vector width (4, 8, 16 floats)
// exercise the loops' tails; 1 leaves no vector at all.
constexpr int64_t kOddWidths[] = {1, 7, 55, 129};

TEST(FusedOps, RmsNormMatchesCompositeAtOddWidths) {
  at::manual_seed(13);
  for (int64_t h : kOddWidths) {
    const at::Tensor x = at::randn({3, 11, h}) * 3, w = at::randn({h});
    const std::string what = "rms_norm width " + std::to_string(h);
    // At width 1, dx = g r (1 - x^2 r^2) = g r eps / (x^2 + eps): both forms
    // get it by cancellation, ill-conditioned for a tiny eps; a large eps
    // keeps width 1 a test of the kernel rather than of the cancellation.
    const double eps = h == 1 ? 0.5 : 1e-5;
    ExpectClose([eps](const auto& in) { return RmsNormFused(in[0], in[1], eps); },
                [eps](const auto& in) { return RmsNormComposite(in[0], in[1], eps); }, {x, w}, 2e-6,
                (what + " f32").c_str());
    ExpectClose([eps](const auto& in) { return RmsNormFused(in[0], in[1], eps); },
                [eps](const auto& in) { return RmsNormDouble(in[0], in[1], eps); },
                {x.to(at::kDouble), w.to(at::kDouble)}, 1e-13, (what + " f64").c_str());
  }
}

TEST(FusedOps, SwiGluMatchesCompositeAtOddWidths) {
  at::manual_seed(14);
  const Op fused = [](const auto& in) { return SwiGluFused(in[0], in[1]); };
  const Op composite = [](const auto& in) { return SwiGluComposite(in[0], in[1]); };
  for (int64_t n : kOddWidths) {
    const at::Tensor g = at::randn({3, n}) * 4, u = at::randn({3, n});
    const std::string what = "swiglu width " + std::to_string(n);
    ExpectClose(fused, composite, {g, u}, 2e-6, (what + " f32").c_str());
    ExpectClose(fused, composite, {g.to(at::kDouble), u.to(at::kDouble)}, 1e-13, (what + " f64").c_str());
  }
}

TEST(FusedOps, RmsNormMatchesDoubleReferenceAndFiniteDifferences) {
  at::manual_seed(2);
  const at::Tensor x = at::randn({4, 33}, at::kDouble), w = at::randn({33}, at::kDouble);
  ExpectClose([](const auto& in) { return RmsNormFused(in[0], in[1], 1e-5); },
              [](const auto& in) { return RmsNormDouble(in[0], in[1], 1e-5); }, {x, w}, 1e-13, "rms_norm f64");
  ExpectFiniteDifferences([](const auto& in) { return RmsNormFused(in[0], in[1], 1e-5); },
                          {x.narrow(0, 0, 2).contiguous(), w});
}

// The kernels store bf16 through fused_math::RoundTo, a branch-free copy of
// c10::BFloat16's rounding: it must give c10's bits for every float. Every
// sign, exponent and leading mantissa (the 2^16 upper halves) with lower
// halves at the rounding boundaries (ties to even and odd, one either side)
// and a few others: zeros, subnormals, infinities, every NaN class.
TEST(FusedOps, RoundToBfloat16GivesC10sBitsForEveryFloatClass) {
  const uint32_t lower_halves[] = {0x0000, 0x0001, 0x7FFF, 0x8000, 0x8001, 0xFFFF, 0x1234, 0xC0DE};
  int64_t mismatches = 0;
  for (uint32_t upper = 0; upper <= 0xFFFF; ++upper) {
    for (const uint32_t lower : lower_halves) {
      const uint32_t bits = (upper << 16) | lower;
      float f;
      std::memcpy(&f, &bits, sizeof(f));
      const uint16_t ours = fused_math::RoundTo<c10::BFloat16>(f).x, c10s = c10::BFloat16(f).x;
      if (ours != c10s && ++mismatches <= 5) {
        ADD_FAILURE() << "float bits 0x" << std::hex << bits << ": RoundTo gives 0x" << ours << ", c10 0x" << c10s;
      }
    }
  }
  EXPECT_EQ(mismatches, 0);
  EXPECT_EQ(fused_math::RoundTo<float>(1.5), 1.5f);
}

TEST(FusedOps, RmsNormMatchesCompositeInBfloat16) {
  at::manual_seed(3);
  const at::Tensor x = (at::randn({6, 40, 64}) * 2).to(at::kBFloat16), w = at::randn({64});
  // bf16 rounding of the output (2^-8) and of the composite's intermediate
  // gradients; the statistics are float32 in both.
  ExpectClose([](const auto& in) { return RmsNormFused(in[0], in[1], 1e-5); },
              [](const auto& in) { return RmsNormComposite(in[0], in[1], 1e-5); }, {x, w}, 2e-2, "rms_norm bf16");
}

// ResidualRmsNorm's two outputs as one tensor, so that ExpectClose probes
// both: the stream carried on and its normalised value. The reference in
// double keeps RmsNormDouble's arithmetic (the composite's is float32).
Op ResidualNormOp(bool fused, bool with_delta, double eps = 1e-5) {
  return [fused, with_delta, eps](const std::vector<at::Tensor>& in) {
    const at::Tensor delta = with_delta ? in[2] : at::Tensor();
    if (fused) {
      const ResidualNormed r = ResidualRmsNormFused(in[0], delta, in[1], eps);
      return at::cat({r.sum, r.normed}, -1);
    }
    const ResidualNormed r = ResidualRmsNormComposite(in[0], delta, in[1], eps);
    const at::Tensor normed =
        in[0].scalar_type() == at::kDouble ? RmsNormDouble(r.sum, in[1], eps) : r.normed;
    return at::cat({r.sum, normed}, -1);
  };
}

// The stream's gradient is summed inside the fused backward; the composite
// leaves it to autograd. Both outputs are probed, so x's gradient is the sum
// of the two paths, and delta's equals it.
TEST(FusedOps, ResidualRmsNormMatchesComposite) {
  at::manual_seed(21);
  for (int64_t h : {64, 37, 1}) {
    const double eps = h == 1 ? 0.5 : 1e-5;  // see RmsNormMatchesCompositeAtOddWidths
    const at::Tensor x = at::randn({3, 20, h}) * 3, w = at::randn({h}), d = at::randn({3, 20, h});
    for (bool with_delta : {true, false}) {
      const std::string what = "residual rms_norm width " + std::to_string(h) + (with_delta ? "" : " no delta");
      std::vector<at::Tensor> in{x, w};
      if (with_delta) in.push_back(d);
      ExpectClose(ResidualNormOp(true, with_delta, eps), ResidualNormOp(false, with_delta, eps), in, 2e-6,
                  (what + " f32").c_str());
      std::vector<at::Tensor> in64;
      for (const at::Tensor& t : in) in64.push_back(t.to(at::kDouble));
      ExpectClose(ResidualNormOp(true, with_delta, eps), ResidualNormOp(false, with_delta, eps), in64, 1e-13,
                  (what + " f64").c_str());
      std::vector<at::Tensor> in16{in[0].to(at::kBFloat16), in[1]};
      if (with_delta) in16.push_back(in[2].to(at::kBFloat16));
      // One rounding of x's gradient instead of the composite's two (the
      // norm's, then the sum's): bf16 tolerance.
      ExpectClose(ResidualNormOp(true, with_delta, eps), ResidualNormOp(false, with_delta, eps), in16, 2e-2,
                  (what + " bf16").c_str());
    }
  }
  const at::Tensor x = at::randn({2, 9}, at::kDouble), w = at::randn({9}, at::kDouble),
                   d = at::randn({2, 9}, at::kDouble);
  ExpectFiniteDifferences(ResidualNormOp(true, true), {x, w, d});
  ExpectFiniteDifferences(ResidualNormOp(true, false), {x, w});
}

// Either output unused (its gradient never arrives): the other path alone.
TEST(FusedOps, ResidualRmsNormWithOneOutputUnused) {
  at::manual_seed(22);
  const at::Tensor x0 = at::randn({4, 33}, at::kDouble), w0 = at::randn({33}, at::kDouble),
                   d0 = at::randn({4, 33}, at::kDouble);
  for (int used : {0, 1}) {
    std::vector<at::Tensor> grads[2];
    for (bool fused : {true, false}) {
      const at::Tensor x = x0.clone().requires_grad_(true), w = w0.clone().requires_grad_(true),
                       d = d0.clone().requires_grad_(true);
      // The reference in double: the add, then RmsNormDouble.
      const ResidualNormed r = fused ? ResidualRmsNormFused(x, d, w, 1e-5)
                                     : ResidualNormed{x + d, RmsNormDouble(x + d, w, 1e-5)};
      const at::Tensor out = used == 0 ? r.sum : r.normed;
      const auto g =
          torch::autograd::grad({(out * out).sum()}, {x, w, d}, {}, c10::nullopt, false, /*allow_unused=*/true);
      grads[fused ? 0 : 1].assign(g.begin(), g.end());
    }
    for (size_t i = 0; i < 3; ++i) {
      const std::string what = "output " + std::to_string(used) + " used, input " + std::to_string(i);
      ASSERT_EQ(grads[0][i].defined(), grads[1][i].defined()) << what;
      if (grads[0][i].defined()) EXPECT_LE(RelDiff(grads[0][i], grads[1][i]), 1e-13) << what;
    }
  }
}

TEST(FusedOps, RmsNormWeightGradientIsTheSameOnTwoThreads) {
  at::manual_seed(4);
  const at::Tensor x = at::randn({8, 512, 64}), w = at::randn({64});
  const int threads = at::get_num_threads();
  at::set_num_threads(2);
  ExpectClose([](const auto& in) { return RmsNormFused(in[0], in[1], 1e-5); },
              [](const auto& in) { return RmsNormComposite(in[0], in[1], 1e-5); }, {x, w}, 2e-6,
              "rms_norm f32, 2 threads");
  at::set_num_threads(threads);
}

TEST(FusedOps, SwiGluMatchesCompositeAndFiniteDifferences) {
  at::manual_seed(5);
  const at::Tensor g = at::randn({4, 30, 44}) * 3, u = at::randn({4, 30, 44});
  const Op fused = [](const auto& in) { return SwiGluFused(in[0], in[1]); };
  const Op composite = [](const auto& in) { return SwiGluComposite(in[0], in[1]); };
  ExpectClose(fused, composite, {g, u}, 2e-6, "swiglu f32");
  ExpectClose(fused, composite, {g.to(at::kDouble), u.to(at::kDouble)}, 1e-13, "swiglu f64");
  ExpectClose(fused, composite, {g.to(at::kBFloat16), u.to(at::kBFloat16)}, 2e-2, "swiglu bf16");
  ExpectFiniteDifferences(fused, {g.narrow(1, 0, 2).to(at::kDouble), u.narrow(1, 0, 2).to(at::kDouble)});
}

// A random [B, T, S] mask that leaves at least one key per query.
at::Tensor RandomMask(int64_t b, int64_t t, int64_t s) {
  at::Tensor mask = at::rand({b, t, s}) < 0.5;
  mask.select(2, 0).fill_(false);
  return mask;
}

at::Tensor Causal(int64_t t, int64_t start) {
  return at::arange(start + t).unsqueeze(0) > at::arange(start, start + t).unsqueeze(1);
}

TEST(FusedOps, MaskedSoftmaxMatchesCompositeCausalAndPerRow) {
  at::manual_seed(6);
  const int64_t b = 3, kv = 2, group = 2, t = 17, d = 16;
  const Op fused = [d](const auto& in) { return MaskedSoftmaxFused(in[0], in[1], d); };
  const Op composite = [d](const auto& in) { return MaskedSoftmaxComposite(in[0], in[1], d); };
  // Causal over a longer key range (decoding after a prefix of 5).
  const at::Tensor scores = at::randn({b, kv, group * t, t + 5}) * 8;
  ExpectClose(fused, composite, {scores, Causal(t, 5)}, 2e-6, "causal f32");
  ExpectClose(fused, composite, {scores.to(at::kDouble), Causal(t, 5)}, 1e-13, "causal f64");
  // Per-row masks (packed and tree-shaped rows).
  const at::Tensor square = at::randn({b, kv, group * t, t}) * 8;
  const at::Tensor mask = RandomMask(b, t, t);
  ExpectClose(fused, composite, {square, mask}, 2e-6, "per-row f32");
  ExpectClose(fused, composite, {square.to(at::kDouble), mask}, 1e-13, "per-row f64");
  ExpectFiniteDifferences(fused, {at::randn({2, 1, 2 * 3, 4}, at::kDouble), RandomMask(2, 3, 4)});
}

TEST(FusedOps, MaskedSoftmaxMatchesCompositeAtOddWidths) {
  at::manual_seed(15);
  const int64_t d = 32;  // sqrt(32) is inexact: the kernel's 1/sqrt(d) product differs from the division by 1 ulp
  const Op fused = [d](const auto& in) { return MaskedSoftmaxFused(in[0], in[1], d); };
  const Op composite = [d](const auto& in) { return MaskedSoftmaxComposite(in[0], in[1], d); };
  for (int64_t s : kOddWidths) {
    const std::string what = "width " + std::to_string(s);
    // Causal, the queries being the last t keys (spans of every length up to s).
    const int64_t t = std::min<int64_t>(s, 9);
    const at::Tensor causal_scores = at::randn({2, 2, 2 * t, s}) * 8;
    const at::Tensor causal = Causal(t, s - t);
    ExpectClose(fused, composite, {causal_scores, causal}, 2e-6, (what + " causal f32").c_str());
    ExpectClose(fused, composite, {causal_scores.to(at::kDouble), causal}, 1e-13, (what + " causal f64").c_str());
    // Per-row random masks: holes inside the spans, spans not starting at 0.
    at::Tensor mask = at::rand({2, t, s}) < 0.4;
    mask.select(2, s - 1).fill_(false);
    const at::Tensor scores = at::randn({2, 3, t, s}) * 8;
    ExpectClose(fused, composite, {scores, mask}, 2e-6, (what + " per-row f32").c_str());
    ExpectClose(fused, composite, {scores.to(at::kDouble), mask}, 1e-13, (what + " per-row f64").c_str());
  }
}

// A row with every key masked: NaN probabilities (the composite's softmax of
// all -inf) and gradient 0 (masked_fill's backward), in both forms; the
// other rows as usual.
TEST(FusedOps, MaskedSoftmaxFullyMaskedRowMatchesComposite) {
  at::manual_seed(16);
  for (int64_t s : {7, 55}) {
    for (at::ScalarType dtype : {at::kFloat, at::kDouble}) {
      const std::string what = "width " + std::to_string(s) + (dtype == at::kFloat ? " f32" : " f64");
      at::Tensor mask = at::rand({2, 5, s}) < 0.5;
      mask.select(2, 0).fill_(false);
      mask[1][3].fill_(true);  // batch 1, query 3: every key masked
      const at::Tensor scores = (at::randn({2, 2, 5, s}) * 8).to(dtype);
      const at::Tensor probe = at::randn({2, 2, 5, s}, at::kDouble);
      const Op fused = [](const auto& in) { return MaskedSoftmaxFused(in[0], in[1], 16); };
      const Op composite = [](const auto& in) { return MaskedSoftmaxComposite(in[0], in[1], 16); };
      const Result a = ::alro::core::Run(fused, {scores, mask}, probe);
      const Result b = ::alro::core::Run(composite, {scores, mask}, probe);
      const at::Tensor nan_row = a.out.select(0, 1).select(1, 3);
      EXPECT_TRUE(nan_row.isnan().all().item<bool>()) << what;
      EXPECT_TRUE(b.out.select(0, 1).select(1, 3).isnan().all().item<bool>()) << what << ": composite";
      const double tol = dtype == at::kFloat ? 2e-6 : 1e-13;
      EXPECT_LE(RelDiff(at::nan_to_num(a.out, 7.0), at::nan_to_num(b.out, 7.0)), tol) << what << ": forward";
      ASSERT_EQ(a.grads.size(), 1u);
      EXPECT_FALSE(a.grads[0].isnan().any().item<bool>()) << what;
      EXPECT_EQ(a.grads[0].select(0, 1).select(1, 3).abs().max().item<double>(), 0.0) << what;
      EXPECT_LE(RelDiff(a.grads[0], b.grads[0]), tol) << what << ": gradient";
    }
  }
}

TEST(FusedOps, MaskedSoftmaxGivesZeroProbabilityAndGradientToMaskedKeys) {
  at::manual_seed(7);
  const at::Tensor mask = Causal(9, 0);
  const at::Tensor scores = (at::randn({2, 2, 18, 9}) * 4).requires_grad_(true);
  const at::Tensor p = MaskedSoftmaxFused(scores, mask, 8);
  p.backward(at::randn(p.sizes()));
  const at::Tensor masked = mask.repeat({2, 1}).expand({2, 2, 18, 9});
  EXPECT_EQ(p.masked_select(masked).abs().max().item<float>(), 0.0f);
  EXPECT_EQ(scores.grad().masked_select(masked).abs().max().item<float>(), 0.0f);
  EXPECT_LE((p.sum(-1) - 1).abs().max().item<float>(), 1e-6);
}

// The dense-span row softmax and its backward (the tiled attention's rows of
// causal and packed masks) against a softmax in double over the span, for
// spans that start and end inside a vector and on its edges. Every element
// outside the span, the padding up to whole vectors included, holds NaN
// before the call: none may leak into the result, and all of them must come
// out 0.
TEST(FusedOps, DenseSpanSoftmaxMatchesDoubleReferenceWhateverThePaddingHolds) {
  std::mt19937 rng(31);
  std::normal_distribution<double> normal(0.0, 3.0);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (const auto& [first, end, width] : std::vector<std::array<int64_t, 3>>{
           {0, 1, 1}, {0, 17, 17}, {3, 29, 55}, {16, 32, 40}, {21, 55, 55}, {40, 41, 64}}) {
    const std::string what = "span [" + std::to_string(first) + ", " + std::to_string(end) + ") of " +
                             std::to_string(width);
    const int64_t ld = fused_math::PaddedWidth(width);
    std::vector<double> x(static_cast<size_t>(end - first)), g(x.size());
    for (size_t j = 0; j < x.size(); ++j) {
      x[j] = normal(rng);
      g[j] = normal(rng);
    }
    std::vector<float> row(static_cast<size_t>(ld), nan), dy(row.size(), nan);
    for (int64_t j = first; j < end; ++j) {
      row[j] = static_cast<float>(x[j - first]);
      dy[j] = static_cast<float>(g[j - first]);
    }
    fused_math::DenseSpanSoftmax(row.data(), first, end, width);
    fused_math::DenseSpanSoftmaxBackward(dy.data(), row.data(), first, end, width, 0.25f);
    // The reference: softmax in double, and its backward y * (g - y.g) * scale.
    const double max = *std::max_element(x.begin(), x.end());
    std::vector<double> y(x.size());
    double sum = 0, dot = 0;
    for (size_t j = 0; j < x.size(); ++j) sum += (y[j] = std::exp(x[j] - max));
    for (size_t j = 0; j < x.size(); ++j) dot += (y[j] /= sum) * g[j];
    for (int64_t j = 0; j < width; ++j) {
      if (j < first || j >= end) {
        EXPECT_EQ(row[j], 0.0f) << what << ", probability at " << j;
        EXPECT_EQ(dy[j], 0.0f) << what << ", gradient at " << j;
        continue;
      }
      const double yj = y[j - first], dxj = yj * (g[j - first] - dot) * 0.25;
      EXPECT_NEAR(row[j], yj, 1e-6 + 2e-6 * yj) << what << ", probability at " << j;
      EXPECT_NEAR(dy[j], dxj, 1e-6 + 1e-5 * std::abs(dxj)) << what << ", gradient at " << j;
    }
  }
}

// Masks of the shapes training builds, [2, T, T] (true = masked): batch 0
// two lists packed into one row (block-diagonal causal), batch 1 a shared
// prefix with two branches that each see the prefix and themselves (the
// tree of shared-prefix copies). Most blocks of queries meet a key range
// that starts after 0 or holds masked keys inside it.
at::Tensor PackedAndTreeMasks(int64_t t) {
  const at::Tensor i = at::arange(t).unsqueeze(1), j = at::arange(t).unsqueeze(0);
  const at::Tensor causal = j <= i;
  const int64_t split = t * 8 / 15, prefix = t * 2 / 5, branch = t * 11 / 15;
  const at::Tensor packed = causal & ((i < split) == (j < split));
  const at::Tensor same_branch = (i < branch) == (j < branch);
  const at::Tensor tree = causal & ((i < prefix) | (j < prefix) | same_branch);
  return at::stack({packed.logical_not(), tree.logical_not()});
}

// Attention's inputs as the decoder makes them: q folded to [B, KV, G*T, D]
// and v a transposed view of [B, S, KV, D] (not contiguous).
std::vector<at::Tensor> AttentionInputs(int64_t b, int64_t kv, int64_t group, int64_t t, int64_t s, int64_t d,
                                        const at::Tensor& mask) {
  return {at::randn({b, kv, group * t, d}), at::randn({b, kv, s, d}), at::randn({b, s, kv, d}).transpose(1, 2),
          mask};
}

std::vector<at::Tensor> InDouble(std::vector<at::Tensor> in) {
  for (size_t i = 0; i < 3; ++i) in[i] = in[i].to(at::kDouble);
  return in;
}

const Op kAttentionFused = [](const auto& in) { return MaskedAttentionFused(in[0], in[1], in[2], in[3]); };
// The reference, in ATen ops only: at::matmul and the composite softmax
// (MaskedAttentionComposite's softmax would be the fused one, whose row code
// the kernel shares).
const Op kAttentionComposite = [](const auto& in) {
  const at::Tensor scores = at::matmul(in[0], in[1].transpose(-1, -2));
  return at::matmul(MaskedSoftmaxComposite(scores, in[3], in[0].size(-1)), in[2]);
};

// Longer prompts than one block of 32 queries (so blocks skip keys), a
// shared causal mask over a decoded prefix, per-row packed and tree masks,
// grouped query heads; and a short prompt (20), one block per head.
TEST(FusedOps, MaskedAttentionMatchesComposite) {
  at::manual_seed(21);
  for (int64_t t : {150, 40, 20}) {
    const std::string what = "T " + std::to_string(t);
    const std::vector<at::Tensor> causal = AttentionInputs(2, 2, 3, t, t + 5, 16, Causal(t, 5));
    ExpectClose(kAttentionFused, kAttentionComposite, causal, 2e-6, (what + " causal f32").c_str());
    ExpectClose(kAttentionFused, kAttentionComposite, InDouble(causal), 1e-13, (what + " causal f64").c_str());
    const std::vector<at::Tensor> packed = AttentionInputs(2, 2, 2, t, t, 32, PackedAndTreeMasks(t));
    ExpectClose(kAttentionFused, kAttentionComposite, packed, 2e-6, (what + " packed/tree f32").c_str());
    ExpectClose(kAttentionFused, kAttentionComposite, InDouble(packed), 1e-13, (what + " packed/tree f64").c_str());
    const std::vector<at::Tensor> random = AttentionInputs(2, 1, 2, t, t, 8, RandomMask(2, t, t));
    ExpectClose(kAttentionFused, kAttentionComposite, random, 2e-6, (what + " random f32").c_str());
  }
}

// The analytic gradient against central differences, in double, through
// the blocked path (70 queries: blocks of 32, 32 and 6) and the one-block
// path.
TEST(FusedOps, MaskedAttentionMatchesFiniteDifferences) {
  at::manual_seed(22);
  ExpectFiniteDifferences(kAttentionFused, InDouble(AttentionInputs(1, 1, 1, 70, 70, 2, Causal(70, 0))));
  ExpectFiniteDifferences(kAttentionFused, InDouble(AttentionInputs(2, 1, 2, 5, 7, 3, RandomMask(2, 5, 7))));
}

// A shared prefix of 4 and two branches (34 and 32 queries): the block of
// queries 64-69 attends to keys 0-3 and 38 on, so at head dimension 64 it
// skips the gap 4-37 (34 keys; the narrowest gap skipped at D = 64 is 32
// keys) and multiplies two runs of keys. Its outputs and gradients against
// the reference and central differences, and the entries it multiplies
// against the key ranges without the gap; at D = 16 the gap is too narrow
// to skip.
TEST(FusedOps, MaskedAttentionSkipsWideGapsInAKeyRange) {
  at::manual_seed(24);
  const int64_t t = 70, prefix = 4, branch = 38, groups = 2;
  const at::Tensor i = at::arange(t).unsqueeze(1), j = at::arange(t).unsqueeze(0);
  const at::Tensor tree = (j <= i) & ((j < prefix) | ((i < branch) == (j < branch)));
  const at::Tensor mask = tree.logical_not();
  // Blocks of 32 queries per group; without gaps each multiplies the keys
  // from its rows' first to last unmasked key.
  const auto key_ranges = [t](const at::Tensor& allowed) {
    int64_t entries = 0;
    for (int64_t t0 = 0; t0 < t; t0 += 32) {
      const int64_t t1 = std::min(t0 + 32, t);
      const at::Tensor keys = at::nonzero(allowed.narrow(0, t0, t1 - t0).any(0)).view({-1});
      entries += (t1 - t0) * (keys.max().item<int64_t>() + 1 - keys.min().item<int64_t>());
    }
    return entries;
  };
  // Only the block of queries 64-69 has a gap to skip: keys [4, 38).
  EXPECT_EQ(MaskedAttentionScoreEntries(mask, groups, 64),
            groups * (key_ranges(tree) - (t - 64) * (branch - prefix)));
  EXPECT_EQ(MaskedAttentionScoreEntries(mask, groups, 16), groups * key_ranges(tree));
  // A causal mask has no gaps.
  EXPECT_EQ(MaskedAttentionScoreEntries(Causal(t, 0), groups, 64), groups * key_ranges(Causal(t, 0).logical_not()));
  const std::vector<at::Tensor> in = AttentionInputs(1, 1, groups, t, t, 64, mask);
  ExpectClose(kAttentionFused, kAttentionComposite, in, 2e-6, "tree with a gap, f32");
  ExpectClose(kAttentionFused, kAttentionComposite, InDouble(in), 1e-13, "tree with a gap, f64");
  ExpectFiniteDifferences(kAttentionFused, InDouble(AttentionInputs(1, 1, 1, t, t, 64, mask)));
}

// The forward splits blocks over threads and the backward whole heads, each
// head's sums in one order: two threads give the same bits as one. At head
// dimension 64 the tree's last block skips its 50-key gap (two runs).
TEST(FusedOps, MaskedAttentionIsTheSameOnTwoThreads) {
  at::manual_seed(23);
  const std::vector<at::Tensor> in = AttentionInputs(2, 2, 2, 150, 150, 64, PackedAndTreeMasks(150));
  const at::Tensor probe = at::randn({2, 2, 300, 64}, at::kDouble);
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  const Result one = ::alro::core::Run(kAttentionFused, in, probe);
  at::set_num_threads(2);
  const Result two = ::alro::core::Run(kAttentionFused, in, probe);
  at::set_num_threads(threads);
  EXPECT_TRUE(at::equal(one.out, two.out));
  ASSERT_EQ(one.grads.size(), two.grads.size());
  for (size_t i = 0; i < one.grads.size(); ++i) EXPECT_TRUE(at::equal(one.grads[i], two.grads[i])) << "input " << i;
}

// bf16 and half run the float32 kernel on each head converted as it is
// read, and round the output and the gradients once: they are exactly the
// float32 kernel's on float32 copies of the inputs, rounded (the gradient
// flowing in rounded as well), at one thread and at two (where the forward's
// blocks of one head are split between the threads: T = 150 has 5 blocks
// per group). Against the double reference the bf16 output is off by one
// bf16 rounding; the bf16 composite, which rounds the scores and
// probabilities to bf16 too, is further off.
TEST(FusedOps, MaskedAttentionInBfloat16RunsTheKernelOnFloat32Copies) {
  at::manual_seed(25);
  const Op attention = [](const auto& in) { return MaskedAttention(in[0], in[1], in[2], in[3]); };
  const Op narrow_composite = [](const auto& in) { return MaskedAttentionComposite(in[0], in[1], in[2], in[3]); };
  const int threads = at::get_num_threads();
  for (const at::ScalarType type : {at::kBFloat16, at::kHalf}) {
    for (int64_t t : {150, 20}) {
      for (int n_threads : {1, 2}) {
        at::set_num_threads(n_threads);
        const std::string what = std::string(c10::toString(type)) + " T " + std::to_string(t) + ", " +
                                 std::to_string(n_threads) + " thread(s)";
        std::vector<at::Tensor> in = AttentionInputs(2, 2, 2, t, t, 32, PackedAndTreeMasks(t));
        std::vector<at::Tensor> in_f32 = in;
        for (size_t i = 0; i < 3; ++i) {
          in[i] = in[i].to(type);
          in_f32[i] = in[i].to(at::kFloat);
        }
        const at::Tensor probe = at::randn({2, 2, 2 * t, 32}, at::kDouble);
        const Result narrow = ::alro::core::Run(attention, in, probe);
        const Result f32 = ::alro::core::Run(kAttentionFused, in_f32, probe.to(type).to(at::kDouble));
        EXPECT_EQ(narrow.out.scalar_type(), type) << what;
        EXPECT_TRUE(at::equal(narrow.out, f32.out.to(type))) << what << ": forward";
        ASSERT_EQ(narrow.grads.size(), 3u);
        for (size_t i = 0; i < 3; ++i) {
          EXPECT_EQ(narrow.grads[i].scalar_type(), type) << what << ": input " << i;
          EXPECT_TRUE(at::equal(narrow.grads[i], f32.grads[i].to(type))) << what << ": input " << i;
        }
        if (type != at::kBFloat16) continue;
        const at::Tensor reference = kAttentionComposite(InDouble(in));
        const double kernel_error = RelDiff(narrow.out, reference);
        const double composite_error = RelDiff(narrow_composite(in), reference);
        EXPECT_LE(kernel_error, 2.5e-3) << what << ": one bf16 rounding (2^-9) of the output";
        EXPECT_LT(kernel_error, composite_error) << what;
      }
    }
  }
  at::set_num_threads(threads);
}

// A query with every key masked gets a NaN output, as the composite, and no
// gradient; the other queries and every input's gradient stay finite and
// match the composite (whose values' gradient the NaN row poisons, so it is
// compared with that query's probe at 0 and the row left out).
TEST(FusedOps, MaskedAttentionFullyMaskedQuery) {
  at::manual_seed(24);
  for (int64_t t : {100, 9}) {
    const std::string what = "T " + std::to_string(t);
    at::Tensor mask = Causal(t, 0).unsqueeze(0).repeat({2, 1, 1});
    mask[1][3].fill_(true);  // batch 1, query 3 (of both groups)
    const std::vector<at::Tensor> in = AttentionInputs(2, 2, 2, t, t, 16, mask);
    at::Tensor probe = at::randn({2, 2, 2 * t, 16}, at::kDouble);
    const Result a = ::alro::core::Run(kAttentionFused, in, probe);
    EXPECT_TRUE(a.out.select(0, 1).select(1, 3).isnan().all().item<bool>()) << what;
    EXPECT_TRUE(a.out.select(0, 1).select(1, t + 3).isnan().all().item<bool>()) << what;
    EXPECT_EQ(a.out.isnan().sum().item<int64_t>(), 2 * 2 * 16) << what;
    for (const at::Tensor& g : a.grads) EXPECT_FALSE(g.isnan().any().item<bool>()) << what;
    EXPECT_EQ(a.grads[0].select(0, 1).select(1, 3).abs().max().item<double>(), 0.0) << what;
    // Without the masked query's output in the loss, the composite's
    // gradients are finite: the fused ones equal them.
    probe.select(0, 1).select(1, 3).zero_();
    probe.select(0, 1).select(1, t + 3).zero_();
    const Op composite_without_nan = [](const auto& x) { return at::nan_to_num(kAttentionComposite(x), 0.0); };
    const Result b = ::alro::core::Run(composite_without_nan, in, probe);
    const Result c = ::alro::core::Run(kAttentionFused, in, probe);
    for (size_t i = 0; i < 2; ++i) EXPECT_LE(RelDiff(c.grads[i], b.grads[i]), 2e-6) << what << " input " << i;
  }
}

TEST(FusedOps, RotaryHeadsFirstMatchesCompositeAndFiniteDifferences) {
  at::manual_seed(8);
  // head_dim 12: halves of 6, not a multiple of any vector width (the
  // kernel's run-time trip count); 16 to 128: the halves the kernel compiles
  // with a fixed trip count (core/fused_rotary.cc).
  for (const int64_t d : {12, 16, 32, 64, 128}) {
    const int64_t b = 3, t = 11, h = 5;
    const std::string dim = " head_dim " + std::to_string(d);
    const at::Tensor x = at::randn({b, t, h, d}) * 2;
    const at::Tensor angles = at::rand({b, t, d / 2}) * 6.3;
    // Per-row tables (packed rows at explicit positions), then one table for
    // the whole batch (contiguous positions).
    for (const at::Tensor& a : {angles, angles.narrow(0, 0, 1)}) {
      const at::Tensor cos = a.cos(), sin = a.sin();
      const Op fused = [cos, sin](const auto& in) { return RotaryHeadsFirstFused(in[0], cos, sin); };
      const Op composite = [cos, sin](const auto& in) { return RotaryHeadsFirstComposite(in[0], cos, sin); };
      const at::Tensor out = fused({x});
      EXPECT_EQ(out.sizes(), (std::vector<int64_t>{b, h, t, d}));
      EXPECT_TRUE(out.is_contiguous());
      ExpectClose(fused, composite, {x}, 2e-6, ("rotary f32" + dim).c_str());
      ExpectClose(fused, composite, {x.to(at::kDouble)}, 1e-13, ("rotary f64" + dim).c_str());
      // The composite rounds cos and sin to bf16 and every product; the
      // fused kernel rounds once.
      ExpectClose(fused, composite, {x.to(at::kBFloat16)}, 2e-2, ("rotary bf16" + dim).c_str());
      if (d == 12 || d == 16) ExpectFiniteDifferences(fused, {x.narrow(2, 0, 1).to(at::kDouble)});
    }
  }
}

}  // namespace
}  // namespace alro::core
