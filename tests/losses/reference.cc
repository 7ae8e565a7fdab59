// tests/losses/reference.cc: the brute-force loss references.
#include "tests/losses/reference.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace alro::losses::reference {
namespace {

double D(double x) { return std::log2(1.0 + x); }
double G(double r) { return std::pow(2.0, r) - 1.0; }
double Log2OnePlusExp(double x) { return std::log1p(std::exp(x)) / std::log(2.0); }

double Idcg(std::vector<double> ratings, int64_t k) {
  std::sort(ratings.rbegin(), ratings.rend());
  double idcg = 0.0;
  for (size_t p = 0; p < ratings.size(); ++p) {
    if (k > 0 && static_cast<int64_t>(p) >= k) break;
    idcg += G(ratings[p]) / D(p + 1.0);
  }
  return idcg;
}

double Delta(int64_t rank_i, int64_t rank_j) {
  const double d = std::abs(static_cast<double>(rank_i - rank_j));
  return std::abs(1.0 / D(d) - 1.0 / D(d + 1.0));
}

}  // namespace

std::vector<double> ExpectedPositions(const Matrix& Y, double gamma) {
  const size_t m = Y.size();
  std::vector<double> s(m, 0.0);
  for (size_t i = 0; i < m; ++i) {
    double z = 0.0, weighted = 0.0;
    for (size_t k = 0; k < m; ++k) {
      const double e = std::exp(gamma * Y[k][i]);
      z += e;
      weighted += (k + 1.0) * e;
    }
    s[i] = weighted / z;
  }
  return s;
}

std::vector<int64_t> Ranks(const std::vector<double>& values, const std::vector<double>& tie_key) {
  std::vector<int64_t> idx(values.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) {
    if (values[a] != values[b]) return values[a] > values[b];
    return tie_key.empty() ? a < b : tie_key[a] < tie_key[b];
  });
  std::vector<int64_t> ranks(values.size());
  for (size_t p = 0; p < idx.size(); ++p) ranks[idx[p]] = p + 1;
  return ranks;
}

double SoftLambdaLoss(const Matrix& Y, const std::vector<double>& r, double gamma, double sigma, int64_t top_k,
                      const std::vector<double>& tie_key) {
  const std::vector<double> s = ExpectedPositions(Y, gamma);
  const std::vector<int64_t> tau = Ranks(r, tie_key);
  double sum = 0.0;
  for (size_t i = 0; i < r.size(); ++i) {
    for (size_t j = 0; j < r.size(); ++j) {
      if (!(r[i] > r[j])) continue;
      if (top_k > 0 && std::min(tau[i], tau[j]) > top_k) continue;
      sum += Delta(tau[i], tau[j]) * std::abs(G(r[i]) - G(r[j])) * Log2OnePlusExp(-sigma * (s[j] - s[i]));
    }
  }
  const double idcg = Idcg(r, 0);
  return idcg > 0 ? sum / idcg : 0.0;
}

double LambdaLoss(const std::vector<double>& f, const std::vector<double>& r, int weighting, double mu,
                  double sigma, int64_t top_k) {
  const std::vector<int64_t> pi = Ranks(f);
  const double idcg = Idcg(r, top_k);
  if (!(idcg > 0)) return 0.0;
  double sum = 0.0;
  for (size_t i = 0; i < r.size(); ++i) {
    for (size_t j = 0; j < r.size(); ++j) {
      if (!(r[i] > r[j])) continue;
      if (top_k > 0 && std::min(pi[i], pi[j]) > top_k) continue;
      const double delta = Delta(pi[i], pi[j]);
      const double rho = std::abs(1.0 / D(pi[i]) - 1.0 / D(pi[j]));
      const double w = weighting == 0 ? delta : weighting == 1 ? rho : mu * delta + rho;
      sum += w * std::abs(G(r[i]) / idcg - G(r[j]) / idcg) * Log2OnePlusExp(-sigma * (f[i] - f[j]));
    }
  }
  return sum;
}

double Consistency(const Matrix& Y, const Matrix& Yc, int divergence, double gamma) {
  const size_t m = Y.size();
  if (divergence == 2) {
    const std::vector<double> s = ExpectedPositions(Y, gamma), sc = ExpectedPositions(Yc, gamma);
    double sum = 0.0;
    for (size_t i = 0; i < m; ++i) sum += (s[i] - sc[i]) * (s[i] - sc[i]);
    return sum / m;
  }
  double total = 0.0;
  for (size_t k = 0; k < m; ++k) {
    double row = 0.0;
    for (size_t i = 0; i < m; ++i) {
      const double p = Y[k][i], q = Yc[k][i], mix = 0.5 * (p + q);
      if (divergence == 0) {
        row += 0.5 * p * std::log(p / mix) + 0.5 * q * std::log(q / mix);
      } else {
        row += 0.5 * (p * std::log(p / q) + q * std::log(q / p));
      }
    }
    total += row;
  }
  return total / m;
}

}  // namespace alro::losses::reference
