// tests/core/lora_test.cc: LoRA adapters: zero-initialised B leaves the
// model unchanged, only adapters train, and the Hugging Face export with the
// adapters merged reproduces the adapter forward (at tp = world size, saved
// and reloaded at the same size and at tp 1).
#include <gtest/gtest.h>

#include "common/file_util.h"
#include "core/decoder.h"
#include "core/hf_checkpoint.h"
#include "tests/core/core_test_util.h"

namespace alro::core {
namespace {

using testing::FullLogits;
using testing::MaxAbsDiff;
using testing::RandomTokens;
using testing::SmallTestModel;
using testing::WorldGrid;
using testing::WorldRank;
using testing::WorldSize;

config::ModelConfig LoraModel() {
  config::ModelConfig m = SmallTestModel();
  m.lora.enabled = true;
  m.lora.rank = 4;
  m.lora.alpha = 16.0;
  m.lora.targets = {"q_proj", "v_proj", "o_proj", "down_proj", "up_proj"};
  return m;
}

TEST(MpiLora, ZeroInitialisedAdaptersLeaveOutputsUnchanged) {
  dist::ProcessGrid grid = WorldGrid(WorldSize());
  Decoder base(SmallTestModel(), grid);
  Decoder adapted(LoraModel(), grid);
  const at::Tensor tokens = RandomTokens(2, 9, 251, 4);
  at::NoGradGuard no_grad;
  EXPECT_EQ(MaxAbsDiff(FullLogits(adapted, adapted.Forward(tokens)), FullLogits(base, base.Forward(tokens))), 0.0);
}

TEST(MpiLora, OnlyAdaptersTrain) {
  dist::ProcessGrid grid = WorldGrid(WorldSize());
  Decoder model(LoraModel(), grid);
  testing::RandomizeParameters(model, "lora_B", 0.1, 9);
  model.LocalLogits(model.Forward(RandomTokens(2, 9, 251, 4))).sum().backward();
  int adapters = 0;
  for (const ShardedParameter& p : model.ShardedParameters()) {
    const bool adapter = p.name.find("lora_") != std::string::npos;
    EXPECT_EQ(p.trainable, adapter) << p.name;
    EXPECT_EQ(p.tensor.grad().defined(), adapter) << p.name;
    adapters += adapter;
  }
  EXPECT_EQ(adapters, 2 * 5 * 2);  // A and B, 5 targets, 2 layers
}

TEST(MpiLora, MergedExportEqualsAdapterForward) {
  const std::string dir = testing::SharedTempDir();
  const at::Tensor tokens = RandomTokens(2, 9, 251, 6);
  dist::ProcessGrid grid = WorldGrid(WorldSize());
  at::Tensor expected;
  {
    Decoder model(LoraModel(), grid);
    testing::RandomizeParameters(model, "lora_B", 0.1, 11);
    at::NoGradGuard no_grad;
    expected = FullLogits(model, model.Forward(tokens));
    const absl::Status saved = SaveHfCheckpoint(dir, model);
    ASSERT_TRUE(saved.ok()) << saved;
  }
  dist::ProcessGrid single = dist::ProcessGrid::CreateSingleProcess();
  for (dist::ProcessGrid* g : {&grid, &single}) {
    Decoder plain(SmallTestModel(), *g, false);
    ASSERT_TRUE(LoadHfCheckpoint(dir, plain).ok());
    at::NoGradGuard no_grad;
    EXPECT_LT(MaxAbsDiff(FullLogits(plain, plain.Forward(tokens)), expected), 1e-5) << "tp " << g->tp_size();
    // The adapters really changed the model.
    Decoder base(SmallTestModel(), *g);
    EXPECT_GT(MaxAbsDiff(FullLogits(base, base.Forward(tokens)), expected), 1e-3);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (WorldRank() == 0) (void)RemoveAll(dir);
}

}  // namespace
}  // namespace alro::core
