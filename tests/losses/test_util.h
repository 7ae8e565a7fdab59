// tests/losses/test_util.h: helpers shared by the losses tests: random
// inputs, tensor <-> vector conversion and a finite-difference gradient check.
#pragma once

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "tests/losses/reference.h"

namespace alro::losses::testing {

/// Row b of a [B, m, m] tensor as a matrix.
inline reference::Matrix ToMatrix(const at::Tensor& t, int64_t b) {
  const at::Tensor x = t[b].to(at::kDouble).contiguous();
  reference::Matrix out(x.size(0), std::vector<double>(x.size(1)));
  for (int64_t k = 0; k < x.size(0); ++k) {
    for (int64_t i = 0; i < x.size(1); ++i) out[k][i] = x[k][i].item<double>();
  }
  return out;
}

/// Row b of a [B, m] tensor as a vector.
inline std::vector<double> ToVector(const at::Tensor& t, int64_t b) {
  const at::Tensor x = t[b].to(at::kDouble).contiguous();
  return std::vector<double>(x.data_ptr<double>(), x.data_ptr<double>() + x.numel());
}

/// Integer ratings in [0, 5] (many ties) of shape [B, m], double.
inline at::Tensor RandomRatings(int64_t B, int64_t m, at::Generator& gen) {
  return at::randint(0, 6, {B, m}, gen, at::TensorOptions().dtype(at::kDouble));
}

/// Random answer-slot distributions [B, m, m] (rows sum to 1), double.
inline at::Tensor RandomY(int64_t B, int64_t m, at::Generator& gen) {
  return at::softmax(at::randn({B, m, m}, gen, at::TensorOptions().dtype(at::kDouble)) * 2.0, -1);
}

/// Checks the autograd gradient of scalar f at x (double) against central
/// finite differences, element by element.
inline void ExpectGradientMatchesFiniteDifferences(const std::function<at::Tensor(const at::Tensor&)>& f,
                                                   const at::Tensor& x0, double tolerance = 1e-6) {
  constexpr double kStep = 1e-6;
  at::Tensor x = x0.detach().clone().set_requires_grad(true);
  at::Tensor y = f(x);
  y.backward();
  const at::Tensor analytic = x.grad().contiguous();
  at::Tensor probe = x0.detach().clone().contiguous();
  double* data = probe.data_ptr<double>();
  for (int64_t e = 0; e < probe.numel(); ++e) {
    const double saved = data[e];
    data[e] = saved + kStep;
    const double up = f(probe).item<double>();
    data[e] = saved - kStep;
    const double down = f(probe).item<double>();
    data[e] = saved;
    const double numeric = (up - down) / (2 * kStep);
    EXPECT_NEAR(analytic.data_ptr<double>()[e], numeric, tolerance * (1.0 + std::abs(numeric))) << "element " << e;
  }
}

}  // namespace alro::losses::testing
