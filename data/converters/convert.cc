// data/converters/convert.cc: the conversion pipeline, in four phases that
// every rank runs, each ending in one exchange of results:
//
//   1 parse   every thread of every rank parses its share of the ratings
//             file's chunks; rows go to the thread's buffer, which spills
//             one sorted run per partition into the scratch directory when
//             the memory budget is reached (memory_budget.h).
//   2 tokens  rank 0 trains the tokenizer on the item titles weighted by
//             their ratings, and checks that it renders the prompt: the
//             first task of its split workers (it needs nothing the split
//             writes); if it fails, every rank removes its shards.
//   3 split   each rank merges the runs of its partitions (partition p goes
//             to rank p mod ranks), one partition per thread at a time, and
//             writes each partition's own shards. A partition with more
//             runs than the merge fan-in (open-file limit, memory) first
//             merges them in intermediate passes.
//   4 finish  rank 0 names the shards in partition order and writes the
//             manifest last.
//
// Why the output does not depend on threads, ranks or memory: users are
// assigned to partitions by a hash of their id, the partition count depends
// on the input size (or --partitions) only, a partition's merged stream is
// the same whatever runs it came from (rows are ordered by user, time and
// byte offset, which is unique), and every result is combined in chunk or
// partition order.
#include "data/converters/convert.h"

#include <malloc.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <iterator>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/crc32c.h"
#include "common/file_util.h"
#include "common/logging.h"
#include "common/status.h"
#include "data/converters/chunked_input.h"
#include "data/converters/formats.h"
#include "data/converters/item_stats.h"
#include "data/converters/memory_budget.h"
#include "data/item_tokens.h"
#include "data/converters/progress.h"
#include "data/converters/rating_runs.h"
#include "data/prompt.h"
#include "data/random.h"
#include "data/record_format.h"
#include "data/tokenizer.h"
#include "data/tokenizer_extension.h"
#include "nlohmann/json.hpp"

namespace alro::data {
namespace {

constexpr std::array<const char*, 3> kSplitNames = {"train", "valid", "test"};
// Ratings input read per chunk.
constexpr uint64_t kDefaultChunkBytes = uint64_t{4} << 20;
// Room past a chunk for its last line, read on in 64 KiB pieces.
constexpr uint64_t kChunkReadOnRoom = uint64_t{128} << 10;
// Inputs below this size are one partition (their shards stay few).
constexpr uint64_t kSmallInputBytes = uint64_t{32} << 20;
// Larger inputs get kPartitionGroup partitions per this many bytes, at most
// kMaxPartitionGroups groups. 12 divides evenly among 1, 2, 3, 4 and 6
// workers, which keeps every thread busy to the end of the split phase.
constexpr uint64_t kBytesPerPartitionGroup = uint64_t{128} << 20;
constexpr int64_t kPartitionGroup = 12;
constexpr int64_t kMaxPartitionGroups = 8;
// Room in a parse thread's run buffer past its spill threshold (the row
// that crosses it).
constexpr int64_t kSpillHeadroomBytes = int64_t{64} << 10;
// Read buffer of each run while merging.
constexpr size_t kMinMergeBuffer = size_t{64} << 10;
constexpr size_t kMaxMergeBuffer = size_t{4} << 20;
// Pieces a trained tokenizer keeps for text besides its user-defined
// symbols (characters of the titles, and their common pieces).
constexpr int64_t kMinTextPieces = 256;
// The tokenizer corpus is scaled down to at most this many sentences, which
// bounds the trainer's memory and time whatever the number of ratings.
constexpr int64_t kMaxCorpusSentences = int64_t{1} << 18;
// The fewest bytes a rating row takes in any input format.
constexpr uint64_t kShortestRowBytes = 8;
// The prompt's fixed words appear once per this many ratings in the corpus.
constexpr int64_t kRatingsPerLiteral = 10;
// Scratch directory inside the output when --scratch is not given.
constexpr char kScratchName[] = "convert.tmp.scratch";
constexpr char kNoTitleReason[] = "rating of an item without a title";
// Item statistics: bytes per item besides its ratings' (a vector, a counter).
constexpr int64_t kStatsBytesPerItem = 32;

int SplitSlot(proto::Split split) {
  return split == proto::SPLIT_TRAIN ? 0 : split == proto::SPLIT_VALID ? 1 : 2;
}

// Makes `dir` ready: creates it, or clears an earlier alro data set from it
// (manifest first, so a crash in between leaves no manifest that lies).
absl::Status PrepareOutput(const std::string& dir) {
  if (!PathExists(dir)) return MakeDirectories(dir);
  if (!IsDirectory(dir)) {
    return InvalidArgument(absl::StrCat("--output ", dir, " is a file"), "name a directory");
  }
  ALRO_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDirectory(dir));
  for (const std::string& name : names) {
    const bool ours = name == kManifestName || name == kTokenizerName || absl::EndsWith(name, kShardSuffix) ||
                      absl::EndsWith(name, kIndexSuffix) || absl::StrContains(name, ".tmp.");
    if (!ours) {
      return UserError(absl::StatusCode::kFailedPrecondition,
                       absl::StrCat("--output ", dir, " contains '", name, "', which is not part of an alro data set"),
                       "convert into an empty or new directory");
    }
  }
  const std::string manifest = JoinPath(dir, kManifestName);
  if (PathExists(manifest)) ALRO_RETURN_IF_ERROR(RemoveAll(manifest));
  for (const std::string& name : names) {
    if (name != kManifestName) ALRO_RETURN_IF_ERROR(RemoveAll(JoinPath(dir, name)));
  }
  return SyncDirectory(dir);
}

// Every rank's `payload` after a phase, in rank order. If any rank failed,
// every rank returns an error (the failing rank its own), so no rank goes
// on to a collective that the others will not reach.
absl::StatusOr<std::vector<std::string>> Exchange(ConvertGroup& group, const absl::Status& mine,
                                                  const std::string& payload, const char* phase) {
  const std::string sent =
      mine.ok() ? absl::StrCat("+", payload) : absl::StrCat("-", absl::StatusCodeToString(mine.code()), ": ",
                                                            mine.message());
  ALRO_ASSIGN_OR_RETURN(std::vector<std::string> all, group.AllGather(sent));
  if (!mine.ok()) return mine;
  for (size_t r = 0; r < all.size(); ++r) {
    if (all[r].empty() || all[r][0] != '+') {
      return absl::AbortedError(absl::StrCat("rank ", r, " failed while ", phase, ": ",
                                             all[r].empty() ? "" : all[r].substr(1)));
    }
    all[r].erase(0, 1);
  }
  return all;
}

int64_t AutoPartitions(uint64_t ratings_bytes) {
  if (ratings_bytes < kSmallInputBytes) return 1;
  const int64_t groups = static_cast<int64_t>((ratings_bytes + kBytesPerPartitionGroup / 2) / kBytesPerPartitionGroup);
  return kPartitionGroup * std::clamp<int64_t>(groups, 1, kMaxPartitionGroups);
}

// Per rating value: how often an item was rated so (tokenizer weights).
using RatingCounts = std::vector<std::pair<float, int64_t>>;

void CountRating(RatingCounts* counts, float rating, int64_t n) {
  for (auto& [r, c] : *counts) {
    if (r == rating) {
      c += n;
      return;
    }
  }
  counts->emplace_back(rating, n);
}

// A dropped row of a chunk, its line still relative to the chunk.
struct PendingDrop {
  std::string reason;
  int64_t line_in_chunk = 0;
  std::string detail;
};

// What parsing one chunk found besides its rows.
struct ChunkResult {
  int64_t chunk = 0;
  int64_t lines = 0;
  int64_t rows = 0;
  std::vector<PendingDrop> drops;          // the first few per reason
  std::map<std::string, int64_t> dropped;  // reason -> count
};

// An inline item definition (generic JSONL) and where it first appeared.
struct InlineItem {
  uint64_t offset = 0;
  proto::Item item;
};

// One parse thread's buffers and tallies.
struct ParseThread {
  std::unique_ptr<RunBuffer> buffer;  // every partition's rows
  int64_t spills = 0;
  std::vector<std::pair<int64_t, std::string>> runs;  // (partition, path)
  absl::flat_hash_map<std::string, RatingCounts> uses;
  std::unordered_map<std::string, InlineItem> inline_items;
};

// The state shared by the parse threads of one rank.
struct ParseContext {
  const InputFormat* format = nullptr;
  std::string scratch;
  int rank = 0;
  int64_t partitions = 1;
  int64_t spill_bytes = 0;
  std::atomic<int64_t> rows{0};
};

absl::Status SpillThread(const ParseContext& ctx, int thread, ParseThread* t) {
  if (t->buffer->empty()) return absl::OkStatus();
  const auto path = [&](int64_t p) {
    return JoinPath(ctx.scratch, absl::StrFormat("p%05d.r%05d.t%03d.s%06d.run", p, ctx.rank, thread, t->spills));
  };
  using Runs = std::vector<std::pair<int64_t, std::string>>;
  ALRO_ASSIGN_OR_RETURN(Runs runs, t->buffer->SpillSorted(path));
  t->runs.insert(t->runs.end(), std::make_move_iterator(runs.begin()), std::make_move_iterator(runs.end()));
  ++t->spills;
  return absl::OkStatus();
}

// Receives one chunk's rows for a parse thread.
class ChunkSink : public RowSink {
 public:
  ChunkSink(ParseContext* ctx, int thread, ParseThread* t, ChunkResult* result)
      : ctx_(ctx), thread_(thread), t_(t), result_(result) {}

  void SetRow(uint64_t offset, int64_t line_in_chunk) {
    offset_ = offset;
    line_ = line_in_chunk;
  }
  absl::Status status() const { return status_; }

  void AddItem(proto::Item item) override {
    auto [it, added] = t_->inline_items.try_emplace(item.item_id());
    if (added || offset_ < it->second.offset) it->second = InlineItem{offset_, std::move(item)};
  }

  void Drop(absl::string_view reason, std::string detail) override {
    int64_t& n = result_->dropped[std::string(reason)];
    if (n++ < static_cast<int64_t>(DropReport::kDefaultExamplesPerReason)) {
      result_->drops.push_back({std::string(reason), line_, std::move(detail)});
    }
  }

 protected:
  void Accept(absl::string_view user, absl::string_view item, float rating, int64_t timestamp) override {
    const auto p = static_cast<int64_t>(HashString(user) % static_cast<uint64_t>(ctx_->partitions));
    t_->buffer->Add(p, user, item, rating, timestamp, static_cast<int64_t>(offset_));
    auto it = t_->uses.find(item);
    if (it == t_->uses.end()) it = t_->uses.try_emplace(std::string(item)).first;
    CountRating(&it->second, rating, 1);
    if (static_cast<int64_t>(t_->buffer->bytes()) > ctx_->spill_bytes && status_.ok()) {
      status_ = SpillThread(*ctx_, thread_, t_);
    }
  }

 private:
  ParseContext* ctx_;
  int thread_;
  ParseThread* t_;
  ChunkResult* result_;
  uint64_t offset_ = 0;
  int64_t line_ = 0;
  absl::Status status_;
};

// Runs fn(worker) on `threads` threads and returns the first error.
absl::Status RunWorkers(int threads, const std::function<absl::Status(int)>& fn) {
  std::vector<absl::Status> status(static_cast<size_t>(threads));
  std::vector<std::thread> pool;
  for (int w = 0; w < threads; ++w) pool.emplace_back([&, w] { status[static_cast<size_t>(w)] = fn(w); });
  for (std::thread& t : pool) t.join();
  for (const absl::Status& s : status) ALRO_RETURN_IF_ERROR(s);
  return absl::OkStatus();
}

// Rating counts per item as bytes: per item [u32 id bytes][id][u32 n] then
// n x [f32 rating][i64 count] (host order: read back by the same job).
// Compact: a JSON array would cost ~150 bytes per (item, rating).
std::vector<uint8_t> EncodeUses(const absl::flat_hash_map<std::string, RatingCounts>& uses) {
  std::vector<uint8_t> out;
  const auto put = [&out](const void* p, size_t n) {
    out.insert(out.end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n);
  };
  for (const auto& [item, counts] : uses) {
    const auto id_bytes = static_cast<uint32_t>(item.size());
    const auto n = static_cast<uint32_t>(counts.size());
    put(&id_bytes, sizeof(id_bytes));
    put(item.data(), item.size());
    put(&n, sizeof(n));
    for (const auto& [rating, count] : counts) {
      put(&rating, sizeof(rating));
      put(&count, sizeof(count));
    }
  }
  return out;
}

absl::Status DecodeUses(const std::vector<uint8_t>& bytes,
                        const std::function<void(const std::string&, float, int64_t)>& fn) {
  size_t at = 0;
  const auto get = [&](void* p, size_t n) {
    if (at + n > bytes.size()) return false;
    std::memcpy(p, bytes.data() + at, n);
    at += n;
    return true;
  };
  std::string id;
  while (at < bytes.size()) {
    uint32_t id_bytes = 0;
    uint32_t n = 0;
    if (!get(&id_bytes, sizeof(id_bytes)) || at + id_bytes > bytes.size()) break;
    id.assign(reinterpret_cast<const char*>(bytes.data() + at), id_bytes);
    at += id_bytes;
    if (!get(&n, sizeof(n))) break;
    for (uint32_t k = 0; k < n; ++k) {
      float rating = 0;
      int64_t count = 0;
      if (!get(&rating, sizeof(rating)) || !get(&count, sizeof(count))) {
        return absl::DataLossError("a rank's rating counts are truncated");
      }
      fn(id, rating, count);
    }
  }
  if (at != bytes.size()) return absl::DataLossError("a rank's rating counts are truncated");
  return absl::OkStatus();
}

// Phase 1 on one rank: parses chunks rank, rank + R, ... of the ratings file
// and returns this rank's results, CBOR-encoded JSON.
absl::StatusOr<std::string> ParsePhase(const ConvertOptions& o, const InputFormat& format, int threads, int rank,
                                       int ranks, int64_t partitions, uint64_t chunk_bytes, int64_t spill_bytes,
                                       const std::string& scratch, int64_t* spilled_runs) {
  const std::string& path = format.ratings_path();
  ALRO_ASSIGN_OR_RETURN(uint64_t file_bytes, FileSize(path));
  const int64_t chunks = ChunkCount(file_bytes, chunk_bytes);
  std::vector<int64_t> mine;
  for (int64_t c = rank; c < chunks; c += ranks) mine.push_back(c);
  ParseContext ctx;
  ctx.format = &format;
  ctx.scratch = scratch;
  ctx.rank = rank;
  ctx.partitions = partitions;
  ctx.spill_bytes = spill_bytes;
  std::vector<ChunkResult> results(mine.size());
  std::vector<ParseThread> state(static_cast<size_t>(threads));
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  {
    PhaseProgress progress("parse", static_cast<int64_t>((file_bytes + static_cast<uint64_t>(ranks) - 1) / ranks),
                           [&](double seconds) {
                             const double rows = static_cast<double>(ctx.rows.load());
                             return absl::StrCat("rank ", rank, ": ", HumanCount(rows), " rows read, ",
                                                 HumanCount(rows / std::max(seconds, 1e-9)), " rows/s");
                           });
    ALRO_RETURN_IF_ERROR(RunWorkers(threads, [&](int w) -> absl::Status {
      ParseThread& t = state[static_cast<size_t>(w)];
      // Allocated once, resident only as rows fill it.
      t.buffer = std::make_unique<RunBuffer>(partitions, static_cast<size_t>(spill_bytes + kSpillHeadroomBytes));
      std::string buffer;
      buffer.reserve(chunk_bytes + kChunkReadOnRoom);
      for (size_t k = next++; k < mine.size() && !failed; k = next++) {
        ChunkResult& result = results[k];
        result.chunk = mine[k];
        ChunkSink sink(&ctx, w, &t, &result);
        absl::StatusOr<int64_t> lines = ForEachLineOfChunk(
            path, file_bytes, chunk_bytes, mine[k], &buffer,
            [&](absl::string_view line, uint64_t offset, int64_t line_in_chunk) {
              if (absl::StripAsciiWhitespace(line).empty()) return;
              sink.SetRow(offset, line_in_chunk);
              if (format.ParseRating(line, mine[k] == 0 && line_in_chunk == 1, &sink)) ++result.rows;
            });
        absl::Status s = lines.ok() ? sink.status() : lines.status();
        if (!s.ok()) {
          failed = true;
          return s;
        }
        result.lines = *lines;
        ctx.rows += result.rows;
        progress.Add(static_cast<int64_t>(std::min(chunk_bytes, file_bytes - static_cast<uint64_t>(mine[k]) * chunk_bytes)));
      }
      absl::Status spilled = SpillThread(ctx, w, &t);
      t.buffer.reset();  // before the tallies are merged and sent
      return spilled;
    }));
  }
  // This rank's results, threads merged.
  nlohmann::json out;
  out["chunks"] = nlohmann::json::array();
  for (const ChunkResult& r : results) {
    nlohmann::json drops = nlohmann::json::array();
    for (const PendingDrop& d : r.drops) drops.push_back({d.reason, d.line_in_chunk, d.detail});
    out["chunks"].push_back({{"chunk", r.chunk}, {"lines", r.lines}, {"rows", r.rows}, {"drops", drops},
                             {"dropped", r.dropped}});
  }
  absl::flat_hash_map<std::string, RatingCounts> uses;
  std::unordered_map<std::string, InlineItem> inline_items;
  nlohmann::json runs = nlohmann::json::array();
  for (ParseThread& t : state) {
    for (const auto& [p, run] : t.runs) runs.push_back({p, run});
    *spilled_runs += static_cast<int64_t>(t.runs.size());
    for (auto& [item, counts] : t.uses) {
      RatingCounts& into = uses[item];
      for (const auto& [rating, n] : counts) CountRating(&into, rating, n);
    }
    for (auto& [id, def] : t.inline_items) {
      auto [it, added] = inline_items.try_emplace(id);
      if (added || def.offset < it->second.offset) it->second = std::move(def);
    }
    t = ParseThread();
  }
  out["runs"] = std::move(runs);
  out["uses"] = nlohmann::json::binary(EncodeUses(uses));
  nlohmann::json inline_list = nlohmann::json::array();
  for (const auto& [id, def] : inline_items) {
    const std::string bytes = def.item.SerializeAsString();
    inline_list.push_back({def.offset, nlohmann::json::binary(std::vector<uint8_t>(bytes.begin(), bytes.end()))});
  }
  out["inline_items"] = std::move(inline_list);
  const std::vector<uint8_t> cbor = nlohmann::json::to_cbor(out);
  return std::string(cbor.begin(), cbor.end());
}

absl::StatusOr<nlohmann::json> FromCbor(const std::string& bytes) {
  nlohmann::json j = nlohmann::json::from_cbor(bytes.begin(), bytes.end(), true, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::DataLossError("a rank's conversion results did not decode");
  return j;
}

// Fills `stats` with every titled rating of every run (all partitions):
// each thread reads whole run files.
absl::Status FillItemStats(const std::vector<std::vector<std::string>>& runs, const ItemTable& items, int threads,
                           ItemStatsIndex* stats) {
  constexpr size_t kStatsReadBuffer = size_t{1} << 20;
  std::vector<const std::string*> files;
  for (const auto& list : runs) {
    for (const std::string& run : list) files.push_back(&run);
  }
  std::atomic<size_t> next{0};
  ALRO_RETURN_IF_ERROR(RunWorkers(threads, [&](int) -> absl::Status {
    for (size_t k = next++; k < files.size(); k = next++) {
      ALRO_ASSIGN_OR_RETURN(std::unique_ptr<RunMerger> reader, RunMerger::Open({*files[k]}, kStatsReadBuffer));
      RatingRow row;
      while (true) {
        ALRO_ASSIGN_OR_RETURN(bool more, reader->Next(&row));
        if (!more) break;
        const int32_t item = items.Find(row.item);
        if (item >= 0 && !items.item(item).title().empty()) stats->Add(item, row.timestamp, row.rating);
      }
    }
    return absl::OkStatus();
  }));
  std::atomic<int32_t> next_item{0};
  constexpr int32_t kItemsPerTask = 256;
  return RunWorkers(threads, [&](int) -> absl::Status {
    for (int32_t begin = next_item.fetch_add(kItemsPerTask); begin < stats->items();
         begin = next_item.fetch_add(kItemsPerTask)) {
      stats->Finish(begin, std::min(stats->items(), begin + kItemsPerTask));
    }
    return absl::OkStatus();
  });
}

// The text the tokenizer is trained on, weighted roughly as prompts will
// show it (SentencePiece counts repeated sentences): each item's display
// title once per rating of it, each rating value once per use, and the
// prompt's fixed words once per ten ratings, which makes them single pieces
// early; with identifiers as ordinary pieces, the identifiers as words just
// as often, so that each becomes one piece. Large inputs are scaled down to
// kMaxCorpusSentences. Sentences come in a fixed order, so training is
// deterministic.
std::vector<std::string> TokenizerCorpus(const ItemTable& items, const std::vector<int64_t>& item_uses,
                                         const std::map<std::string, int64_t>& rating_uses,
                                         const std::map<std::string, int64_t>& stat_text_uses, int64_t total,
                                         const ConvertOptions& o) {
  const auto scaled = [&](int64_t times) {
    if (total <= kMaxCorpusSentences) return std::max<int64_t>(1, times);
    return std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(times) * kMaxCorpusSentences /
                                                     static_cast<double>(total)));
  };
  std::vector<std::string> sentences;
  const auto add = [&](const std::string& s, int64_t times) {
    for (int64_t k = 0, n = scaled(times); k < n && !s.empty(); ++k) sentences.push_back(s);
  };
  std::vector<std::string> literals = PromptLiterals(o.prompt);
  if (!o.identifiers_as_symbols) {
    std::string words;
    for (const std::string& id : o.prompt.identifiers) absl::StrAppend(&words, words.empty() ? "" : " ", id);
    literals.push_back(words);
  }
  for (const std::string& literal : literals) add(literal, std::max<int64_t>(1, total / kRatingsPerLiteral));
  for (int32_t i = 0; i < items.size(); ++i) {
    if (items.item(i).title().empty()) continue;
    add(ItemDisplayTitle(items.item(i), static_cast<size_t>(o.prompt.max_title_chars)),
        std::max<int64_t>(1, item_uses[static_cast<size_t>(i)]));
  }
  for (const auto& [text, uses] : rating_uses) add(text, uses);
  for (const auto& [text, uses] : stat_text_uses) add(text, uses);
  return sentences;
}

// The {count} and {mean} texts the lists can show, each weighted by the
// ratings after which an item has those statistics: for every item and
// every k, its statistics over its first k ratings in time (a list's
// cut-off always falls between two such groups). Computed before the split
// (lists do not exist yet), so it covers every text a list can show.
std::map<std::string, int64_t> StatTextUses(const ItemStatsIndex& stats, const config::PromptConfig& prompt) {
  std::map<std::string, int64_t> uses;
  proto::Interaction x;
  for (int32_t item = 0; item < stats.items(); ++item) {
    const int64_t n = stats.ratings(item);
    for (int64_t k = 0; k <= n; ++k) {
      // Statistics as of a moment after the first k ratings (ties grouped).
      if (k > 0 && k < n && stats.timestamp(item, k) == stats.timestamp(item, k - 1)) continue;
      const ItemStatsAt at = stats.At(item, k < n ? stats.timestamp(item, k) : INT64_MAX);
      x.mutable_item_stats()->set_count(at.count);
      x.mutable_item_stats()->set_mean(static_cast<float>(at.mean));
      ++uses[ItemCountText(x)];
      ++uses[ItemMeanText(prompt, x)];
    }
  }
  return uses;
}

// A list for the tokenizer check: the first titled items, every rating
// value of the data set in turn, as many candidates as the split makes.
proto::ListExample SampleList(const ItemTable& items, const std::vector<float>& ratings, const SplitOptions& split) {
  proto::ListExample ex;
  ex.set_example_id("tokenizer-check");
  std::vector<int32_t> titled;
  for (int32_t i = 0; i < items.size() && static_cast<int64_t>(titled.size()) < split.max_history + split.num_candidates;
       ++i) {
    if (!items.item(i).title().empty()) titled.push_back(i);
  }
  if (titled.empty() || ratings.empty()) return ex;
  const int64_t lines = std::max<int64_t>(split.max_history + split.num_candidates, static_cast<int64_t>(ratings.size()));
  for (int64_t k = 0; k < lines; ++k) {
    proto::Interaction* x = k < lines - split.num_candidates ? ex.add_history() : ex.add_candidates();
    *x->mutable_item() = items.item(titled[static_cast<size_t>(k) % titled.size()]);
    x->set_rating(ratings[static_cast<size_t>(k) % ratings.size()]);
    if (split.item_stats) {
      // Counts of every magnitude, none (mean "-") included.
      constexpr int64_t kSampleCounts[] = {0, 1, 7, 42, 310, 2900, 57000};
      x->mutable_item_stats()->set_count(kSampleCounts[static_cast<size_t>(k) % std::size(kSampleCounts)]);
      x->mutable_item_stats()->set_mean(ratings[static_cast<size_t>(k + 1) % ratings.size()]);
    }
  }
  return ex;
}

// An item token table for the prompt check: which items get the tokens is
// known only once every user is split, so any `n` items check that all n
// pieces are single tokens.
absl::StatusOr<std::shared_ptr<const ItemTokenTable>> StandInItemTokens(const ItemTable& items, int64_t n,
                                                                        const Tokenizer& tokenizer) {
  std::vector<std::string> stand_ins;
  for (int32_t i = 0; i < items.size() && static_cast<int64_t>(stand_ins.size()) < n; ++i) {
    stand_ins.push_back(items.item(i).item_id());
  }
  return ItemTokenTable::Create(stand_ins, tokenizer, "--item-tokens");
}

// Phase 2 on rank 0: trains the tokenizer, checks that it renders the
// prompt as the job will, and writes it.
absl::Status TokenizerPhase(const ConvertOptions& o, const SplitOptions& split, const ItemTable& items,
                            const std::vector<int64_t>& item_uses, const std::map<std::string, int64_t>& rating_uses,
                            const std::vector<float>& rating_values, const ItemStatsIndex* stats, int64_t total,
                            int64_t memory_left) {
  TokenizerTrainingOptions t;
  t.vocab_size = o.vocab_size;
  if (o.identifiers_as_symbols) t.user_defined_symbols = o.prompt.identifiers;
  t.user_defined_symbols.push_back(kNewlinePiece);
  std::map<std::string, int64_t> stat_text_uses;
  if (stats != nullptr) stat_text_uses = StatTextUses(*stats, o.prompt);
  // Item statistics as single pieces: digits are split otherwise, and a
  // model comparing "4.3" with "3.5" digit by digit learns far slower.
  for (const auto& [text, uses] : stat_text_uses) t.user_defined_symbols.push_back(text);
  const std::vector<std::string> item_pieces = ItemTokenPieces(o.item_tokens);
  if (o.item_tokens > 0) {
    // Every user-defined symbol takes a piece from the vocabulary; the
    // titles need pieces too.
    const auto symbols = static_cast<int64_t>(t.user_defined_symbols.size() + item_pieces.size());
    if (symbols + kMinTextPieces > o.vocab_size) {
      return InvalidArgument(absl::StrCat("--item-tokens ", o.item_tokens, " needs ", symbols,
                                          " user-defined pieces, which leaves fewer than ", kMinTextPieces,
                                          " of --vocab-size ", o.vocab_size, " for the text"),
                             absl::StrCat("raise --vocab-size to at least ", symbols + kMinTextPieces,
                                          " (and model.vocab_size with it), or lower --item-tokens"));
    }
    t.user_defined_symbols.insert(t.user_defined_symbols.end(), item_pieces.begin(), item_pieces.end());
  }
  const std::vector<std::string> corpus = TokenizerCorpus(items, item_uses, rating_uses, stat_text_uses, total, o);
  int64_t text_bytes = 0;
  for (const std::string& sentence : corpus) text_bytes += static_cast<int64_t>(sentence.size());
  const int64_t needed = TokenizerBytes(static_cast<int64_t>(corpus.size()), text_bytes);
  if (needed > memory_left) {
    return UserError(absl::StatusCode::kResourceExhausted,
                     absl::StrCat("training the tokenizer on ", corpus.size(), " sentences needs about ",
                                  HumanBytes(static_cast<double>(needed)),
                                  ", more than the ", HumanBytes(static_cast<double>(memory_left)),
                                  " that --memory-limit leaves"),
                     "raise --memory-limit");
  }
  ALRO_LOG(INFO) << "convert: training a " << o.vocab_size << "-piece SentencePiece model on " << corpus.size()
                 << " sentences";
  ALRO_ASSIGN_OR_RETURN(std::string model, TrainTokenizer(corpus, t));
  const std::string name = JoinPath(o.output, kTokenizerName);
  ALRO_ASSIGN_OR_RETURN(std::shared_ptr<const Tokenizer> tokenizer, Tokenizer::FromSerialized(model, name));
  const proto::ListExample sample = SampleList(items, rating_values, split);
  RenderOptions render;
  if (o.item_tokens > 0) {
    ALRO_ASSIGN_OR_RETURN(render.item_tokens, StandInItemTokens(items, o.item_tokens, *tokenizer));
  }
  if (absl::Status covered = CheckPromptCoverage(o.prompt, tokenizer, &sample, render); !covered.ok()) {
    return UserError(absl::StatusCode::kFailedPrecondition,
                     absl::StrCat("the tokenizer trained for this data set cannot render the prompt, so every job "
                                  "on it would fail; nothing was written. ",
                                  covered.message()),
                     o.identifiers_as_symbols
                         ? "raise --vocab-size, or change the prompt (--config)"
                         : "raise --vocab-size, or pass --identifier-symbols true (identifiers as user-defined "
                           "symbols are always one token)");
  }
  return WriteFileAtomically(name, model);
}

// Phase 2 on rank 0 with --base-tokenizer: the pretrained model's tokenizer
// plus the item pieces at its end, checked against the prompt as a trained
// one is, and written.
absl::Status ExtendTokenizerPhase(const ConvertOptions& o, const SplitOptions& split, const ItemTable& items,
                                  const std::vector<float>& rating_values) {
  ALRO_ASSIGN_OR_RETURN(std::string base, ReadFileToString(o.base_tokenizer));
  ALRO_ASSIGN_OR_RETURN(std::string model,
                        AppendUserDefinedPieces(base, o.base_tokenizer, ItemTokenPieces(o.item_tokens)));
  const std::string name = JoinPath(o.output, kTokenizerName);
  ALRO_ASSIGN_OR_RETURN(std::shared_ptr<const Tokenizer> tokenizer, Tokenizer::FromSerialized(model, name));
  ALRO_LOG(INFO) << "convert: " << o.base_tokenizer << " (" << tokenizer->vocab_size() - o.item_tokens - 1
                 << " pieces) + " << o.item_tokens + 1 << " item pieces";
  const proto::ListExample sample = SampleList(items, rating_values, split);
  RenderOptions render;
  ALRO_ASSIGN_OR_RETURN(render.item_tokens, StandInItemTokens(items, o.item_tokens, *tokenizer));
  if (absl::Status covered = CheckPromptCoverage(o.prompt, tokenizer, &sample, render); !covered.ok()) {
    return UserError(absl::StatusCode::kFailedPrecondition,
                     absl::StrCat("--base-tokenizer ", o.base_tokenizer, " cannot render the prompt, so every job "
                                  "on this data set would fail; nothing was written. ",
                                  covered.message()),
                     "change the prompt (--config) to words and identifiers that model's tokenizer has");
  }
  return WriteFileAtomically(name, model);
}

// What converting one partition produced.
struct PartitionResult {
  int64_t partition = 0;
  std::array<std::vector<ShardInfo>, 3> shards;
  std::array<int64_t, 3> records{};
  std::map<std::string, int64_t> histogram;
  int64_t users = 0;
  int64_t uninformative = 0;
  std::vector<int32_t> items_used;
  /// With --item-tokens: (item, times a candidate of a training list).
  std::vector<std::pair<int32_t, int64_t>> train_candidates;
  DropReport drops{"rows"};
};

nlohmann::json ToJson(const PartitionResult& r) {
  nlohmann::json splits = nlohmann::json::array();
  for (size_t s = 0; s < kSplitNames.size(); ++s) {
    nlohmann::json shards = nlohmann::json::array();
    for (const ShardInfo& sh : r.shards[s]) shards.push_back({sh.file, sh.records, sh.bytes, sh.crc32c});
    splits.push_back({{"records", r.records[s]}, {"shards", shards}});
  }
  return {{"partition", r.partition}, {"splits", splits},    {"histogram", r.histogram},
          {"users", r.users},         {"uninformative", r.uninformative},
          {"items_used", r.items_used}, {"train_candidates", r.train_candidates}, {"drops", r.drops.Serialize()}};
}

absl::StatusOr<PartitionResult> PartitionFromJson(const nlohmann::json& j) {
  PartitionResult r;
  r.partition = j.at("partition").get<int64_t>();
  for (size_t s = 0; s < kSplitNames.size(); ++s) {
    const nlohmann::json& split = j.at("splits").at(s);
    r.records[s] = split.at("records").get<int64_t>();
    for (const nlohmann::json& sh : split.at("shards")) {
      r.shards[s].push_back(ShardInfo{sh.at(0).get<std::string>(), sh.at(1).get<int64_t>(), sh.at(2).get<uint64_t>(),
                                      sh.at(3).get<uint32_t>()});
    }
  }
  r.histogram = j.at("histogram").get<std::map<std::string, int64_t>>();
  r.users = j.at("users").get<int64_t>();
  r.uninformative = j.at("uninformative").get<int64_t>();
  r.items_used = j.at("items_used").get<std::vector<int32_t>>();
  r.train_candidates = j.at("train_candidates").get<std::vector<std::pair<int32_t, int64_t>>>();
  ALRO_ASSIGN_OR_RETURN(r.drops, DropReport::Deserialize(j.at("drops").get<std::string>()));
  return r;
}

// The shared state of the split phase on one rank.
struct SplitContext {
  const ConvertOptions* options = nullptr;
  const SplitOptions* split = nullptr;
  const ItemTable* items = nullptr;
  const ItemStatsIndex* stats = nullptr;  // with --item-stats
  std::string scratch;
  size_t merge_buffer = kMinMergeBuffer;
  size_t fan_in = kMaxMergeFanIn;  // runs one merge reads at once
  std::atomic<int64_t> intermediate_runs{0};
  std::atomic<int64_t> users{0};
  std::atomic<int64_t> lists{0};
  std::atomic<int64_t> shards{0};
  std::atomic<uint64_t> run_bytes_read{0};
};

// Phase 3 for one partition: merges its runs into users, splits each user,
// writes the partition's shards.
absl::StatusOr<PartitionResult> ConvertPartition(SplitContext& ctx, int64_t partition,
                                                 const std::vector<std::string>& runs, PhaseProgress* progress) {
  PartitionResult result;
  result.partition = partition;
  std::vector<ShardedRecordWriter> writers;
  for (const char* name : kSplitNames) {
    ALRO_ASSIGN_OR_RETURN(ShardedRecordWriter w,
                          ShardedRecordWriter::Create(ctx.options->output,
                                                      absl::StrFormat("%s.part%05d", name, partition),
                                                      ctx.options->limits));
    writers.push_back(std::move(w));
  }
  std::vector<bool> used(static_cast<size_t>(ctx.items->size()), false);
  std::vector<int64_t> train_candidates(ctx.options->item_tokens > 0 ? used.size() : 0, 0);
  std::string payload;
  int64_t lists = 0;
  const auto emit = [&](const proto::ListExample& ex) -> absl::Status {
    bool all_equal = true;
    for (const proto::Interaction& c : ex.candidates()) {
      ++result.histogram[FormatRating(c.rating())];
      const auto item = static_cast<size_t>(ctx.items->Find(c.item().item_id()));
      used[item] = true;
      if (!train_candidates.empty() && ex.split() == proto::SPLIT_TRAIN) ++train_candidates[item];
      all_equal &= c.rating() == ex.candidates(0).rating();
    }
    result.uninformative += all_equal ? 1 : 0;
    payload.clear();
    if (!ex.SerializeToString(&payload)) return absl::InternalError("serialising a ListExample failed");
    ++lists;
    ++ctx.lists;
    return writers[static_cast<size_t>(SplitSlot(ex.split()))].Write(payload);
  };
  std::string user;
  std::vector<RatingEvent> events;
  const auto finish_user = [&]() -> absl::Status {
    if (user.empty()) return absl::OkStatus();
    const int64_t before = lists;
    ALRO_RETURN_IF_ERROR(SplitUser(user, events, *ctx.items, ctx.stats, *ctx.split, &result.drops, emit));
    result.users += lists > before ? 1 : 0;
    ++ctx.users;
    events.clear();
    return absl::OkStatus();
  };
  std::vector<std::string> final_runs = runs;
  if (final_runs.size() > ctx.fan_in) {
    int64_t written = 0;
    ALRO_ASSIGN_OR_RETURN(final_runs, ReduceRuns(std::move(final_runs), ctx.fan_in, ctx.merge_buffer,
                                                 [&](int64_t k) {
                                                   return JoinPath(ctx.scratch,
                                                                   absl::StrFormat("p%05d.m%06d.run", partition, k));
                                                 },
                                                 &written));
    ctx.intermediate_runs += written;
  }
  ALRO_ASSIGN_OR_RETURN(std::unique_ptr<RunMerger> merger, RunMerger::Open(final_runs, ctx.merge_buffer));
  RatingRow row;
  uint64_t reported = 0;
  while (true) {
    ALRO_ASSIGN_OR_RETURN(bool more, merger->Next(&row));
    if (!more || row.user != user) {
      ALRO_RETURN_IF_ERROR(finish_user());
      progress->Add(static_cast<int64_t>(merger->bytes_read() - reported));
      reported = merger->bytes_read();
      if (!more) break;
      user.assign(row.user.data(), row.user.size());
    }
    const int32_t item = ctx.items->Find(row.item);
    if (item < 0 || ctx.items->item(item).title().empty()) {
      result.drops.Add(kNoTitleReason, absl::StrCat("user ", user),
                       absl::StrCat("item '", row.item, "' has no title in the item/metadata file"));
      continue;
    }
    events.push_back(RatingEvent{item, row.rating, row.timestamp, row.sequence});
  }
  for (size_t s = 0; s < writers.size(); ++s) {
    result.records[s] = writers[s].records();
    ALRO_ASSIGN_OR_RETURN(result.shards[s], writers[s].Finish());
    ctx.shards += static_cast<int64_t>(result.shards[s].size());
  }
  for (size_t i = 0; i < used.size(); ++i) {
    if (used[i]) result.items_used.push_back(static_cast<int32_t>(i));
  }
  for (size_t i = 0; i < train_candidates.size(); ++i) {
    if (train_candidates[i] > 0) result.train_candidates.emplace_back(static_cast<int32_t>(i), train_candidates[i]);
  }
  return result;
}

// Removes the shards and indexes that the split wrote for `partitions`
// into `dir` (complete or partial), best effort.
void RemovePartitionShards(const std::string& dir, const std::vector<int64_t>& partitions) {
  absl::StatusOr<std::vector<std::string>> names = ListDirectory(dir);
  if (!names.ok()) return;
  for (const int64_t p : partitions) {
    for (const char* split : kSplitNames) {
      const std::string prefix = absl::StrFormat("%s.part%05d-", split, p);
      for (const std::string& name : *names) {
        if (absl::StartsWith(name, prefix)) static_cast<void>(RemoveAll(JoinPath(dir, name)));
      }
    }
  }
}

// Renames `from` to `to` inside `dir`; the caller syncs `dir` once after
// the last rename.
absl::Status RenameShardFile(const std::string& dir, const std::string& from, const std::string& to) {
  if (std::rename(JoinPath(dir, from).c_str(), JoinPath(dir, to).c_str()) != 0) {
    return UserError(absl::StatusCode::kDataLoss,
                     absl::StrCat("cannot rename ", JoinPath(dir, from), " to ", to, ": ", std::strerror(errno)),
                     "check that --output is writable and was not changed during the conversion");
  }
  return absl::OkStatus();
}

// The memory budget of one rank, bytes.
int64_t ResolveMemoryLimit(int64_t requested) {
  if (requested > 0) return requested;
  const int64_t machine = PhysicalMemoryBytes();
  if (machine <= 0) return kDefaultMemoryCap;
  return std::min<int64_t>(kDefaultMemoryCap, static_cast<int64_t>(kDefaultMemoryFraction * static_cast<double>(machine)));
}

}  // namespace

absl::StatusOr<ConvertSummary> ConvertDataset(const ConvertOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  LocalConvertGroup alone;
  ConvertGroup& group = options.group != nullptr ? *options.group : alone;
  const int rank = group.rank();
  const int ranks = group.size();
  const int threads = options.threads > 0 ? options.threads
                                          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  // Checks every rank makes alike: a failure returns on every rank before
  // any collective.
  ALRO_ASSIGN_OR_RETURN(SplitOptions split, ResolveSplitOptions(options.split));
  if (options.output.empty()) return InvalidArgument("--output is required", "name the data set directory");
  if (options.input.empty()) return InvalidArgument("--input is required", "name the input file or directory");
  if (split.num_candidates > static_cast<int64_t>(options.prompt.identifiers.size())) {
    return InvalidArgument(absl::StrCat("--num-candidates ", split.num_candidates, " exceeds the ",
                                        options.prompt.identifiers.size(), " prompt identifiers"),
                           "lower --num-candidates or add prompt.identifiers");
  }
  if (PromptUsesItemStats(options.prompt) && !split.item_stats) {
    return InvalidArgument("the prompt of --config shows item statistics ({count} or {mean}) but --item-stats is false",
                           "convert with --item-stats true, or use a prompt without {count} {mean}");
  }
  if (PromptUsesItemTokens(options.prompt) && options.item_tokens <= 0) {
    return InvalidArgument("the prompt of --config shows item tokens ({item}) but --item-tokens is 0",
                           "convert with --item-tokens N (e.g. 1000), or use a prompt without {item}");
  }
  if (!options.base_tokenizer.empty() && (options.vocab_size > 0 || options.item_tokens <= 0)) {
    return InvalidArgument(
        absl::StrCat("--base-tokenizer ", options.base_tokenizer, " needs --item-tokens N > 0 and --vocab-size 0 (",
                     "it replaces the trained tokenizer; got --item-tokens ", options.item_tokens,
                     ", --vocab-size ", options.vocab_size, ")"),
        "e.g. alro convert ... --vocab-size 0 --item-tokens 1000 --base-tokenizer /models/m/tokenizer.model");
  }
  if (!options.base_tokenizer.empty() && !PathExists(options.base_tokenizer)) {
    return UserError(absl::StatusCode::kNotFound,
                     absl::StrCat("--base-tokenizer ", options.base_tokenizer, " does not exist"),
                     "pass the tokenizer.model of the checkpoint that model.pretrained will name");
  }
  if (options.item_tokens < 0 ||
      (options.item_tokens > 0 && options.vocab_size <= 0 && options.base_tokenizer.empty())) {
    return InvalidArgument("--item-tokens must be 0 or positive, and needs a trained tokenizer (--vocab-size > 0) "
                           "or a pretrained model's tokenizer to extend (--base-tokenizer)");
  }
  if (options.partitions < 0 || options.memory_limit < 0 || options.spill_bytes < 0) {
    return InvalidArgument("--partitions and --memory-limit must not be negative", "0 chooses them automatically");
  }
  if (options.merge_fan_in < 0 || options.merge_fan_in == 1) {
    return InvalidArgument(absl::StrCat("merge fan-in ", options.merge_fan_in, " cannot merge runs"),
                           "use 2 or more, or 0 to derive it from the open-file limit and --memory-limit");
  }
  ALRO_ASSIGN_OR_RETURN(std::unique_ptr<InputFormat> format,
                        OpenInputFormat(options.format, options.input, options.metadata));
  ALRO_ASSIGN_OR_RETURN(uint64_t ratings_bytes, FileSize(format->ratings_path()));
  const int64_t partitions = options.partitions > 0 ? options.partitions : AutoPartitions(ratings_bytes);
  const uint64_t chunk_bytes = options.chunk_bytes > 0 ? options.chunk_bytes : kDefaultChunkBytes;
  const std::string scratch = JoinPath(options.scratch.empty() ? options.output : options.scratch, kScratchName);

  ConvertSummary summary;
  summary.threads = threads;
  summary.ranks = ranks;
  summary.partitions = partitions;
  summary.memory_limit = ResolveMemoryLimit(options.memory_limit);

  // Rank 0 clears the output and makes the scratch directory.
  absl::Status prepared = absl::OkStatus();
  if (rank == 0) {
    prepared = PrepareOutput(options.output);
    if (prepared.ok() && PathExists(scratch)) prepared = RemoveAll(scratch);
    if (prepared.ok()) prepared = MakeDirectories(scratch);
  }
  ALRO_RETURN_IF_ERROR(Exchange(group, prepared, "", "preparing the output").status());
  // Rank 0 removes the runs however the conversion ends.
  struct ScratchCleanup {
    std::string dir;
    ~ScratchCleanup() {
      if (!dir.empty() && PathExists(dir)) static_cast<void>(RemoveAll(dir));
    }
  } cleanup{rank == 0 ? scratch : ""};

  // Items: every rank reads them whole (its split phase needs them).
  ItemTable items;
  DropReport item_drops("rows");
  ALRO_LOG(INFO) << "convert: reading " << options.format << " input " << options.input << " with " << ranks
                 << " rank(s) x " << threads << " thread(s), " << partitions << " partition(s), memory limit "
                 << HumanBytes(static_cast<double>(summary.memory_limit));
  ReturnLargeFreesToTheSystem();
  const int64_t resident_at_start = ResidentBytes();
  absl::Status read_items = format->ReadItems(&items, &item_drops);
  // What the process holds now (the binary and its libraries, the item
  // table) is measured; the phases share what the limit leaves.
  MemoryBudget budget;
  budget.limit = summary.memory_limit;
  budget.held = std::max(ResidentBytes(), PeakResidentBytes());
  budget.threads = threads;
  budget.items = items.size();
  budget.chunk_bytes = static_cast<int64_t>(chunk_bytes);
  const int64_t spill_bytes = options.spill_bytes > 0 ? options.spill_bytes : budget.SpillBytes();
  // The smallest limit that works: the larger of what parsing needs and
  // what the split needs, which on rank 0 makes the tokenizer meanwhile.
  // Its corpus is bounded (TokenizerCorpus): titles and rating values at
  // most kMaxCorpusSentences each, and no more than the file has shortest
  // rows ("1,2,3,4\n"), the prompt's fixed words a tenth of that each.
  const int64_t corpus_scale =
      std::min<int64_t>(kMaxCorpusSentences, static_cast<int64_t>(ratings_bytes / kShortestRowBytes));
  const auto literals = static_cast<int64_t>(PromptLiterals(options.prompt).size()) + 1;
  const int64_t corpus_bound = corpus_scale * (2 + (literals + kRatingsPerLiteral - 1) / kRatingsPerLiteral +
                                               (split.item_stats ? 2 : 0)) +
                               items.size() * (split.item_stats ? 3 : 1);
  int64_t title_bytes = 0;
  for (int32_t i = 0; i < items.size(); ++i) {
    title_bytes += static_cast<int64_t>(
        std::min<size_t>(items.item(i).title().size(), static_cast<size_t>(options.prompt.max_title_chars)));
  }
  const int64_t average_title_bytes = std::max<int64_t>(16, title_bytes / std::max<int64_t>(1, items.size()));
  // Rank 0 makes the tokenizer while it merges: trained on the corpus, or
  // a pretrained model's extended (a few MiB).
  const int64_t tokenizer_reserve =
      rank != 0                    ? 0
      : options.vocab_size > 0     ? TokenizerBytes(corpus_bound, corpus_bound * average_title_bytes)
      : !options.base_tokenizer.empty() ? kTokenizerFixedBytes
                                        : 0;
  const int64_t minimum = std::max(budget.ParseMinimum(),
                                   budget.held + budget.Reserve() + tokenizer_reserve +
                                       threads * (kMergerFixedBytes + 2 * static_cast<int64_t>(kMinMergeBuffer)));
  if (read_items.ok() && options.spill_bytes == 0 && budget.limit < minimum) {
    read_items = UserError(
        absl::StatusCode::kResourceExhausted,
        absl::StrCat("--memory-limit ", HumanBytes(static_cast<double>(budget.limit)),
                     " is below the minimum of this conversion, ", HumanBytes(static_cast<double>(minimum)),
                     ": the process already holds ", HumanBytes(static_cast<double>(budget.held)),
                     " (the program and its libraries, ", HumanBytes(static_cast<double>(resident_at_start)),
                     ", and the ", items.size(), " items), and each of ", threads, " threads needs at least ",
                     HumanBytes(static_cast<double>(budget.ParseThreadFixed() + kMinSpillBytes)),
                     tokenizer_reserve > 0 ? ", and making the tokenizer " : "",
                     tokenizer_reserve > 0 ? HumanBytes(static_cast<double>(tokenizer_reserve)) : ""),
        absl::StrCat("raise --memory-limit to at least ", HumanBytes(static_cast<double>(minimum) * 1.1),
                     ", or lower --threads"));
  }
  ALRO_LOG(INFO) << "convert: " << items.size() << " items; resident "
                 << HumanBytes(static_cast<double>(budget.held)) << " (program "
                 << HumanBytes(static_cast<double>(resident_at_start)) << "); spilling sorted runs every "
                 << HumanBytes(static_cast<double>(std::max<int64_t>(0, spill_bytes))) << " per thread";

  // Phase 1: parse.
  std::string parsed;
  if (read_items.ok()) {
    absl::StatusOr<std::string> p = ParsePhase(options, *format, threads, rank, ranks, partitions, chunk_bytes,
                                               std::max<int64_t>(1, spill_bytes),
                                               scratch, &summary.spilled_runs);
    if (p.ok()) {
      parsed = std::move(*p);
    } else {
      read_items = p.status();
    }
  }
  ALRO_ASSIGN_OR_RETURN(std::vector<std::string> all_parsed, Exchange(group, read_items, parsed, "parsing"));
  // The parse buffers are freed, but glibc keeps most of them (its mmap
  // threshold grows with the buffers) and the later phases would add their
  // memory on top: give it back to the system.
  malloc_trim(0);
  std::vector<nlohmann::json> rank_results;
  for (const std::string& bytes : all_parsed) {
    ALRO_ASSIGN_OR_RETURN(nlohmann::json j, FromCbor(bytes));
    rank_results.push_back(std::move(j));
  }
  all_parsed.clear();
  // Inline item definitions complete the item table, in input order.
  std::vector<std::pair<uint64_t, std::string>> inline_defs;
  for (const nlohmann::json& r : rank_results) {
    for (const nlohmann::json& def : r.at("inline_items")) {
      const auto& bin = def.at(1).get_binary();
      inline_defs.emplace_back(def.at(0).get<uint64_t>(), std::string(bin.begin(), bin.end()));
    }
  }
  std::sort(inline_defs.begin(), inline_defs.end());
  for (const auto& [offset, bytes] : inline_defs) {
    proto::Item item;
    if (!item.ParseFromString(bytes)) return absl::DataLossError("an inline item definition did not decode");
    items.Add(std::move(item));
  }
  inline_defs.clear();
  // The runs of each partition.
  std::vector<std::vector<std::string>> runs(static_cast<size_t>(partitions));
  for (const nlohmann::json& r : rank_results) {
    for (const nlohmann::json& run : r.at("runs")) {
      runs[run.at(0).get<size_t>()].push_back(run.at(1).get<std::string>());
    }
  }
  for (auto& list : runs) std::sort(list.begin(), list.end());

  // Item statistics (--item-stats): every rank indexes every rating, 16
  // bytes each, within the memory budget.
  std::unique_ptr<ItemStatsIndex> stats;
  int64_t stats_bytes = 0;
  absl::Status indexed = absl::OkStatus();
  if (split.item_stats) {
    std::vector<int64_t> per_item(static_cast<size_t>(items.size()), 0);
    int64_t rated = 0;
    for (const nlohmann::json& r : rank_results) {
      if (!indexed.ok()) break;
      indexed = DecodeUses(r.at("uses").get_binary(), [&](const std::string& id, float, int64_t n) {
        const int32_t item = items.Find(id);
        if (item < 0 || items.item(item).title().empty()) return;
        per_item[static_cast<size_t>(item)] += n;
        rated += n;
      });
    }
    stats_bytes = rated * ItemStatsIndex::kBytesPerRating + items.size() * kStatsBytesPerItem;
    // The index stays through the split, whose merges need their minimum.
    const int64_t resident = ResidentBytes();
    const int64_t needed = resident + budget.Reserve() + stats_bytes +
                           threads * (kMergerFixedBytes + 2 * static_cast<int64_t>(kMinMergeBuffer));
    if (indexed.ok() && needed > summary.memory_limit) {
      indexed = UserError(absl::StatusCode::kResourceExhausted,
                          absl::StrCat("--item-stats needs ", HumanBytes(static_cast<double>(stats_bytes)), " for ",
                                       rated, " ratings, and with the ", HumanBytes(static_cast<double>(resident)),
                                       " the process holds and the merges' buffers that exceeds --memory-limit ",
                                       HumanBytes(static_cast<double>(summary.memory_limit))),
                          absl::StrCat("raise --memory-limit to at least ",
                                       HumanBytes(static_cast<double>(needed) * 1.1),
                                       ", or convert without --item-stats"));
    }
    if (indexed.ok()) {
      ALRO_LOG(INFO) << "convert: indexing the item statistics of " << rated << " ratings ("
                     << HumanBytes(static_cast<double>(stats_bytes)) << ")";
      stats = std::make_unique<ItemStatsIndex>(per_item);
      indexed = FillItemStats(runs, items, threads, stats.get());
    }
  }

  // Rank 0: drops (chunk order, with absolute line numbers), rating counts,
  // and phase 2, the tokenizer, which needs nothing the split writes: it
  // becomes the first task of rank 0's split workers (with 2 or more, the
  // others merge meanwhile). It fails before any manifest is written, and
  // the split's shards are then removed.
  int64_t rows_read = 0;
  absl::Status tokens = absl::OkStatus();
  std::function<absl::Status(int64_t memory_left)> tokenizer_task;
  if (rank == 0 && indexed.ok()) {
    summary.drops = item_drops;
    std::vector<const nlohmann::json*> chunks;
    for (const nlohmann::json& r : rank_results) {
      for (const nlohmann::json& c : r.at("chunks")) chunks.push_back(&c);
    }
    std::sort(chunks.begin(), chunks.end(), [](const nlohmann::json* a, const nlohmann::json* b) {
      return a->at("chunk").get<int64_t>() < b->at("chunk").get<int64_t>();
    });
    int64_t lines_before = 0;
    for (const nlohmann::json* c : chunks) {
      std::map<std::string, int64_t> listed;
      for (const nlohmann::json& d : c->at("drops")) {
        const std::string reason = d.at(0).get<std::string>();
        summary.drops.Add(reason, absl::StrCat(format->ratings_path(), ":", lines_before + d.at(1).get<int64_t>()),
                          d.at(2).get<std::string>());
        ++listed[reason];
      }
      for (const auto& [reason, n] : c->at("dropped").get<std::map<std::string, int64_t>>()) {
        summary.drops.AddUnlisted(reason, n - listed[reason]);
      }
      lines_before += c->at("lines").get<int64_t>();
      rows_read += c->at("rows").get<int64_t>();
    }
    std::vector<int64_t> item_uses(static_cast<size_t>(items.size()), 0);
    std::map<std::string, int64_t> rating_uses;
    std::set<float> distinct_ratings;
    absl::Status decoded;
    for (const nlohmann::json& r : rank_results) {
      if (!decoded.ok()) break;
      decoded = DecodeUses(r.at("uses").get_binary(), [&](const std::string& id, float rating, int64_t n) {
        const int32_t item = items.Find(id);
        if (item < 0 || items.item(item).title().empty()) return;
        item_uses[static_cast<size_t>(item)] += n;
        rating_uses[FormatRating(rating)] += n;
        distinct_ratings.insert(rating);
        summary.ratings += n;
      });
    }
    ALRO_LOG(INFO) << "convert: " << rows_read << " rating rows, " << summary.ratings << " kept, " << items.size()
                   << " items";
    if (!decoded.ok()) {
      tokens = decoded;
    } else if (summary.ratings == 0) {
      tokens = UserError(absl::StatusCode::kInvalidArgument,
                         absl::StrCat("no valid ratings in ", options.input, "\n", summary.drops.Summary()),
                         "check --format and the input files");
    } else if (!options.base_tokenizer.empty()) {
      tokenizer_task = [&options, &split, &items,
                        rating_values = std::vector<float>(distinct_ratings.begin(), distinct_ratings.end())](
                           int64_t) { return ExtendTokenizerPhase(options, split, items, rating_values); };
    } else if (options.vocab_size > 0) {
      tokenizer_task = [&options, &split, &items, &stats, item_uses = std::move(item_uses),
                        rating_uses = std::move(rating_uses),
                        rating_values = std::vector<float>(distinct_ratings.begin(), distinct_ratings.end()),
                        total = summary.ratings](int64_t memory_left) {
        return TokenizerPhase(options, split, items, item_uses, rating_uses, rating_values, stats.get(), total,
                              memory_left);
      };
    }
  }
  rank_results.clear();
  malloc_trim(0);  // the exchanged results, before the split
  ALRO_RETURN_IF_ERROR(
      Exchange(group, indexed.ok() ? tokens : indexed, "", "indexing item statistics and counting ratings").status());

  // Phase 3: split this rank's partitions.
  std::vector<int64_t> mine;
  uint64_t my_run_bytes = 0;
  size_t most_runs = 1;
  for (int64_t p = rank; p < partitions; p += ranks) {
    mine.push_back(p);
    most_runs = std::max(most_runs, runs[static_cast<size_t>(p)].size());
    for (const std::string& run : runs[static_cast<size_t>(p)]) {
      absl::StatusOr<uint64_t> size = FileSize(run);
      my_run_bytes += size.ok() ? *size : 0;
    }
  }
  SplitContext ctx;
  ctx.options = &options;
  ctx.split = &split;
  ctx.items = &items;
  ctx.stats = stats.get();
  ctx.scratch = scratch;
  // The merges' read buffers get what the limit leaves after what the
  // process holds now (items, statistics) and each merger's shard writers.
  // On rank 0 the tokenizer's corpus and trainer run alongside.
  const int tasks = static_cast<int>(mine.size()) + (tokenizer_task ? 1 : 0);
  const int mergers = std::min<int>(threads, std::max(1, tasks));
  const int64_t tokenizer_memory = tokenizer_task ? tokenizer_reserve : 0;
  const int64_t merge_memory = std::max<int64_t>(
      0, budget.Left(ResidentBytes()) - tokenizer_memory - mergers * kMergerFixedBytes -
             static_cast<int64_t>(mine.size()) * items.size() * static_cast<int64_t>(sizeof(int32_t)));
  ctx.fan_in = MergeFanIn(RaiseOpenFileLimit(), mergers, merge_memory, kMinMergeBuffer,
                          static_cast<size_t>(options.merge_fan_in));
  ctx.merge_buffer = std::clamp<size_t>(static_cast<size_t>(merge_memory / mergers) / std::min(most_runs, ctx.fan_in),
                                        kMinMergeBuffer, kMaxMergeBuffer);
  if (most_runs > ctx.fan_in) {
    ALRO_LOG(INFO) << "convert: rank " << rank << ": up to " << most_runs << " runs per partition, merged "
                   << ctx.fan_in << " at a time (open-file limit and memory) in intermediate passes";
  }
  std::vector<PartitionResult> results(mine.size());
  absl::Status split_status;
  {
    PhaseProgress progress("split", static_cast<int64_t>(my_run_bytes), [&](double seconds) {
      return absl::StrCat("rank ", rank, ": ", HumanCount(static_cast<double>(ctx.users.load())), " users done (",
                          HumanCount(static_cast<double>(ctx.users.load()) / std::max(seconds, 1e-9)), "/s), ",
                          HumanCount(static_cast<double>(ctx.lists.load())), " lists, ", ctx.shards.load(),
                          " shards written");
    });
    // Task 0 is the tokenizer when there is one, then the partitions.
    const size_t first = tokenizer_task ? 0 : 1;
    std::atomic<size_t> next{first};
    std::atomic<bool> failed{false};
    split_status = RunWorkers(mergers, [&](int) -> absl::Status {
      for (size_t k = next++; k < mine.size() + 1 && !failed; k = next++) {
        absl::Status done = k == 0 ? tokenizer_task(tokenizer_memory) : absl::OkStatus();
        if (k > 0) {
          absl::StatusOr<PartitionResult> r =
              ConvertPartition(ctx, mine[k - 1], runs[static_cast<size_t>(mine[k - 1])], &progress);
          if (r.ok()) results[k - 1] = std::move(*r);
          done = r.status();
        }
        if (!done.ok()) {
          failed = true;
          return done;
        }
      }
      return absl::OkStatus();
    });
  }

  nlohmann::json mine_json = nlohmann::json::array();
  for (const PartitionResult& r : results) mine_json.push_back(ToJson(r));
  const std::vector<uint8_t> cbor = nlohmann::json::to_cbor(mine_json);
  absl::StatusOr<std::vector<std::string>> split_done =
      Exchange(group, split_status, std::string(cbor.begin(), cbor.end()), "splitting users");
  if (!split_done.ok()) {
    // No data set: every rank removes the shards of its partitions (rank 0
    // the scratch directory).
    RemovePartitionShards(options.output, mine);
    return split_done.status();
  }
  const std::vector<std::string> all_split = std::move(*split_done);

  // Phase 4 (rank 0): shards named in partition order, stats, manifest last.
  absl::Status finished = absl::OkStatus();
  std::string final_summary;
  if (rank == 0) {
    finished = [&]() -> absl::Status {
      std::vector<PartitionResult> parts;
      for (const std::string& bytes : all_split) {
        ALRO_ASSIGN_OR_RETURN(nlohmann::json list, FromCbor(bytes));
        for (const nlohmann::json& j : list) {
          ALRO_ASSIGN_OR_RETURN(PartitionResult r, PartitionFromJson(j));
          parts.push_back(std::move(r));
        }
      }
      std::sort(parts.begin(), parts.end(),
                [](const PartitionResult& a, const PartitionResult& b) { return a.partition < b.partition; });
      Manifest& manifest = summary.manifest;
      manifest.format = kManifestFormat;
      manifest.schema_version = kSchemaVersion;
      for (size_t s = 0; s < kSplitNames.size(); ++s) {
        SplitInfo info;
        info.name = kSplitNames[s];
        for (const PartitionResult& part : parts) {
          info.records += part.records[s];
          for (ShardInfo shard : part.shards[s]) {
            const std::string name = ShardFileName(kSplitNames[s], static_cast<int64_t>(info.shards.size()));
            ALRO_RETURN_IF_ERROR(RenameShardFile(options.output, shard.file + kIndexSuffix, name + kIndexSuffix));
            ALRO_RETURN_IF_ERROR(RenameShardFile(options.output, shard.file, name));
            shard.file = name;
            info.shards.push_back(shard);
          }
        }
        manifest.splits.push_back(std::move(info));
      }
      if (options.vocab_size > 0 || !options.base_tokenizer.empty()) {
        // The manifest records what every job checks the tokenizer against.
        ALRO_ASSIGN_OR_RETURN(std::string model, ReadFileToString(JoinPath(options.output, kTokenizerName)));
        manifest.tokenizer = kTokenizerName;
        manifest.tokenizer_bytes = model.size();
        manifest.tokenizer_crc32c = crc32c::Value(model);
      }
      std::map<std::string, int64_t> histogram;
      std::vector<bool> used(static_cast<size_t>(items.size()), false);
      std::vector<int64_t> train_candidates(used.size(), 0);
      int64_t uninformative = 0;
      for (const PartitionResult& part : parts) {
        for (const auto& [rating, n] : part.histogram) histogram[rating] += n;
        for (int32_t i : part.items_used) used[static_cast<size_t>(i)] = true;
        for (const auto& [i, n] : part.train_candidates) train_candidates[static_cast<size_t>(i)] += n;
        summary.users += part.users;
        uninformative += part.uninformative;
        summary.drops.Merge(part.drops);
      }
      summary.items = std::count(used.begin(), used.end(), true);
      if (options.item_tokens > 0) {
        std::vector<std::string> ids;
        for (int32_t i = 0; i < items.size(); ++i) ids.push_back(items.item(i).item_id());
        manifest.item_tokens = MostRatedItems(ids, train_candidates, options.item_tokens);
      }
      nlohmann::json inputs = nlohmann::json::array();
      for (const InputFile& f : format->Files()) {
        ALRO_ASSIGN_OR_RETURN(uint64_t bytes, FileSize(f.path));
        ALRO_ASSIGN_OR_RETURN(uint32_t crc, FileCrc32c(f.path));
        inputs.push_back({{"role", f.role}, {"path", f.path}, {"bytes", bytes},
                          {"crc32c", absl::StrFormat("%08x", crc)}});
      }
      manifest.created_by = {
          {"command", options.command_line},
          {"format", options.format},
          {"inputs", inputs},
          {"options",
           {{"num_candidates", split.num_candidates},
            {"max_history", split.max_history},
            {"min_ratings", split.min_ratings},
            {"stride", split.stride},
            {"seed", split.seed},
            {"shard_records", options.limits.max_records},
            {"shard_bytes", options.limits.max_bytes},
            {"vocab_size", options.vocab_size},
            {"identifiers_as_symbols", options.identifiers_as_symbols},
            {"item_stats", split.item_stats},
            {"item_tokens", options.item_tokens},
            {"base_tokenizer", options.base_tokenizer},
            {"partitions", partitions}}}};
      nlohmann::json hist = nlohmann::json::object();
      for (const auto& [rating, count] : histogram) hist[rating] = count;
      manifest.stats = {{"rating_rows", rows_read},
                        {"ratings_kept", summary.ratings},
                        {"users_with_lists", summary.users},
                        {"candidate_items", summary.items},
                        {"lists_with_all_ratings_equal", uninformative},
                        {"candidate_rating_histogram", hist},
                        {"dropped", summary.drops.counts()}};
      // The renames above are durable before the manifest names them (one
      // directory sync for all, not one per file: each costs milliseconds).
      ALRO_RETURN_IF_ERROR(SyncDirectory(options.output));
      // Last: a directory with a manifest is a complete data set.
      ALRO_RETURN_IF_ERROR(WriteManifest(options.output, manifest));
      ALRO_RETURN_IF_ERROR(RemoveAll(scratch));
      final_summary = nlohmann::json{{"manifest", ManifestToJson(manifest)},
                                     {"drops", summary.drops.Serialize()},
                                     {"users", summary.users},
                                     {"items", summary.items},
                                     {"ratings", summary.ratings}}
                          .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      return absl::OkStatus();
    }();
  }
  ALRO_LOG(INFO) << "convert: rank " << rank << " peak resident memory " << PeakResidentBytes()
                 << " bytes, limit " << summary.memory_limit << " bytes";
  if (PeakResidentBytes() > summary.memory_limit) {
    ALRO_LOG(WARNING) << "convert: rank " << rank << " peaked at "
                      << HumanBytes(static_cast<double>(PeakResidentBytes())) << ", above --memory-limit "
                      << HumanBytes(static_cast<double>(summary.memory_limit));
  }
  const std::string peak =
      absl::StrCat(PeakResidentBytes(), " ", summary.spilled_runs, " ", ctx.intermediate_runs.load(), " ", ctx.fan_in);
  ALRO_ASSIGN_OR_RETURN(std::vector<std::string> ends,
                        Exchange(group, finished, rank == 0 ? absl::StrCat(peak, "\n", final_summary) : peak,
                                 "writing the manifest"));
  summary.spilled_runs = 0;
  summary.merge_fan_in = INT64_MAX;
  for (const std::string& end : ends) {
    long long bytes = 0;
    long long spilled = 0;
    long long intermediate = 0;
    long long fan_in = 0;
    if (std::sscanf(end.c_str(), "%lld %lld %lld %lld", &bytes, &spilled, &intermediate, &fan_in) == 4) {
      summary.peak_memory_bytes = std::max<int64_t>(summary.peak_memory_bytes, bytes);
      summary.spilled_runs += spilled;
      summary.intermediate_runs += intermediate;
      summary.merge_fan_in = std::min<int64_t>(summary.merge_fan_in, fan_in);
    }
  }
  if (summary.intermediate_runs > 0) {
    ALRO_LOG(INFO) << "convert: " << summary.spilled_runs << " sorted runs were merged at most "
                   << summary.merge_fan_in << " at a time, through " << summary.intermediate_runs
                   << " intermediate runs";
  }
  if (rank != 0) {
    const size_t nl = ends[0].find('\n');
    const nlohmann::json j = nlohmann::json::parse(ends[0].substr(nl + 1), nullptr, false);
    if (j.is_discarded()) return absl::DataLossError("rank 0's conversion summary did not decode");
    ALRO_ASSIGN_OR_RETURN(summary.manifest, ParseManifest(j.at("manifest").get<std::string>(), "rank 0's manifest"));
    ALRO_ASSIGN_OR_RETURN(summary.drops, DropReport::Deserialize(j.at("drops").get<std::string>()));
    summary.users = j.at("users").get<int64_t>();
    summary.items = j.at("items").get<int64_t>();
    summary.ratings = j.at("ratings").get<int64_t>();
  }
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace alro::data
