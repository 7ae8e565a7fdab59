// losses/metrics.cc: ranking metrics (NDCG, HR, Recall, MRR, Kendall tau,
// position bias) in plain double arithmetic.
#include "losses/metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "absl/strings/str_cat.h"

namespace alro::losses {
namespace {

// Number of entries of a list of `size` items that "@k" looks at.
int64_t Cutoff(int64_t k, size_t size) {
  const int64_t n = static_cast<int64_t>(size);
  return (k <= 0 || k > n) ? n : k;
}

// Sign of a - b as -1, 0, 1.
int Compare(double a, double b) { return (a > b) - (a < b); }

}  // namespace

double Gain(double rating) { return std::exp2(rating) - 1.0; }

double Discount(double position) { return std::log2(1.0 + position); }

std::vector<int64_t> OrderByScoreDescending(const std::vector<double>& scores) {
  std::vector<int64_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return scores[a] > scores[b]; });
  return order;
}

std::vector<int64_t> TrueRanks(const std::vector<double>& ratings) {
  const std::vector<int64_t> order = OrderByScoreDescending(ratings);
  std::vector<int64_t> ranks(ratings.size());
  for (size_t p = 0; p < order.size(); ++p) ranks[order[p]] = static_cast<int64_t>(p) + 1;
  return ranks;
}

std::vector<double> Permute(const std::vector<double>& values, const std::vector<int64_t>& order) {
  std::vector<double> out;
  out.reserve(order.size());
  for (int64_t index : order) out.push_back(values[index]);
  return out;
}

double DcgAtK(const std::vector<double>& labels_in_order, int64_t k) {
  const int64_t n = Cutoff(k, labels_in_order.size());
  double dcg = 0.0;
  for (int64_t p = 0; p < n; ++p) dcg += Gain(labels_in_order[p]) / Discount(static_cast<double>(p + 1));
  return dcg;
}

double IdealDcgAtK(const std::vector<double>& labels, int64_t k) {
  std::vector<double> ideal = labels;
  std::sort(ideal.begin(), ideal.end(), std::greater<double>());
  return DcgAtK(ideal, k);
}

std::optional<double> NdcgAtK(const std::vector<double>& labels_in_order, int64_t k) {
  const double ideal = IdealDcgAtK(labels_in_order, k);
  if (!(ideal > 0.0)) return std::nullopt;
  return DcgAtK(labels_in_order, k) / ideal;
}

int64_t CountLiked(const std::vector<double>& labels, double threshold) {
  return std::count_if(labels.begin(), labels.end(), [&](double r) { return r >= threshold; });
}

std::optional<double> HitRateAtK(const std::vector<double>& labels_in_order, int64_t k, double threshold) {
  const std::optional<double> recall = RecallAtK(labels_in_order, k, threshold);
  if (!recall) return std::nullopt;
  return *recall > 0.0 ? 1.0 : 0.0;
}

std::optional<double> RecallAtK(const std::vector<double>& labels_in_order, int64_t k, double threshold) {
  const int64_t liked = CountLiked(labels_in_order, threshold);
  if (liked == 0) return std::nullopt;
  const int64_t n = Cutoff(k, labels_in_order.size());
  int64_t hits = 0;
  for (int64_t p = 0; p < n; ++p) hits += labels_in_order[p] >= threshold;
  return static_cast<double>(hits) / static_cast<double>(liked);
}

std::optional<double> ReciprocalRank(const std::vector<double>& labels_in_order, double threshold) {
  for (size_t p = 0; p < labels_in_order.size(); ++p) {
    if (labels_in_order[p] >= threshold) return 1.0 / static_cast<double>(p + 1);
  }
  return std::nullopt;
}

std::optional<double> KendallTauB(const std::vector<double>& x, const std::vector<double>& y) {
  const size_t n = std::min(x.size(), y.size());
  double concordant_minus_discordant = 0.0;
  double untied_x = 0.0;  // pairs not tied in x
  double untied_y = 0.0;  // pairs not tied in y
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) {
      const int cx = Compare(x[i], x[j]);
      const int cy = Compare(y[i], y[j]);
      concordant_minus_discordant += cx * cy;
      untied_x += cx != 0;
      untied_y += cy != 0;
    }
  }
  if (untied_x == 0.0 || untied_y == 0.0) return std::nullopt;
  return concordant_minus_discordant / std::sqrt(untied_x * untied_y);
}

std::optional<double> KendallTauToTrueOrder(const std::vector<double>& labels_in_order) {
  // Score of the item at position p is -p: earlier = better.
  std::vector<double> position_score(labels_in_order.size());
  for (size_t p = 0; p < position_score.size(); ++p) position_score[p] = -static_cast<double>(p);
  return KendallTauB(position_score, labels_in_order);
}

std::optional<double> KendallTauBetweenRankings(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  if (a.size() != b.size() || a.size() < 2) return std::nullopt;
  if (std::set<int64_t>(a.begin(), a.end()) != std::set<int64_t>(b.begin(), b.end())) return std::nullopt;
  // Score each item by minus its position in each ranking, in a's item order.
  std::map<int64_t, double> position_in_b;
  for (size_t p = 0; p < b.size(); ++p) position_in_b[b[p]] = -static_cast<double>(p);
  std::vector<double> x(a.size()), y(a.size());
  for (size_t p = 0; p < a.size(); ++p) {
    x[p] = -static_cast<double>(p);
    y[p] = position_in_b[a[p]];
  }
  return KendallTauB(x, y);
}

PositionBias ComputePositionBias(const std::vector<std::vector<double>>& labels_in_order,
                                 const std::vector<std::vector<int64_t>>& rankings,
                                 const std::vector<int64_t>& ks) {
  PositionBias bias;
  for (int64_t k : ks) {
    std::vector<double> values;
    for (const std::vector<double>& labels : labels_in_order) {
      if (std::optional<double> ndcg = NdcgAtK(labels, k)) values.push_back(*ndcg);
    }
    if (values.empty()) continue;
    const double mean = std::accumulate(values.begin(), values.end(), 0.0) / values.size();
    double squares = 0.0;
    for (double v : values) squares += (v - mean) * (v - mean);
    bias.ndcg_std[k] = std::sqrt(squares / values.size());
  }
  double tau_sum = 0.0;
  int64_t pairs = 0;
  for (size_t p = 0; p < rankings.size(); ++p) {
    for (size_t q = p + 1; q < rankings.size(); ++q) {
      if (std::optional<double> tau = KendallTauBetweenRankings(rankings[p], rankings[q])) {
        tau_sum += *tau;
        ++pairs;
      }
    }
  }
  if (pairs > 0) bias.mean_pairwise_kendall_tau = tau_sum / pairs;
  return bias;
}

MetricsAccumulator::MetricsAccumulator(MetricsOptions options) : options_(std::move(options)) {}

void MetricsAccumulator::Observe(const std::string& name, std::optional<double> value) {
  Mean_& mean = means_[name];  // created even when undefined, so Summary lists it
  if (!value) return;
  mean.sum += *value;
  ++mean.count;
}

void MetricsAccumulator::AddList(const std::vector<double>& labels_in_order) {
  ++lists_;
  for (int64_t k : options_.ks) {
    Observe(absl::StrCat("ndcg@", k), NdcgAtK(labels_in_order, k));
    Observe(absl::StrCat("hr@", k), HitRateAtK(labels_in_order, k, options_.liked_threshold));
    Observe(absl::StrCat("recall@", k), RecallAtK(labels_in_order, k, options_.liked_threshold));
  }
  Observe("mrr", ReciprocalRank(labels_in_order, options_.liked_threshold));
  Observe("kendall_tau", KendallTauToTrueOrder(labels_in_order));
}

void MetricsAccumulator::AddPositionBiasGroup(const std::vector<std::vector<double>>& labels_in_order,
                                              const std::vector<std::vector<int64_t>>& rankings) {
  ++groups_;
  const PositionBias bias = ComputePositionBias(labels_in_order, rankings, options_.ks);
  for (int64_t k : options_.ks) {
    auto it = bias.ndcg_std.find(k);
    Observe(absl::StrCat("position_bias.ndcg@", k, "_std"),
            it == bias.ndcg_std.end() ? std::nullopt : std::optional<double>(it->second));
  }
  Observe("position_bias.pairwise_kendall_tau", bias.mean_pairwise_kendall_tau);
}

std::optional<double> MetricsAccumulator::Mean(const std::string& name) const {
  auto it = means_.find(name);
  if (it == means_.end() || it->second.count == 0) return std::nullopt;
  return it->second.sum / static_cast<double>(it->second.count);
}

nlohmann::ordered_json MetricsAccumulator::Summary() const {
  auto value = [&](const std::string& name) -> nlohmann::ordered_json {
    std::optional<double> mean = Mean(name);
    return mean ? nlohmann::ordered_json(*mean) : nlohmann::ordered_json(nullptr);
  };
  auto count = [&](const std::string& name) -> int64_t {
    auto it = means_.find(name);
    return it == means_.end() ? 0 : it->second.count;
  };
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  out["lists"] = lists_;
  for (int64_t k : options_.ks) out[absl::StrCat("ndcg@", k)] = value(absl::StrCat("ndcg@", k));
  for (int64_t k : options_.ks) out[absl::StrCat("hr@", k)] = value(absl::StrCat("hr@", k));
  for (int64_t k : options_.ks) out[absl::StrCat("recall@", k)] = value(absl::StrCat("recall@", k));
  out["mrr"] = value("mrr");
  out["kendall_tau"] = value("kendall_tau");
  out["liked_threshold"] = options_.liked_threshold;
  out["lists_with_gain"] = count(absl::StrCat("ndcg@", options_.ks.empty() ? 0 : options_.ks.front()));
  out["lists_with_liked"] = count("mrr");
  out["lists_with_order"] = count("kendall_tau");
  if (groups_ > 0) {
    nlohmann::ordered_json bias = nlohmann::ordered_json::object();
    bias["groups"] = groups_;
    for (int64_t k : options_.ks) {
      bias[absl::StrCat("ndcg@", k, "_std")] = value(absl::StrCat("position_bias.ndcg@", k, "_std"));
    }
    bias["pairwise_kendall_tau"] = value("position_bias.pairwise_kendall_tau");
    out["position_bias"] = bias;
  }
  return out;
}

}  // namespace alro::losses
