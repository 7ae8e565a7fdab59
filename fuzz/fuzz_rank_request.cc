// fuzz/fuzz_rank_request.cc: one line of `alro rank` input. A request that
// parses has between 1 and the model's identifiers candidates, one id each.
#include <cstdint>

#include "data/rank_request.h"
#include "fuzz/fuzz_util.h"

namespace {
constexpr size_t kIdentifiers = 20;  // prompt.identifiers' default A..T
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace alro;
  absl::StatusOr<data::RankRequest> r = data::ParseRankRequest(fuzz::AsString(data, size), "fuzz.jsonl:1", kIdentifiers);
  if (!r.ok()) return 0;
  const size_t m = static_cast<size_t>(r->example.candidates_size());
  fuzz::Expect(m >= 1 && m <= kIdentifiers && r->candidate_ids.size() == m, "candidate count");
  return 0;
}
