// tests/core/vocab_growth_test.cc: a pretrained vocabulary grown at load
// time (core/vocab_growth.h): new rows are the double-precision mean of their
// source rows (brute force), the checkpoint's rows stay exactly as saved, at
// every tensor-parallel size, for a tied and an untied LM head; the logits
// of old tokens do not change; any other vocabulary mismatch stays an error.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "common/file_util.h"
#include "core/hf_checkpoint.h"
#include "core/safetensors.h"
#include "core/vocab_growth.h"
#include "tests/core/core_test_util.h"

namespace alro::core {
namespace {

// Float32 rows against a double-precision reference.
constexpr double kMeanTolerance = 1e-6;

// Row k of the new rows, computed element by element in double precision.
std::vector<double> BruteForceRow(const at::Tensor& base, const std::vector<int32_t>& sources) {
  const at::Tensor b = base.to(at::kDouble).contiguous();
  const int64_t rows = b.size(0), hidden = b.size(1);
  std::vector<double> out(static_cast<size_t>(hidden), 0.0);
  std::vector<int64_t> ids;
  if (sources.empty()) {
    for (int64_t r = 0; r < rows; ++r) ids.push_back(r);
  } else {
    ids.assign(sources.begin(), sources.end());
  }
  const double* data = b.data_ptr<double>();
  for (int64_t c = 0; c < hidden; ++c) {
    double sum = 0.0;
    for (int64_t r : ids) sum += data[r * hidden + c];
    out[static_cast<size_t>(c)] = sum / static_cast<double>(ids.size());
  }
  return out;
}

void ExpectRowsMatch(const at::Tensor& got, int64_t first_row, const at::Tensor& base, const VocabGrowth& growth,
                     const std::string& what) {
  const at::Tensor g = got.to(at::kDouble).contiguous();
  for (int64_t r = 0; r < got.size(0); ++r) {
    const int64_t k = first_row + r;
    const std::vector<double> expected = BruteForceRow(base, growth.sources[static_cast<size_t>(k)]);
    for (int64_t c = 0; c < got.size(1); ++c) {
      ASSERT_NEAR(g[r][c].item<double>(), expected[static_cast<size_t>(c)], kMeanTolerance)
          << what << " new row " << k << " column " << c;
    }
  }
}

VocabGrowth SampleGrowth(int64_t v) {
  VocabGrowth growth;
  growth.checkpoint_vocab = v;
  growth.sources = {{5, 17, 17, 200}, {0}, {static_cast<int32_t>(v - 1), 3}, {}};
  return growth;
}

TEST(VocabGrowth, NewRowsAreTheMeanOfTheirSourceRows) {
  const at::Tensor base = at::randn({40, 7}).to(at::kHalf);  // a half-precision checkpoint
  VocabGrowth growth;
  growth.checkpoint_vocab = 40;
  growth.sources = {{1, 2, 3}, {39}, {}, {4, 4, 10}};
  absl::StatusOr<at::Tensor> rows = GrownRows(base, growth);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->sizes().vec(), (std::vector<int64_t>{4, 7}));
  EXPECT_EQ(rows->scalar_type(), at::kFloat);
  ExpectRowsMatch(*rows, 0, base, growth, "GrownRows");

  growth.sources[1] = {40};
  absl::StatusOr<at::Tensor> outside = GrownRows(base, growth);
  ASSERT_FALSE(outside.ok());
  EXPECT_TRUE(absl::StrContains(outside.status().message(), "token 40")) << outside.status();
  growth.checkpoint_vocab = 41;
  EXPECT_FALSE(GrownRows(base, growth).ok());
}

// Saves a model of V tokens, loads it grown by 4 at tp = world size: old
// rows bit-identical, new rows the brute-force means, logits of the old
// vocabulary unchanged.
TEST(MpiVocabGrowth, LoadKeepsTheCheckpointRowsAndStartsNewOnesFromTheirSources) {
  for (const bool tie : {false, true}) {
    config::ModelConfig m = testing::SmallTestModel();
    m.tie_embeddings = tie;
    const std::string dir = testing::SharedTempDir();
    const at::Tensor tokens = testing::RandomTokens(2, 10, m.vocab_size, 3);
    at::Tensor expected;
    {
      dist::ProcessGrid grid = testing::WorldGrid(testing::WorldSize());
      Decoder model(m, grid);
      at::NoGradGuard no_grad;
      expected = testing::FullLogits(model, model.Forward(tokens));
      const absl::Status saved = SaveHfCheckpoint(dir, model);
      ASSERT_TRUE(saved.ok()) << saved;
    }
    absl::StatusOr<SafetensorsReader> file = SafetensorsReader::Open(JoinPath(dir, "model.safetensors"));
    ASSERT_TRUE(file.ok()) << file.status();
    const VocabGrowth growth = SampleGrowth(m.vocab_size);
    config::ModelConfig grown_config = m;
    grown_config.vocab_size = growth.grown_vocab();
    grown_config.seed = m.seed + 1;
    dist::ProcessGrid grid = testing::WorldGrid(testing::WorldSize());
    Decoder grown(grown_config, grid, /*random_init=*/false);
    const absl::Status loaded = LoadGrownHfCheckpoint(dir, grown, growth);
    ASSERT_TRUE(loaded.ok()) << loaded;
    int checked = 0;
    for (const ShardedParameter& p : grown.ShardedParameters()) {
      if (p.name != "model.embed_tokens.weight" && p.name != "lm_head.weight") continue;
      ++checked;
      const at::Tensor base = *file->Read(p.name);
      const int64_t n = p.valid_length();
      const int64_t old_rows = std::max<int64_t>(0, std::min<int64_t>(m.vocab_size - p.offset, n));
      if (old_rows > 0) {
        EXPECT_TRUE(at::equal(p.tensor.narrow(0, 0, old_rows), base.narrow(0, p.offset, old_rows))) << p.name;
      }
      if (n > old_rows) {
        ExpectRowsMatch(p.tensor.narrow(0, old_rows, n - old_rows), p.offset + old_rows - m.vocab_size, base, growth,
                        p.name);
      }
      if (p.tensor.size(0) > n) EXPECT_EQ(p.tensor.narrow(0, n, p.tensor.size(0) - n).abs().max().item<double>(), 0.0);
    }
    EXPECT_EQ(checked, tie ? 1 : 2);
    at::NoGradGuard no_grad;
    const at::Tensor got = testing::FullLogits(grown, grown.Forward(tokens));
    ASSERT_EQ(got.size(-1), growth.grown_vocab());
    EXPECT_LT(testing::MaxAbsDiff(got.narrow(-1, 0, m.vocab_size), expected), 1e-5) << "tie " << tie;

    // Without the growth, or with a growth from another size, the shapes
    // disagree: an error naming the tensor and both shapes.
    Decoder plain(grown_config, grid, /*random_init=*/false);
    const absl::Status refused = LoadHfCheckpoint(dir, plain);
    ASSERT_FALSE(refused.ok());
    EXPECT_TRUE(absl::StrContains(refused.message(), "model.embed_tokens.weight")) << refused;
    EXPECT_TRUE(absl::StrContains(refused.message(), "[251, 64], the model expects [255, 64]")) << refused;
    MPI_Barrier(MPI_COMM_WORLD);
    if (testing::WorldRank() == 0) (void)RemoveAll(dir);
  }
}

}  // namespace
}  // namespace alro::core
