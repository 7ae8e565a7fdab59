// data/converters/memory_budget.h: how one rank of `alro convert` keeps its
// peak resident memory (what getrusage and /usr/bin/time -v report) within
// --memory-limit. The process measures what it already holds (the binary
// and its libraries, the item table: VmRSS, not an estimate), and every
// phase sizes its buffers from what the limit leaves: the parse threads'
// chunks, rating tallies and sorted-run buffers, the tokenizer's corpus and
// trainer, the item statistics, and the merges' read buffers and shard
// writers. A limit that cannot hold the smallest buffers is refused before
// any work, with the minimum (docs/data.md, "Memory").
#pragma once

#include <cstdint>

namespace alro::data {

/// Resident memory of this process now (VmRSS), in bytes; 0 when unknown.
int64_t ResidentBytes();

/// Makes freed buffers of 256 KiB and more go back to the system at once
/// (glibc otherwise keeps them, raising its mmap threshold as buffers grow;
/// `alro` keeps every freed byte for training), so that resident memory
/// follows what the conversion holds. Process-wide: ConvertDataset calls it.
void ReturnLargeFreesToTheSystem();

/// Bytes not counted by any phase: allocator slack, thread stacks, the
/// progress thread, small bookkeeping.
inline constexpr int64_t kMemoryReserveBytes = int64_t{12} << 20;
/// ... and per worker thread (its stack and malloc arena).
inline constexpr int64_t kMemoryReservePerThread = int64_t{1} << 20;
/// What one item costs per copy of the per-item rating tallies (a hash
/// slot, its id, a few (rating, count) pairs); parsing holds one copy per
/// thread and the exchange of results a few more.
inline constexpr int64_t kTallyBytesPerItem = 160;
/// Copies of the tallies besides the threads' own (merged, encoded, sent,
/// received, decoded).
inline constexpr int64_t kTallyExchangeCopies = 4;
/// A parse thread's run file write buffer and read-on room past its chunk.
inline constexpr int64_t kParseThreadExtraBytes = int64_t{3} << 19;
/// The smallest sorted-run buffer of a parse thread.
inline constexpr int64_t kMinSpillBytes = int64_t{1} << 20;
/// A merging thread's shard writers (3 splits: a 1 MiB write buffer and up
/// to 100,000 record offsets each) and a user's rows and lists.
inline constexpr int64_t kMergerFixedBytes = int64_t{8} << 20;
/// Training the tokenizer: fixed bytes (the trainer's tables) ...
inline constexpr int64_t kTokenizerFixedBytes = int64_t{16} << 20;
/// ... per sentence of its corpus (the corpus's string, the trainer's copy
/// and its per-sentence tables) ...
inline constexpr int64_t kTokenizerBytesPerSentence = 96;
/// ... and per byte of text (the same copies of the characters).
inline constexpr int64_t kTokenizerBytesPerTextByte = 2;

/// What one rank may spend where, from --memory-limit and what it holds.
struct MemoryBudget {
  int64_t limit = 0;        ///< --memory-limit, bytes
  int64_t held = 0;         ///< resident once the item table is read (measured)
  int threads = 1;          ///< worker threads
  int64_t items = 0;        ///< items in the table
  int64_t chunk_bytes = 0;  ///< ratings input per parse chunk

  /// Memory no phase counts (kMemoryReserve* above).
  int64_t Reserve() const;
  /// The per-item rating tallies while parsing and exchanging results.
  int64_t TallyBytes() const;
  /// What a parse thread holds besides its buffered rows.
  int64_t ParseThreadFixed() const;
  /// The rows one parse thread may buffer before it spills a sorted run
  /// (may be below kMinSpillBytes: then the limit is too small).
  int64_t SpillBytes() const;
  /// The smallest --memory-limit with which parsing works.
  int64_t ParseMinimum() const;
  /// Memory left to a phase when the process holds `resident` bytes.
  int64_t Left(int64_t resident) const;
};

/// What training the tokenizer on `sentences` sentences of `text_bytes`
/// bytes in all takes (rank 0).
int64_t TokenizerBytes(int64_t sentences, int64_t text_bytes);

}  // namespace alro::data
