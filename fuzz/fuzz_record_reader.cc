// fuzz/fuzz_record_reader.cc: TFRecord framing and the ListExample payload.
// The input is a shard: frames are checked one after another (as
// SequentialRecordReader and `alro data verify` do), and every payload that
// passes both CRCs is parsed as a ListExample. The same bytes also go
// through SequentialRecordReader on a file, which must agree frame by frame.
#include <cstdint>

#include "data/list_example.pb.h"
#include "data/record_reader.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace alro;
  uint64_t offset = 0;
  int64_t record = 0;
  std::vector<std::string> payloads;
  while (offset < size) {
    absl::StatusOr<absl::string_view> payload = data::CheckFrame(data, size, offset, "fuzz.rec", record, 0);
    if (!payload.ok()) break;
    fuzz::Expect(payload->data() >= reinterpret_cast<const char*>(data) &&
                     payload->data() + payload->size() <= reinterpret_cast<const char*>(data) + size,
                 "payload outside the buffer");
    data::proto::ListExample example;
    (void)example.ParseFromArray(payload->data(), static_cast<int>(payload->size()));
    payloads.emplace_back(*payload);
    offset = static_cast<uint64_t>(payload->data() + payload->size() - reinterpret_cast<const char*>(data)) + 4;
    ++record;
  }
  absl::StatusOr<data::SequentialRecordReader> reader =
      data::SequentialRecordReader::Open(fuzz::WriteScratch("shard.rec", fuzz::AsString(data, size)));
  if (!reader.ok()) return 0;
  for (size_t i = 0;; ++i) {
    absl::string_view payload;
    absl::StatusOr<bool> more = reader->Next(&payload);
    if (!more.ok() || !*more) break;
    fuzz::Expect(i < payloads.size() && payload == payloads[i], "SequentialRecordReader disagrees with CheckFrame");
  }
  return 0;
}
