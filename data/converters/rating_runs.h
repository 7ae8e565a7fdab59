// data/converters/rating_runs.h: the external sort that groups ratings per
// user within a memory budget. Parsed rating rows are buffered per user
// partition (RunBuffer); a full buffer is sorted by (user, timestamp,
// input order) and spilled to one run file per partition in the scratch
// directory; a
// partition's runs are then merged (RunMerger), which yields each user's
// ratings together and in time order while holding only a small read
// buffer per run. A partition with more runs than one merge may open (the
// merge fan-in, bounded by the open-file limit and the memory budget) is
// first reduced by intermediate merges into longer runs (ReduceRuns); the
// rows are totally ordered, so the final stream is the same either way.
//
// A row is encoded as [u32 user bytes][u32 item bytes][f32 rating]
// [i64 timestamp][i64 sequence][user][item] in host byte order, in memory
// and in run files alike (run files are scratch, read back by the same job).
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace alro::data {

/// One decoded row; the views point into a RunBuffer or a run reader.
struct RatingRow {
  absl::string_view user;
  absl::string_view item;
  float rating = 0.0f;
  int64_t timestamp = 0;
  int64_t sequence = 0;  ///< byte offset of the row in the ratings file: unique, input order
};

/// Bytes of the fixed part of an encoded row.
inline constexpr size_t kRunRowHeaderBytes = 28;

/// The rows one parse thread has read and not yet spilled, of every user
/// partition: one arena allocated once (its pages become resident only as
/// rows fill them, and it is never copied to grow), and per partition the
/// offsets of its rows. What it holds is therefore what bytes() says, which
/// lets the converter keep a hard memory cap.
class RunBuffer {
 public:
  /// A buffer for `partitions` partitions whose arena holds `arena_bytes`
  /// (a row that does not fit grows it, the only copy; callers spill first).
  RunBuffer(int64_t partitions, size_t arena_bytes);
  void Add(int64_t partition, absl::string_view user, absl::string_view item, float rating, int64_t timestamp,
           int64_t sequence);
  /// Memory the rows take: the arena's used bytes and the offsets' capacity.
  size_t bytes() const { return used_ + offset_bytes_; }
  bool empty() const { return rows_ == 0; }
  int64_t rows() const { return rows_; }
  /// Sorts each partition's rows by (user, timestamp, sequence), writes
  /// every non-empty partition p to the run file `path(p)`, and empties the
  /// buffer (keeping its memory for the next rows). Returns (p, path) of
  /// the runs written, in partition order.
  absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> SpillSorted(
      const std::function<std::string(int64_t)>& path);

 private:
  std::unique_ptr<char[]> arena_;
  size_t capacity_ = 0;
  size_t used_ = 0;
  std::vector<std::vector<uint32_t>> offsets_;  // per partition, into arena_
  size_t offset_bytes_ = 0;                     // their capacities, bytes
  int64_t rows_ = 0;
};

/// The largest arena a RunBuffer takes (its offsets are 32-bit).
inline constexpr size_t kMaxRunArenaBytes = (size_t{1} << 32) - 1;

/// Merges sorted run files into one stream in (user, timestamp, sequence)
/// order.
class RunMerger {
 public:
  /// Opens `paths`, reading each through a buffer of `buffer_bytes`.
  static absl::StatusOr<std::unique_ptr<RunMerger>> Open(const std::vector<std::string>& paths,
                                                         size_t buffer_bytes);
  ~RunMerger();
  /// The next row into `row` (valid until the next call); false at the end.
  absl::StatusOr<bool> Next(RatingRow* row);
  /// Bytes of the runs consumed so far.
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  struct Reader;
  RunMerger() = default;
  absl::Status Advance(size_t reader);
  std::vector<std::unique_ptr<Reader>> readers_;
  std::vector<size_t> heap_;  // reader indices with a current row, min-heap by row key
  size_t last_ = SIZE_MAX;    // reader whose row Next() returned last (advanced on the next call)
  uint64_t bytes_read_ = 0;
};

/// True when row a sorts before row b: user, then timestamp, then sequence.
bool RowBefore(const RatingRow& a, const RatingRow& b);

/// Merges sorted runs until at most `fan_in` (>= 2) remain: each step merges
/// the first min(fan_in, runs - fan_in + 1) runs into a new run, named by
/// `intermediate_path(k)` for the k-th (0, 1, ...), appends it and deletes
/// its inputs, so each row is rewritten as few times as the fan-in allows
/// (once while runs <= fan_in * (fan_in - 1) + 1). Returns the remaining
/// runs; adds the intermediate runs written to `*written`.
absl::StatusOr<std::vector<std::string>> ReduceRuns(std::vector<std::string> runs, size_t fan_in,
                                                    size_t buffer_bytes,
                                                    const std::function<std::string(int64_t)>& intermediate_path,
                                                    int64_t* written);

/// Open files one process may hold beyond the merges' runs (standard
/// streams, MPI, the item and ratings inputs, directories).
inline constexpr int64_t kReservedOpenFiles = 64;
/// Open files each merging thread holds besides its runs: the shard and
/// index writers of three splits and an intermediate run being written.
inline constexpr int64_t kOpenFilesPerMerger = 8;
/// The most runs one merge reads at once, whatever the limits allow: beyond
/// it a merge's heap and read buffers stop paying for the pass they save.
inline constexpr size_t kMaxMergeFanIn = 1024;

/// Raises this process's soft limit on open files to its hard limit (which
/// needs no privilege) and returns the soft limit now in force (INT64_MAX
/// when unlimited or unknown).
int64_t RaiseOpenFileLimit();

/// The fan-in of each of `mergers` threads merging at once: what the
/// open-file limit leaves after the reserves above, what `memory_bytes`
/// (all mergers' read buffers together) holds at `min_buffer_bytes` per
/// run, at most kMaxMergeFanIn and `requested` (when > 0), at least 2.
size_t MergeFanIn(int64_t open_file_limit, int mergers, int64_t memory_bytes, size_t min_buffer_bytes,
                  size_t requested);

}  // namespace alro::data
