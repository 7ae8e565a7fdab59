// tests/train/optimizer_test.cc: AdamW and the learning-rate schedule against
// scalar double-precision references written out here.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "tests/train/test_util.h"
#include "train/adamw_update.h"
#include "train/lr_schedule.h"
#include "train/optimizer.h"

namespace alro::train {
namespace {

// One per test binary: the scratch directories go away at the end.
const ::testing::Environment* const kCleanup =
    ::testing::AddGlobalTestEnvironment(new testing_util::TempDirCleanup);

// A replicated trainable parameter.
core::ShardedParameter Param(const std::string& name, const at::Tensor& t, bool decay) {
  return core::ShardedParameter{name, t, -1, t.sizes().vec(), 0, true, !decay};
}

// torch.optim.AdamW's update, one scalar at a time, in double.
struct ReferenceAdamW {
  double beta1 = 0.9, beta2 = 0.95, eps = 1e-8, wd = 0.1;
  std::vector<double> p, m, v;
  int64_t t = 0;
  void Step(const std::vector<double>& g, double lr, bool decay) {
    ++t;
    for (size_t i = 0; i < p.size(); ++i) {
      if (decay) p[i] *= 1.0 - lr * wd;
      m[i] = beta1 * m[i] + (1 - beta1) * g[i];
      v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
      const double mhat = m[i] / (1 - std::pow(beta1, t));
      const double vhat = v[i] / (1 - std::pow(beta2, t));
      p[i] -= lr * mhat / (std::sqrt(vhat) + eps);
    }
  }
};

TEST(AdamW, MatchesScalarReferenceWithAndWithoutDecay) {
  config::OptimizerConfig cfg;
  cfg.beta1 = 0.9;
  cfg.beta2 = 0.95;
  cfg.eps = 1e-8;
  cfg.weight_decay = 0.1;
  at::manual_seed(7);
  at::Tensor w = at::randn({3, 4}).set_requires_grad(true);
  at::Tensor b = at::randn({4}).set_requires_grad(true);
  auto to_vec = [](const at::Tensor& t) {
    at::Tensor d = t.detach().to(at::kDouble).contiguous();
    return std::vector<double>(d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
  };
  ReferenceAdamW ref_w{0.9, 0.95, 1e-8, 0.1, to_vec(w), std::vector<double>(12), std::vector<double>(12)};
  ReferenceAdamW ref_b{0.9, 0.95, 1e-8, 0.1, to_vec(b), std::vector<double>(4), std::vector<double>(4)};
  AdamW opt({Param("w", w, true), Param("b", b, false)}, cfg);
  for (int step = 0; step < 5; ++step) {
    const double lr = 1e-2 * (step + 1);
    at::Tensor gw = at::randn({3, 4});
    at::Tensor gb = at::randn({4});
    w.mutable_grad() = gw.clone();
    b.mutable_grad() = gb.clone();
    opt.Step(lr);
    ref_w.Step(to_vec(gw), lr, true);
    ref_b.Step(to_vec(gb), lr, false);
  }
  EXPECT_EQ(opt.step_count(), 5);
  const std::vector<double> got_w = to_vec(w), got_b = to_vec(b);
  for (size_t i = 0; i < got_w.size(); ++i) EXPECT_NEAR(got_w[i], ref_w.p[i], 1e-5) << "w[" << i << "]";
  for (size_t i = 0; i < got_b.size(); ++i) EXPECT_NEAR(got_b[i], ref_b.p[i], 1e-5) << "b[" << i << "]";
  // The moments are exposed with the parameter's shape, for checkpoints.
  EXPECT_EQ(opt.exp_avg(0).sizes(), w.sizes());
  EXPECT_NEAR(opt.exp_avg_sq(1)[0].item<double>(), ref_b.v[0], 1e-6);
}

TEST(AdamW, NoDecayParameterWithZeroGradientDoesNotMove) {
  config::OptimizerConfig cfg;
  cfg.weight_decay = 0.5;
  at::Tensor norm = at::ones({8}).set_requires_grad(true);
  at::Tensor weight = at::ones({8}).set_requires_grad(true);
  AdamW opt({Param("norm", norm, false), Param("weight", weight, true)}, cfg);
  norm.mutable_grad() = at::zeros({8});
  weight.mutable_grad() = at::zeros({8});
  opt.Step(0.1);
  EXPECT_TRUE(at::equal(norm, at::ones({8})));
  // Decoupled decay shrinks the weight even with a zero gradient.
  EXPECT_NEAR(weight[0].item<double>(), 1.0 - 0.1 * 0.5, 1e-7);
  opt.ZeroGrad();
  EXPECT_EQ(weight.grad().abs().sum().item<double>(), 0.0);
}

// The fused loop against the ATen composite it replaces, over 30 steps of one
// state: decay on and off, a size that leaves a vector tail, gradients over
// eight orders of magnitude (tiny second moments make the denominator's eps
// matter), and a changing learning rate. Both round the same float32
// operations; only contracted multiply-adds may differ, by a few ulp.
// (A test, not the build, pins the tolerance: train/adamw_update.cc may be
// compiled with or without FMA contraction.)
TEST(AdamWUpdate, FusedEqualsCompositeWithinFloatRounding) {
  for (bool decays : {true, false}) {
    at::manual_seed(3);
    const int64_t n = 1037;
    at::Tensor p_fused = at::randn({n}), m_fused = at::zeros({n}), v_fused = at::zeros({n});
    at::Tensor p_comp = p_fused.clone(), m_comp = m_fused.clone(), v_comp = v_fused.clone();
    AdamWScalars s;
    s.weight_decay = 0.1;
    s.beta1 = 0.9;
    s.beta2 = 0.95;
    s.eps = 1e-8;
    double worst = 0.0;
    for (int t = 1; t <= 30; ++t) {
      s.lr = 1e-3 * (1 + t % 7);
      s.step_size = s.lr / (1 - std::pow(s.beta1, t));
      s.bias2_sqrt = std::sqrt(1 - std::pow(s.beta2, t));
      const at::Tensor g = at::randn({n}) * at::pow(10.0, at::randint(-6, 2, {n}, at::kFloat));
      AdamWUpdateFused(p_fused, g, m_fused, v_fused, decays, s);
      AdamWUpdateComposite(p_comp, g, m_comp, v_comp, decays, s);
      for (const auto& [a, b] :
           {std::pair(&p_fused, &p_comp), std::pair(&m_fused, &m_comp), std::pair(&v_fused, &v_comp)}) {
        // Relative to the tensor's largest element: a parameter that happens
        // to sit near 0 moves by the same absolute rounding as the others.
        const double rel = (*a - *b).abs().max().item<double>() / b->abs().max().item<double>();
        worst = std::max(worst, rel);
      }
    }
    EXPECT_LT(worst, 1e-6) << (decays ? "decay" : "no decay");
    EXPECT_FALSE(at::equal(p_fused, at::zeros({n}))) << "the parameters moved";
  }
}

TEST(AdamWUpdate, FusedBumpsVersionCountersAndTakesStridedGradients) {
  at::Tensor p = at::randn({4, 6}), m = at::zeros({4, 6}), v = at::zeros({4, 6});
  at::Tensor p_ref = p.clone(), m_ref = m.clone(), v_ref = v.clone();
  const int64_t before = p._version();
  const at::Tensor g = at::randn({6, 4}).t();  // not contiguous
  AdamWScalars s;
  s.lr = 0.01;
  s.step_size = 0.1;
  AdamWUpdateFused(p, g, m, v, true, s);
  AdamWUpdateComposite(p_ref, g, m_ref, v_ref, true, s);
  // core/compute_weight.h recasts a master whose version changed.
  EXPECT_GT(p._version(), before);
  EXPECT_LT((p - p_ref).abs().max().item<double>(), 1e-6);
  EXPECT_LT((m - m_ref).abs().max().item<double>(), 1e-6);
}

TEST(LearningRate, WarmupThenCosineToMinimum) {
  config::OptimizerConfig opt;
  opt.lr = 1e-3;
  config::ScheduleConfig s;
  s.steps = 110;
  s.warmup_steps = 10;
  s.min_lr_ratio = 0.1;
  EXPECT_DOUBLE_EQ(LearningRate(opt, s, 0), 1e-4);
  EXPECT_DOUBLE_EQ(LearningRate(opt, s, 4), 5e-4);
  EXPECT_DOUBLE_EQ(LearningRate(opt, s, 10), 1e-3);
  EXPECT_NEAR(LearningRate(opt, s, 109), 1e-4, 1e-15);
  // Midway through the decay: halfway between peak and minimum.
  const double mid = LearningRate(opt, s, 59);
  const double expected = 1e-4 + 0.9e-3 * 0.5 * (1 + std::cos(M_PI * 49.0 / 99.0));
  EXPECT_NEAR(mid, expected, 1e-15);
  for (int64_t t = 11; t < 110; ++t) EXPECT_LE(LearningRate(opt, s, t), LearningRate(opt, s, t - 1));
  // No warmup: the first step is the peak.
  s.warmup_steps = 0;
  EXPECT_DOUBLE_EQ(LearningRate(opt, s, 0), 1e-3);
}

}  // namespace
}  // namespace alro::train
