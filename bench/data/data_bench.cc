// bench/data/data_bench.cc: throughput of the data path, each figure next to
// a baseline measured in the same run on the same machine:
//
//   writer MB/s   vs a raw buffered sequential write (+fsync) of the same bytes
//   reader MB/s   (index + both CRCs, and + parsing) vs read(2) of the same file
//   render+tokenize lists/s on one core vs what a configs/tiny.yaml step consumes
//   `alro convert` of MovieLens latest-small vs reading its CSV bytes
//
// usage: data_bench [--records N] [--movielens DIR] [--dir SCRATCH]
// Timings vary with the machine and its load; nothing here is asserted.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/allocator.h"
#include "common/file_util.h"
#include "common/logging.h"
#include "config/config.h"
#include "data/converters/convert.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "data/prompt.h"
#include "data/record_format.h"
#include "data/record_reader.h"
#include "data/record_writer.h"
#include "data/tokenizer.h"

namespace alro::data {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); }

constexpr double kMiB = 1024.0 * 1024.0;
// Repetitions of each I/O measurement; the best is reported (reads: warm cache).
constexpr int kReadRepeats = 3;

const char* const kTitles[] = {"Toy Story",   "American President, The", "Heat",      "Sabrina",
                               "GoldenEye",   "Sense and Sensibility",   "Four Rooms", "Get Shorty",
                               "Copycat",     "Assassins",               "Powder",     "Leaving Las Vegas"};

proto::Interaction MakeInteraction(int64_t item, float rating) {
  proto::Interaction it;
  it.mutable_item()->set_item_id(absl::StrCat(item));
  it.mutable_item()->set_title(absl::StrCat(kTitles[item % 12], " ", item % 97));
  it.mutable_item()->set_year(1950 + static_cast<int32_t>(item % 70));
  it.mutable_item()->add_genres("Drama");
  it.mutable_item()->add_genres("Comedy");
  it.set_rating(rating);
  it.set_timestamp(1260759144 + item);
  return it;
}

// A MovieLens-shaped list: H=20 history, m=10 candidates.
proto::ListExample MakeExample(int64_t i) {
  proto::ListExample ex;
  ex.set_schema_version(kSchemaVersion);
  ex.set_user_id(absl::StrCat(i));
  ex.set_split(proto::SPLIT_TRAIN);
  ex.set_example_id(absl::StrCat("train/", i, "/0"));
  for (int h = 0; h < 20; ++h) *ex.add_history() = MakeInteraction(i * 31 + h, 0.5f * static_cast<float>(1 + (i + h) % 10));
  for (int c = 0; c < 10; ++c) *ex.add_candidates() = MakeInteraction(i * 17 + c, 0.5f * static_cast<float>(1 + (i * c) % 10));
  return ex;
}

// The baseline reader: read(2) of the whole file in 1 MiB chunks into one
// reused buffer, touching every byte (a sum) so nothing is optimised away.
absl::StatusOr<uint64_t> RawRead(const std::string& path) {
  constexpr size_t kChunk = size_t{1} << 20;
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return absl::NotFoundError(path);
  std::vector<char> buffer(kChunk);
  uint64_t sum = 0;
  ssize_t n;
  while ((n = ::read(fd, buffer.data(), kChunk)) > 0) {
    for (ssize_t i = 0; i < n; i += 64) sum += static_cast<uint8_t>(buffer[static_cast<size_t>(i)]);
  }
  ::close(fd);
  return sum;
}

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "data_bench: %s\n", std::string(s.message()).c_str());
  return 1;
}

}  // namespace

int Main(int argc, char** argv) {
  int64_t records = 20000;
  std::string movielens;
  std::string scratch = "/tmp/alro_data_bench";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--records") == 0) (void)absl::SimpleAtoi(argv[i + 1], &records);
    if (std::strcmp(argv[i], "--movielens") == 0) movielens = argv[i + 1];
    if (std::strcmp(argv[i], "--dir") == 0) scratch = argv[i + 1];
  }
  SetLogLevel(LogLevel::kWarning);
  (void)RemoveAll(scratch);
  if (absl::Status s = MakeDirectories(scratch); !s.ok()) return Fail(s);

  std::vector<std::string> payloads;
  uint64_t payload_bytes = 0;
  for (int64_t i = 0; i < records; ++i) {
    payloads.push_back(MakeExample(i).SerializeAsString());
    payload_bytes += payloads.back().size();
  }
  const uint64_t framed_bytes = payload_bytes + records * kFrameOverhead;
  std::printf("data_bench: %lld MovieLens-shaped lists (H=20, m=10), %.1f MiB framed\n",
              static_cast<long long>(records), framed_bytes / kMiB);

  // ---- writer vs raw write of the same framed bytes
  std::string framed;
  framed.reserve(framed_bytes);
  for (const std::string& p : payloads) AppendRecordFrame(p, &framed);
  double raw_write = 1e30, record_write = 1e30;
  const std::string dir = JoinPath(scratch, "set");
  Clock::time_point t0;
  for (int rep = 0; rep < kReadRepeats; ++rep) {
    t0 = Clock::now();
    {
      auto raw = SequentialFileWriter::Create(JoinPath(scratch, "raw.bin"));
      if (!raw.ok()) return Fail(raw.status());
      if (absl::Status s = raw->Append(framed); !s.ok()) return Fail(s);
      if (absl::Status s = raw->Close(); !s.ok()) return Fail(s);
    }
    raw_write = std::min(raw_write, Seconds(t0));
    (void)RemoveAll(dir);
    t0 = Clock::now();
    auto writer = ShardedRecordWriter::Create(dir, "train", ShardLimits{});
    if (!writer.ok()) return Fail(writer.status());
    for (const std::string& p : payloads) {
      if (absl::Status s = writer->Write(p); !s.ok()) return Fail(s);
    }
    auto shards = writer->Finish();
    if (!shards.ok()) return Fail(shards.status());
    Manifest m;
    m.format = kManifestFormat;
    m.schema_version = kSchemaVersion;
    m.splits.push_back(SplitInfo{"train", records, *shards});
    if (absl::Status s = WriteManifest(dir, m); !s.ok()) return Fail(s);
    record_write = std::min(record_write, Seconds(t0));
  }
  std::printf("writer:  %8.1f MB/s   raw sequential write %8.1f MB/s   ratio %.2f\n", framed_bytes / kMiB / record_write,
              framed_bytes / kMiB / raw_write, raw_write / record_write);

  // ---- readers vs raw read (warm page cache for all; best of kReadRepeats)
  double raw_read = 1e30, crc_read = 1e30, parse_read = 1e30;
  const std::string shard = JoinPath(dir, "train-00000.rec");
  for (int rep = 0; rep < kReadRepeats; ++rep) {
    t0 = Clock::now();
    auto bytes = RawRead(JoinPath(scratch, "raw.bin"));
    if (!bytes.ok()) return Fail(bytes.status());
    raw_read = std::min(raw_read, Seconds(t0));
    t0 = Clock::now();
    auto reader = ShardReader::Open(shard);
    if (!reader.ok()) return Fail(reader.status());
    uint64_t sum = 0;
    for (int64_t i = 0; i < reader->num_records(); ++i) {
      auto p = reader->Read(i);
      if (!p.ok()) return Fail(p.status());
      sum += p->size();
    }
    crc_read = std::min(crc_read, Seconds(t0));
    if (sum != payload_bytes) return Fail(absl::InternalError("read back a different byte count"));
    t0 = Clock::now();
    auto split = SplitReader::Open(dir, "train", OnCorrupt::kFail);
    if (!split.ok()) return Fail(split.status());
    proto::ListExample ex;
    for (int64_t i = 0; i < (*split)->size(); ++i) {
      if (absl::Status s = (*split)->Read(i, &ex); !s.ok()) return Fail(s);
    }
    parse_read = std::min(parse_read, Seconds(t0));
  }
  std::printf("reader:  %8.1f MB/s (index+CRCs)  %8.1f MB/s (+parse)   raw sequential read %8.1f MB/s   "
              "ratios %.2f / %.2f\n",
              framed_bytes / kMiB / crc_read, framed_bytes / kMiB / parse_read, framed_bytes / kMiB / raw_read,
              raw_read / crc_read, raw_read / parse_read);

  // ---- render + tokenize on one core
  std::vector<std::string> corpus = PromptLiterals(config::PromptConfig());
  for (int t = 0; t < 12; ++t) {
    for (int k = 0; k < 97; ++k) corpus.push_back(absl::StrCat(kTitles[t], " ", k, " (19", 50 + k % 50, ")"));
  }
  TokenizerTrainingOptions topt;
  topt.vocab_size = 1024;
  topt.user_defined_symbols = config::PromptConfig().identifiers;
  topt.user_defined_symbols.push_back(kNewlinePiece);
  auto model = TrainTokenizer(corpus, topt);
  if (!model.ok()) return Fail(model.status());
  auto tokenizer = Tokenizer::FromSerialized(*model, "bench");
  if (!tokenizer.ok()) return Fail(tokenizer.status());
  config::PromptConfig tiny_prompt;  // configs/tiny.yaml: max_history 8, max_title_chars 40
  tiny_prompt.max_history = 8;
  tiny_prompt.max_title_chars = 40;
  auto renderer = PromptRenderer::Create(tiny_prompt, *tokenizer);
  if (!renderer.ok()) return Fail(renderer.status());
  const int64_t render_lists = std::min<int64_t>(records, 5000);
  std::vector<proto::ListExample> examples;
  for (int64_t i = 0; i < render_lists; ++i) {
    examples.emplace_back();
    examples.back().ParseFromString(payloads[static_cast<size_t>(i)]);
  }
  // Cold: every title tokenized for the first time; warm: from the cache.
  double cold = 0, warm = 0;
  int64_t tokens = 0;
  for (int pass = 0; pass < 2; ++pass) {
    t0 = Clock::now();
    for (int64_t i = 0; i < render_lists; ++i) {
      auto r = (*renderer)->Render(examples[static_cast<size_t>(i)]);
      if (!r.ok()) return Fail(r.status());
      auto c = (*renderer)->Render(examples[static_cast<size_t>(i)], PslPermutation(1, i, 1, 10), 1);
      if (!c.ok()) return Fail(c.status());
      tokens += pass == 1 ? static_cast<int64_t>(r->tokens.size()) : 0;
    }
    (pass == 0 ? cold : warm) = Seconds(t0);
  }
  const double renders_per_s = 2.0 * render_lists / warm;
  // configs/tiny.yaml: micro_batch_size 8, psl_copies 1 -> 16 renderings per rank per step.
  constexpr double kTinyRenderingsPerStep = 8 * (1 + 1);
  std::printf("render+tokenize (1 core): %.0f renderings/s warm (%.0f cold), %.0f tokens each; "
              "a tiny.yaml step needs %.0f per rank = %.2f ms of one core\n",
              renders_per_s, 2.0 * render_lists / cold, double(tokens) / render_lists, kTinyRenderingsPerStep,
              1e3 * kTinyRenderingsPerStep / renders_per_s);

  // ---- MovieLens latest-small conversion
  if (!movielens.empty()) {
    t0 = Clock::now();
    uint64_t input_bytes = 0;
    for (const char* f : {"ratings.csv", "movies.csv"}) {
      auto b = ReadFileToString(JoinPath(movielens, f));
      if (!b.ok()) return Fail(b.status());
      input_bytes += b->size();
    }
    const double read_input = Seconds(t0);
    ConvertOptions o;
    o.format = "movielens";
    o.input = movielens;
    o.output = JoinPath(scratch, "ml");
    t0 = Clock::now();
    auto summary = ConvertDataset(o);
    if (!summary.ok()) return Fail(summary.status());
    const double convert = Seconds(t0);
    o.vocab_size = 0;
    o.output = JoinPath(scratch, "ml_no_tokenizer");
    t0 = Clock::now();
    if (auto s = ConvertDataset(o); !s.ok()) return Fail(s.status());
    const double convert_no_tok = Seconds(t0);
    std::printf("convert MovieLens latest-small (%.1f MiB CSV, %lld ratings): %.2f s (%.2f s without tokenizer "
                "training); reading the CSV bytes alone %.3f s (ratio %.0fx)\n",
                input_bytes / kMiB, static_cast<long long>(summary->ratings), convert, convert_no_tok, read_input,
                convert / read_input);
  }
  (void)RemoveAll(scratch);
  return 0;
}

}  // namespace alro::data

int main(int argc, char** argv) {
  alro::ConfigureAllocator();  // as the `alro` binary runs: common/allocator.h
  return alro::data::Main(argc, argv);
}
