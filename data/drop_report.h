// data/drop_report.h: counts and explains every piece of data that was
// skipped or dropped (malformed input rows, users with too few ratings,
// corrupt records read under on_corrupt=skip), so that nothing is dropped
// silently.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace alro::data {

/// A thread-safe tally of dropped data, grouped by reason. Each reason keeps
/// its count and the first few occurrences (where + detail) verbatim, so the
/// summary both counts and explains.
class DropReport {
 public:
  /// Occurrences kept per reason for the summary.
  static constexpr size_t kDefaultExamplesPerReason = 5;

  /// `subject` names what is counted, e.g. "rows" or "records".
  explicit DropReport(std::string subject = "items", size_t examples_per_reason = kDefaultExamplesPerReason);

  DropReport(const DropReport& other);
  DropReport& operator=(const DropReport& other);

  /// Records one dropped item. `reason` is a short category ("bad rating"),
  /// `where` locates it (file:line, file record N at byte B), `detail` says
  /// what was wrong with it.
  /// `count` > 1 drops that many items at once (e.g. a user's ratings).
  void Add(absl::string_view reason, absl::string_view where, absl::string_view detail, int64_t count = 1);

  /// Adds `count` items of `reason` without individual locations (e.g. the
  /// records of a missing shard).
  void AddCount(absl::string_view reason, int64_t count, absl::string_view explanation);

  /// Adds `count` items of `reason` that are counted but not listed (their
  /// occurrences were left out earlier, e.g. beyond a per-chunk example
  /// limit): the summary says "... and N more".
  void AddUnlisted(absl::string_view reason, int64_t count);

  /// Adds everything `other` holds, as if its Add() calls had come after
  /// this report's: counts add up, examples are kept up to the limit.
  void Merge(const DropReport& other);

  /// The report as JSON text, and back (results of other threads or ranks).
  std::string Serialize() const;
  static absl::StatusOr<DropReport> Deserialize(const std::string& text);

  /// Total items dropped.
  int64_t total() const;
  /// Items dropped for `reason` (0 if none).
  int64_t count(absl::string_view reason) const;
  /// Reason -> count.
  std::map<std::string, int64_t> counts() const;

  /// Multi-line text: "N rows dropped" then one line per reason with its
  /// count and its first occurrences. "no rows dropped" when empty.
  std::string Summary() const;

 private:
  struct Reason {
    int64_t count = 0;
    std::vector<std::string> examples;
    int64_t more = 0;  // occurrences not kept in `examples`
  };
  std::string subject_;
  size_t examples_per_reason_;
  mutable std::mutex mu_;
  std::map<std::string, Reason> reasons_;
};

}  // namespace alro::data
