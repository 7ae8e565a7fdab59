// fuzz/fuzz_rankings_jsonl.cc: the rankings JSONL that `alro metrics` reads.
// Every metric of a summary that parses must be finite.
#include <cmath>
#include <cstdint>

#include "fuzz/fuzz_util.h"
#include "losses/ranking_jsonl.h"

namespace {
// Walks the summary and checks that every number is finite.
void ExpectFinite(const nlohmann::ordered_json& j, const std::string& where) {
  if (j.is_number_float()) alro::fuzz::Expect(std::isfinite(j.get<double>()), "non-finite metric at " + where);
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) ExpectFinite(it.value(), where + "." + it.key());
  }
  if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) ExpectFinite(j[i], where + "[" + std::to_string(i) + "]");
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace alro;
  absl::StatusOr<nlohmann::ordered_json> summary =
      losses::ComputeMetricsFromJsonl(fuzz::AsString(data, size), "fuzz.jsonl", losses::MetricsOptions());
  if (summary.ok()) ExpectFinite(*summary, "summary");
  return 0;
}
