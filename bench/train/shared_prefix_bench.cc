// bench/train/shared_prefix_bench.cc: what packing a list and its PSL copies
// around their shared prefix (objective.shared_prefix) and packing lists of
// different lengths into rows (objective.pack_lists, both
// train/shared_prefix_layout.h) save, on the training tests' synthetic
// ratings converted with a pretrained-style prompt (instruction line, rated
// history lines with titles, candidate lines with titles; --history lines of
// history, default 10).
//
//   OMP_NUM_THREADS=1 build/bench/train/shared_prefix_bench [--rounds 7] [--steps 3] [--history 10]
//       [--compare shared|packing]
//   build/bench/train/shared_prefix_bench --config configs/tiny.yaml   (token counts of a real job only)
//
// 1. Tokens per list for P = 1 and 2: (1 + P) x L unshared against
//    L_prefix + sum of the suffixes packed, the token slots of the padded
//    micro-batches (rows x longest row) both ways, and the share of
//    micro-batches that objective.shared_prefix "auto" packs; then the share
//    of padded token slots (padded slots / all slots of the tensors the
//    model computes) for P = 0, 1 and 2 with objective.pack_lists "never"
//    and "auto" (objective.shared_prefix "auto" both times). With --config,
//    of that job's data, prompt and micro-batch size (its data.dir must hold
//    a converted data set), and nothing else is run.
// 2. Step time of one rank (tiny and small presets). --compare shared (the
//    default): psl_copies 0, and psl_copies 1 and 2 unshared ("never") and
//    shared ("always"), none packed. --compare packing: psl_copies 0, 1 and
//    2, each with pack_lists "never" and "always" (shared_prefix "auto").
//    The configurations run interleaved, `--steps` steps each per round; the
//    table gives the median step time over rounds and the medians (and
//    ranges) of the per-round ratios. Asserts nothing.
#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/allocator.h"
#include "common/file_util.h"
#include "config/config_io.h"
#include "data/converters/convert.h"
#include "data/loader.h"
#include "distributed/process_grid.h"
#include "distributed/runtime.h"
#include "tests/train/synthetic_data.h"
#include "train/shared_prefix_layout.h"
#include "train/trainer.h"

namespace {

constexpr int kTokenBatches = 16;  // micro-batches rendered for the token count
constexpr int kCandidates = 4;     // the synthetic ratings' lists (m)

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0.0 : n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

[[noreturn]] void Fail(const absl::Status& s) {
  std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::abort();
}

// The synthetic ratings converted with up to `history` history lines per list.
std::string MakeData(const std::string& root, int history) {
  (void)alro::RemoveAll(root);
  if (absl::Status s = alro::train::testing_util::WriteSyntheticRatings(root); !s.ok()) Fail(s);
  alro::data::ConvertOptions options;
  options.format = "movielens";
  options.input = alro::JoinPath(root, "raw");
  options.output = alro::JoinPath(root, "data");
  options.split.num_candidates = kCandidates;
  options.split.max_history = history;
  options.split.stride = 2;
  options.vocab_size = 200;
  options.threads = 1;
  options.command_line = "shared_prefix_bench";
  if (auto r = alro::data::ConvertDataset(options); !r.ok()) Fail(r.status());
  return options.output;
}

alro::config::Config BenchConfig(const std::string& data, const std::string& preset, int history, int copies,
                                 const char* shared) {
  alro::config::Config c = alro::train::testing_util::TinyTrainConfig(data);
  alro::config::ApplyModelPreset(preset, &c.model);
  c.model.preset = preset;
  c.model.max_seq_len = 512;
  c.prompt.max_history = history;
  c.prompt.max_title_chars = 60;
  c.objective.psl_copies = copies;
  c.objective.shared_prefix = shared;
  c.schedule.steps = 100000;
  c.schedule.micro_batch_size = 4;
  c.schedule.global_batch_size = 4;
  c.data.prefetch_batches = 2;
  alro::config::ResolveDerived(&c, 1);
  return c;
}

// The training loader of `c` on one rank, without prefetching.
std::unique_ptr<alro::data::Loader> OpenLoader(alro::config::Config c) {
  c.data.prefetch_batches = 0;
  auto renderer = alro::data::OpenRenderer(c);
  if (!renderer.ok()) Fail(renderer.status());
  auto loader = alro::data::OpenTrainLoader(c, *renderer, 0, 1);
  if (!loader.ok()) Fail(loader.status());
  return std::move(*loader);
}

// The share of padded slots in the tensors the model computes, without and
// with objective.pack_lists "auto" (objective.shared_prefix "auto").
void PaddingShares(const alro::config::Config& job) {
  std::printf("\npadded slots / all slots (%d micro-batches of %lld lists; shared_prefix auto)\n", kTokenBatches,
              static_cast<long long>(job.schedule.micro_batch_size));
  std::printf("%3s %12s %12s %9s %12s %12s %9s %7s\n", "P", "slots before", "real tokens", "padded", "slots after",
              "real tokens", "padded", "fewer");
  for (int copies : {0, 1, 2}) {
    alro::config::Config c = job;
    c.objective.psl_copies = copies;
    const std::unique_ptr<alro::data::Loader> loader = OpenLoader(c);
    double slots[2] = {0, 0}, real[2] = {0, 0};
    int fewer = 0;  // micro-batches that packing computes in fewer slots
    for (int b = 0; b < kTokenBatches; ++b) {
      auto batch = loader->Next();
      if (!batch.ok()) Fail(batch.status());
      int64_t before = 0;
      for (int pack = 0; pack < 2; ++pack) {
        using alro::train::LayoutMode;
        const alro::train::LayoutOptions options{LayoutMode::kAuto, pack ? LayoutMode::kAuto : LayoutMode::kNever,
                                                 alro::train::AttentionEntryCost(c.model)};
        auto t = alro::train::ToTrainingTensors(*batch, 0, options);
        if (!t.ok()) Fail(t.status());
        slots[pack] += static_cast<double>(t->tokens.numel());
        real[pack] += static_cast<double>(t->real_tokens);
        if (pack) fewer += t->tokens.numel() < before ? 1 : 0;
        before = t->tokens.numel();
      }
    }
    std::printf("%3d %12.0f %12.0f %8.1f%% %12.0f %12.0f %8.1f%% %3d/%d\n", copies, slots[0], real[0],
                100.0 * (1.0 - real[0] / slots[0]), slots[1], real[1], 100.0 * (1.0 - real[1] / slots[1]), fewer,
                kTokenBatches);
  }
}

void TokensPerList(const alro::config::Config& job, const std::string& what) {
  std::printf("tokens per list (%s, %d micro-batches of %lld lists)\n", what.c_str(), kTokenBatches,
              static_cast<long long>(job.schedule.micro_batch_size));
  std::printf("%3s %9s %9s %9s %12s %12s %7s %14s %14s %7s %7s\n", "P", "L", "prefix", "suffix", "unshared", "packed",
              "ratio", "slots unshared", "slots packed", "ratio", "auto");
  for (int copies : {1, 2}) {
    alro::config::Config c = job;
    c.objective.psl_copies = copies;
    const std::unique_ptr<alro::data::Loader> loader = OpenLoader(c);
    double lists = 0, length = 0, prefix = 0, unshared = 0, packed = 0, slots_unshared = 0, slots_packed = 0;
    int auto_packed = 0;
    for (int b = 0; b < kTokenBatches; ++b) {
      auto batch = loader->Next();
      if (!batch.ok()) Fail(batch.status());
      auto u = alro::train::ToTensors(*batch, 0);
      auto p = alro::train::ToSharedPrefixTensors(*batch, 0);
      if (!u.ok() || !p.ok()) Fail(u.ok() ? p.status() : u.status());
      auto a = alro::train::ToTrainingTensors(
          *batch, 0,
          {alro::train::LayoutMode::kAuto, alro::train::LayoutMode::kNever, alro::train::AttentionEntryCost(c.model)});
      if (!a.ok()) Fail(a.status());
      auto_packed += a->attention_mask.defined() ? 1 : 0;
      for (size_t i = 0; i < batch->lists.size(); i += static_cast<size_t>(1 + copies)) {
        lists += 1;
        length += static_cast<double>(batch->lists[i].tokens.size());
        prefix += static_cast<double>(alro::train::CommonPrefixLength(batch->lists, i, static_cast<size_t>(1 + copies)));
      }
      unshared += static_cast<double>(u->real_tokens);
      packed += static_cast<double>(p->real_tokens);
      slots_unshared += static_cast<double>(u->tokens.numel());
      slots_packed += static_cast<double>(p->tokens.numel());
    }
    std::printf("%3d %9.1f %9.1f %9.1f %12.1f %12.1f %7.3f %14.1f %14.1f %7.3f %6.0f%%\n", copies, length / lists,
                prefix / lists, (length - prefix) / lists, unshared / lists, packed / lists, packed / unshared,
                slots_unshared / lists, slots_packed / lists, slots_packed / slots_unshared,
                100.0 * auto_packed / kTokenBatches);
  }
  PaddingShares(job);
}

struct Variant {
  int copies;
  const char* shared;
  const char* pack;
  size_t reference;  // the variant of the second ratio column
};

void StepTimes(const std::string& data, const std::string& preset, int history, int rounds, int steps,
               bool packing) {
  const std::vector<Variant> variants =
      packing ? std::vector<Variant>{{0, "auto", "never", 0}, {0, "auto", "always", 0}, {1, "auto", "never", 2},
                                     {1, "auto", "always", 2}, {2, "auto", "never", 4}, {2, "auto", "always", 4}}
              : std::vector<Variant>{{0, "never", "never", 0},
                                     {1, "never", "never", 1},
                                     {1, "always", "never", 1},
                                     {2, "never", "never", 3},
                                     {2, "always", "never", 3}};
  alro::dist::ProcessGrid grid = alro::dist::ProcessGrid::CreateSingleProcess();
  std::vector<std::unique_ptr<alro::train::Trainer>> trainers;
  for (const Variant& v : variants) {
    alro::train::TrainerOptions options;
    options.quiet = true;
    options.peak_flops_per_rank = 1e9;  // no matmul probe
    alro::config::Config c = BenchConfig(data, preset, history, v.copies, v.shared);
    c.objective.pack_lists = v.pack;
    auto trainer = alro::train::Trainer::Create(c, grid, options);
    if (!trainer.ok()) Fail(trainer.status());
    if (auto s = (*trainer)->Step(); !s.ok()) Fail(s.status());  // warm-up
    trainers.push_back(std::move(*trainer));
  }
  std::vector<std::vector<double>> seconds(variants.size());
  for (int r = 0; r < rounds; ++r) {
    for (size_t i = 0; i < variants.size(); ++i) {
      double total = 0;
      for (int s = 0; s < steps; ++s) {
        auto st = trainers[i]->Step();
        if (!st.ok()) Fail(st.status());
        total += st->seconds;
      }
      seconds[i].push_back(total / steps);
    }
  }
  // Per-round ratios against psl_copies 0 and against the unshared run of the same P.
  std::printf("\nallocator: %s", alro::AllocatorSummary().c_str());
  std::printf("\nstep time, preset %s, 1 rank, 4 lists per step, %d rounds x %d steps (interleaved)\n",
              preset.c_str(), rounds, steps);
  std::printf("%-26s %10s %22s %24s\n", "configuration", "median s", "/ psl 0 (min-max)",
              packing ? "/ unpacked P (min-max)" : "/ unshared P (min-max)");
  for (size_t i = 0; i < variants.size(); ++i) {
    std::vector<double> over_base, over_unshared;
    const size_t unshared = variants[i].reference;
    for (int r = 0; r < rounds; ++r) {
      over_base.push_back(seconds[i][r] / seconds[0][r]);
      over_unshared.push_back(seconds[i][r] / seconds[unshared][r]);
    }
    const auto [base_min, base_max] = std::minmax_element(over_base.begin(), over_base.end());
    const auto [own_min, own_max] = std::minmax_element(over_unshared.begin(), over_unshared.end());
    std::printf("%-26s %10.4f %8.3f (%.3f-%.3f) %10.3f (%.3f-%.3f)\n",
                absl::StrCat("psl ", variants[i].copies, " ", variants[i].shared, " pack ", variants[i].pack).c_str(),
                Median(seconds[i]),
                Median(over_base), *base_min, *base_max, Median(over_unshared), *own_min, *own_max);
  }
}

}  // namespace

int main(int argc, char** argv) {
  alro::ConfigureAllocator();  // as the `alro` binary runs: common/allocator.h
  alro::dist::MpiRuntime mpi(&argc, &argv);
  int rounds = 7, steps = 3, history = 10;
  std::string config_path, compare = "shared";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--rounds")) rounds = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--steps")) steps = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--history")) history = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--config")) config_path = argv[i + 1];
    if (!std::strcmp(argv[i], "--compare")) compare = argv[i + 1];
  }
  if (!config_path.empty()) {
    auto job = alro::config::LoadConfig(config_path);
    if (!job.ok()) Fail(job.status());
    TokensPerList(*job, config_path);
    return 0;
  }
  const std::string data = MakeData("/tmp/alro_shared_prefix_bench", history);
  // The conversion set glibc malloc back to returning large frees
  // (data/converters/memory_budget.h); time the steps as `alro train` runs
  // them (without it, a third of this bench's time was page faults).
  alro::ConfigureAllocator();
  TokensPerList(BenchConfig(data, "tiny", history, 1, "auto"),
                absl::StrCat("synthetic ratings, history <= ", history, ", m = ", kCandidates));
  for (const std::string preset : {"tiny", "small"}) {
    StepTimes(data, preset, history, rounds, steps, compare == "packing");
  }
  return 0;
}
