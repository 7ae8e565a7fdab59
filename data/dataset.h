// data/dataset.h: one split of a converted data set as an array of
// ListExamples: record i of the split is found through the manifest's shard
// counts and the shard's index, read and CRC-checked, and parsed.
//
// on_corrupt=fail: the first problem is an error (missing shard, manifest
// that disagrees with a shard, bad CRC, unparsable record).
// on_corrupt=skip: problems are counted in the DropReport, each record once;
// Read() of a bad record still returns its error so that the caller can
// substitute another one.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/drop_report.h"
#include "data/list_example.pb.h"
#include "data/manifest.h"
#include "data/record_reader.h"

namespace alro::data {

/// Random access to the records of one split. Read() is thread-safe.
class SplitReader {
 public:
  /// Opens split `split` of the data set in `dir`. Under kFail every shard
  /// must be present and agree with the manifest.
  static absl::StatusOr<std::shared_ptr<const SplitReader>> Open(const std::string& dir, const std::string& split,
                                                                 OnCorrupt on_corrupt);

  /// Records in the split (the manifest's count, bad ones included).
  int64_t size() const { return info_.records; }
  /// Records per shard, in shard order.
  std::vector<int64_t> shard_records() const;
  const Manifest& manifest() const { return manifest_; }
  const std::string& dir() const { return dir_; }
  const std::string& split() const { return info_.name; }
  OnCorrupt on_corrupt() const { return on_corrupt_; }

  /// Reads and parses record `i` (0 <= i < size()).
  absl::Status Read(int64_t i, proto::ListExample* example) const;

  /// Skipped records and shards (under kSkip).
  const DropReport& drops() const { return drops_; }

 private:
  SplitReader() = default;
  absl::Status ReadShardRecord(size_t shard, int64_t local, int64_t global, proto::ListExample* example) const;
  void ReportOnce(int64_t global, const absl::Status& status) const;

  std::string dir_;
  Manifest manifest_;
  SplitInfo info_;
  OnCorrupt on_corrupt_ = OnCorrupt::kFail;
  std::vector<std::optional<ShardReader>> shards_;  // nullopt: unusable (kSkip)
  std::vector<int64_t> first_record_;               // global index of each shard's record 0
  mutable DropReport drops_{"records"};
  mutable std::mutex reported_mu_;
  mutable std::set<int64_t> reported_;
};

}  // namespace alro::data
