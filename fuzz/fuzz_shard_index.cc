// fuzz/fuzz_shard_index.cc: the per-shard index (.idx) decoder. A decoded
// index must have strictly increasing offsets inside the recorded shard size.
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "data/record_reader.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace alro;
  absl::StatusOr<data::ShardIndex> index =
      data::DecodeShardIndex(absl::string_view(reinterpret_cast<const char*>(data), size), "fuzz.rec.idx");
  if (!index.ok()) return 0;
  for (size_t i = 1; i < index->offsets.size(); ++i) {
    fuzz::Expect(index->offsets[i] > index->offsets[i - 1], absl::StrCat("offsets not increasing at ", i));
  }
  return 0;
}
