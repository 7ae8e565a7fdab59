// core/prefix_sharing.cc: the prefix plan (sorted rows, adjacent common
// prefixes) and the forward that computes each group's prefix once.
#include "core/prefix_sharing.h"

#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <map>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace alro::core {

absl::StatusOr<PrefixSharing> ParsePrefixSharing(const std::string& text, const std::string& key) {
  if (text == "auto") return PrefixSharing::kAuto;
  if (text == "always") return PrefixSharing::kAlways;
  if (text == "never") return PrefixSharing::kNever;
  return InvalidArgument(absl::StrCat(key, ": unknown value \"", text, "\""),
                         "use auto (share a common prompt prefix when it saves a quarter of the tokens), always, "
                         "or never (every row runs its whole prompt; for comparison)");
}

PrefixPlan PlanPrefixSharing(const at::Tensor& tokens, int64_t max_length, PrefixSharing mode) {
  ALRO_CHECK(tokens.dim() == 2, "PlanPrefixSharing wants tokens [B, T]");
  const int64_t b = tokens.size(0), t = tokens.size(1);
  max_length = std::min(max_length, t);
  PrefixPlan plan;
  if (mode == PrefixSharing::kNever || b < 2 || max_length < 1) return plan;
  const at::Tensor cpu = tokens.to(at::kCPU, at::kLong).contiguous();
  const int64_t* data = cpu.data_ptr<int64_t>();
  const auto row = [&](int64_t r) { return data + r * t; };
  // In lexicographic order, the rows whose first P tokens agree are
  // consecutive, and P-prefix groups split exactly where the common prefix
  // of neighbours (lcp) is shorter than P.
  std::vector<int64_t> sorted(static_cast<size_t>(b));
  std::iota(sorted.begin(), sorted.end(), 0);
  std::stable_sort(sorted.begin(), sorted.end(), [&](int64_t x, int64_t y) {
    return std::lexicographical_compare(row(x), row(x) + max_length, row(y), row(y) + max_length);
  });
  std::vector<int64_t> lcp(static_cast<size_t>(b), 0);  // lcp[0] unused
  for (int64_t i = 1; i < b; ++i) {
    const int64_t* x = row(sorted[i - 1]);
    lcp[i] = std::mismatch(x, x + max_length, row(sorted[i])).first - x;
  }
  // saving(P) = P x (B - groups(P)) grows with P while groups(P) stays, so
  // its maximum lies at one of the lcp values.
  int64_t best = 0, best_saving = 0;
  for (int64_t i = 1; i < b; ++i) {
    const int64_t p = lcp[i];
    if (p < 1) continue;
    int64_t groups = 1;
    for (int64_t j = 1; j < b; ++j) groups += lcp[j] < p ? 1 : 0;
    const int64_t saving = p * (b - groups);
    if (saving > best_saving || (saving == best_saving && p < best)) best = p, best_saving = saving;
  }
  if (best_saving == 0) return plan;
  if (mode == PrefixSharing::kAuto &&
      static_cast<double>(best_saving) < kAutoMinSavedShare * static_cast<double>(b * t)) {
    return plan;
  }
  plan.length = best;
  plan.group.assign(static_cast<size_t>(b), -1);
  // Groups numbered by their first row, each computed from that row.
  std::vector<int64_t> sorted_group(static_cast<size_t>(b), 0);
  for (int64_t i = 1; i < b; ++i) sorted_group[i] = sorted_group[i - 1] + (lcp[i] < best ? 1 : 0);
  std::vector<int64_t> by_row(static_cast<size_t>(b));
  for (int64_t i = 0; i < b; ++i) by_row[sorted[i]] = sorted_group[i];
  std::map<int64_t, int64_t> number;
  for (int64_t r = 0; r < b; ++r) {
    auto [it, fresh] = number.emplace(by_row[r], static_cast<int64_t>(plan.sources.size()));
    if (fresh) plan.sources.push_back(r);
    plan.group[r] = it->second;
  }
  return plan;
}

at::Tensor ForwardSharingPrefix(Decoder& model, const at::Tensor& tokens, const PrefixPlan& plan, KVCache* cache) {
  const at::Tensor ids = tokens.to(at::kLong);
  const int64_t p = plan.length;
  if (p == 0) return model.Forward(ids, cache);
  const int64_t b = ids.size(0), t = ids.size(1);
  ALRO_CHECK(!at::GradMode::is_enabled(), "ForwardSharingPrefix runs without gradients");
  ALRO_CHECK(cache != nullptr && cache->length == 0 && cache->batch() == b && cache->capacity() >= t,
             "ForwardSharingPrefix wants an empty cache of batch ", b, " and capacity >= ", t);
  ALRO_CHECK(p < t && static_cast<int64_t>(plan.group.size()) == b, "prefix plan of ", plan.group.size(),
             " rows and length ", p, " for tokens [", b, ", ", t, "]");
  const int64_t g = static_cast<int64_t>(plan.sources.size());
  KVCache prefix = model.NewKVCache(g, p);
  model.Forward(ids.index_select(0, at::tensor(plan.sources, at::kLong)).narrow(1, 0, p), &prefix);
  const at::Tensor rows = at::tensor(plan.group, at::kLong).to(model.device());
  // Every row's cache needs its own contiguous keys (its suffix is written
  // after them and attention reads [0, length) as one tensor), so the prefix
  // is copied once per row; a single group is broadcast without a gathered
  // temporary. The copy is 2 x kv_dim values per token and layer against
  // the forward of the token it replaces.
  const auto spread = [&](const at::Tensor& source) {
    return g == 1 ? source.expand({b, -1, -1, -1}) : source.index_select(0, rows);
  };
  for (size_t l = 0; l < cache->keys.size(); ++l) {
    cache->keys[l].narrow(2, 0, p).copy_(spread(prefix.keys[l]));
    cache->values[l].narrow(2, 0, p).copy_(spread(prefix.values[l]));
  }
  cache->length = p;
  return model.Forward(ids.narrow(1, p, t - p), cache);
}

}  // namespace alro::core
