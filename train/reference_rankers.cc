// train/reference_rankers.cc: popularity, item mean and ALS matrix
// factorisation orders (see reference_rankers.h).
#include "train/reference_rankers.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "common/status.h"
#include "losses/metrics.h"

namespace alro::train {
namespace {

// Standard deviation of the initial item factors.
constexpr double kInitStd = 0.1;

}  // namespace

PopularityRanker::PopularityRanker(const std::vector<RatingTriple>& ratings) {
  std::set<std::pair<std::string, std::string>> seen;
  for (const RatingTriple& r : ratings) {
    if (seen.emplace(r.user, r.item).second) counts_[r.item] += 1.0;
  }
}

std::vector<double> PopularityRanker::Score(const std::string&, const std::vector<std::string>& items) const {
  std::vector<double> out;
  for (const std::string& item : items) {
    auto it = counts_.find(item);
    out.push_back(it == counts_.end() ? 0.0 : it->second);
  }
  return out;
}

ItemMeanRanker::ItemMeanRanker(const std::vector<RatingTriple>& ratings, double shrinkage) : shrinkage_(shrinkage) {
  double sum = 0.0;
  for (const RatingTriple& r : ratings) {
    sum += r.rating;
    auto& [item_sum, count] = sums_[r.item];
    item_sum += r.rating;
    ++count;
  }
  global_mean_ = ratings.empty() ? 0.0 : sum / static_cast<double>(ratings.size());
}

std::vector<double> ItemMeanRanker::Score(const std::string&, const std::vector<std::string>& items) const {
  std::vector<double> out;
  for (const std::string& item : items) {
    auto it = sums_.find(item);
    const double sum = it == sums_.end() ? 0.0 : it->second.first;
    const double count = it == sums_.end() ? 0.0 : static_cast<double>(it->second.second);
    out.push_back(count + shrinkage_ > 0.0 ? (sum + shrinkage_ * global_mean_) / (count + shrinkage_) : global_mean_);
  }
  return out;
}

std::vector<double> SolveSpd(std::vector<double> a, std::vector<double> b) {
  const size_t n = b.size();
  ALRO_CHECK(a.size() == n * n, "SolveSpd: matrix of ", a.size(), " entries for ", n, " unknowns");
  // In-place Cholesky: a = L L^T, L in the lower triangle.
  for (size_t j = 0; j < n; ++j) {
    double d = a[j * n + j];
    for (size_t k = 0; k < j; ++k) d -= a[j * n + k] * a[j * n + k];
    ALRO_CHECK(d > 0.0, "SolveSpd: matrix is not positive definite (pivot ", j, " is ", d, ")");
    const double l = std::sqrt(d);
    a[j * n + j] = l;
    for (size_t i = j + 1; i < n; ++i) {
      double s = a[i * n + j];
      for (size_t k = 0; k < j; ++k) s -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = s / l;
    }
  }
  for (size_t i = 0; i < n; ++i) {  // L y = b
    for (size_t k = 0; k < i; ++k) b[i] -= a[i * n + k] * b[k];
    b[i] /= a[i * n + i];
  }
  for (size_t i = n; i-- > 0;) {  // L^T x = y
    for (size_t k = i + 1; k < n; ++k) b[i] -= a[k * n + i] * b[k];
    b[i] /= a[i * n + i];
  }
  return b;
}

namespace {

// One ALS half-step: for every row r of `solve` (users or items), the ridge
// regression of its residuals (rating - mu - other side's bias) on the other
// side's [factors, 1]. `solve` rows are [factors..., bias]; the other side's
// bias is the last entry of its row, and its factors the first `f`.
void SolveSide(const std::vector<std::vector<std::pair<int64_t, double>>>& by_row, const std::vector<std::vector<double>>& other,
               double mu, double l2, int64_t f, std::vector<std::vector<double>>* solve) {
  const size_t n = static_cast<size_t>(f + 1);
  for (size_t r = 0; r < by_row.size(); ++r) {
    std::vector<double> a(n * n, 0.0), b(n, 0.0);
    for (size_t i = 0; i < n; ++i) a[i * n + i] = l2;
    for (const auto& [o, rating] : by_row[r]) {
      const std::vector<double>& v = other[static_cast<size_t>(o)];
      // Features: the other side's factors and a constant 1 (for this side's bias).
      const double target = rating - mu - v[static_cast<size_t>(f)];
      for (size_t i = 0; i < n; ++i) {
        const double xi = i < static_cast<size_t>(f) ? v[i] : 1.0;
        b[i] += xi * target;
        for (size_t j = 0; j <= i; ++j) a[i * n + j] += xi * (j < static_cast<size_t>(f) ? v[j] : 1.0);
      }
    }
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j < i; ++j) a[j * n + i] = a[i * n + j];
    (*solve)[r] = SolveSpd(std::move(a), std::move(b));
  }
}

}  // namespace

AlsRanker::AlsRanker(const std::vector<RatingTriple>& ratings, const AlsOptions& options)
    : options_(options), ratings_(ratings) {
  const int64_t f = options.factors;
  double sum = 0.0;
  for (const RatingTriple& r : ratings) {
    sum += r.rating;
    user_index_.emplace(r.user, static_cast<int64_t>(user_index_.size()));
    item_index_.emplace(r.item, static_cast<int64_t>(item_index_.size()));
  }
  mu_ = ratings.empty() ? 0.0 : sum / static_cast<double>(ratings.size());
  std::vector<std::vector<std::pair<int64_t, double>>> by_user(user_index_.size()), by_item(item_index_.size());
  for (const RatingTriple& r : ratings) {
    const int64_t u = user_index_.at(r.user), i = item_index_.at(r.item);
    by_user[static_cast<size_t>(u)].emplace_back(i, r.rating);
    by_item[static_cast<size_t>(i)].emplace_back(u, r.rating);
  }
  users_.assign(user_index_.size(), std::vector<double>(static_cast<size_t>(f + 1), 0.0));
  items_.assign(item_index_.size(), std::vector<double>(static_cast<size_t>(f + 1), 0.0));
  // Initial item factors: a portable Box-Muller stream of N(0, kInitStd^2).
  uint64_t state = options.seed;
  const auto uniform = [&state] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return (static_cast<double>(state >> 11) + 0.5) / 9007199254740992.0;
  };
  for (std::vector<double>& v : items_) {
    for (int64_t k = 0; k < f; ++k) {
      v[static_cast<size_t>(k)] = kInitStd * std::sqrt(-2.0 * std::log(uniform())) * std::cos(2.0 * M_PI * uniform());
    }
  }
  for (int64_t it = 0; it < options.iterations; ++it) {
    SolveSide(by_user, items_, mu_, options.l2, f, &users_);
    SolveSide(by_item, users_, mu_, options.l2, f, &items_);
  }
}

double AlsRanker::Predict(const std::string& user, const std::string& item) const {
  const size_t f = static_cast<size_t>(options_.factors);
  auto u = user_index_.find(user);
  auto i = item_index_.find(item);
  double out = mu_;
  if (u != user_index_.end()) out += users_[static_cast<size_t>(u->second)][f];
  if (i != item_index_.end()) out += items_[static_cast<size_t>(i->second)][f];
  if (u != user_index_.end() && i != item_index_.end()) {
    const std::vector<double>& p = users_[static_cast<size_t>(u->second)];
    const std::vector<double>& q = items_[static_cast<size_t>(i->second)];
    for (size_t k = 0; k < f; ++k) out += p[k] * q[k];
  }
  return out;
}

double AlsRanker::Objective() const {
  double loss = 0.0;
  for (const RatingTriple& r : ratings_) {
    const double e = r.rating - Predict(r.user, r.item);
    loss += e * e;
  }
  for (const auto* side : {&users_, &items_})
    for (const std::vector<double>& v : *side)
      for (double x : v) loss += options_.l2 * x * x;
  return loss;
}

std::vector<double> AlsRanker::Score(const std::string& user, const std::vector<std::string>& items) const {
  std::vector<double> out;
  for (const std::string& item : items) out.push_back(Predict(user, item));
  return out;
}

double MeanNdcg(const ReferenceRanker& ranker, const std::vector<ReferenceList>& lists, int64_t k) {
  double sum = 0.0;
  int64_t count = 0;
  for (const ReferenceList& list : lists) {
    const std::vector<int64_t> order = losses::OrderByScoreDescending(ranker.Score(list.user, list.items));
    const std::optional<double> ndcg = losses::NdcgAtK(losses::Permute(list.ratings, order), k);
    if (!ndcg.has_value()) continue;
    sum += *ndcg;
    ++count;
  }
  return count > 0 ? sum / static_cast<double>(count) : 0.0;
}

std::vector<AlsOptions> AlsGrid() {
  std::vector<AlsOptions> grid;
  for (int64_t factors : {8, 32}) {
    for (double l2 : {3.0, 10.0, 30.0}) {
      AlsOptions o;
      o.factors = factors;
      o.l2 = l2;
      grid.push_back(o);
    }
  }
  return grid;
}

AlsOptions SelectAls(const std::vector<RatingTriple>& train, const std::vector<ReferenceList>& valid) {
  AlsOptions best;
  double best_ndcg = -1.0;
  for (const AlsOptions& o : AlsGrid()) {
    const double ndcg = MeanNdcg(AlsRanker(train, o), valid, /*k=*/10);
    if (ndcg > best_ndcg) {
      best_ndcg = ndcg;
      best = o;
    }
  }
  return best;
}

}  // namespace alro::train
