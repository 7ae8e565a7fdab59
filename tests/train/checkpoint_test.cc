// tests/train/checkpoint_test.cc: sharded checkpoints: save under mpirun at
// one (dp, tp) shape, read back at every other shape; atomicity (incomplete
// checkpoints are invisible); retention; errors that name the tensor.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <mpi.h>

#include <string>
#include <vector>

#include "common/file_util.h"
#include "distributed/process_grid.h"
#include "distributed/shard.h"
#include "tests/train/test_util.h"
#include "train/checkpoint.h"

namespace alro::train {
namespace {

// The global tensors of a fake model: distinct values everywhere, so a slice
// taken from the wrong place cannot match.
struct GlobalModel {
  at::Tensor embed = at::arange(10 * 6, at::kFloat).reshape({10, 6});   // vocab 10: padded when tp does not divide
  at::Tensor wide = at::arange(4 * 8, at::kFloat).reshape({4, 8}) * -1.5;  // split along dim 1
  at::Tensor norm = at::linspace(0.5, 2.0, 6);                          // replicated
};

// This rank's slice of `global` for a tensor-parallel layout (tp_size,
// tp_rank), split along `dim`, with vocabulary-style padding: the split
// dimension is rounded up to a multiple of tp_size and padding rows are zero.
core::ShardedParameter Slice(const std::string& name, const at::Tensor& global, int dim, int tp_size, int tp_rank) {
  if (dim < 0) return core::ShardedParameter{name, global.clone(), -1, global.sizes().vec(), 0, true, false};
  const int64_t n = global.size(dim);
  const int64_t per = (n + tp_size - 1) / tp_size;
  const int64_t offset = per * tp_rank;
  std::vector<int64_t> shape = global.sizes().vec();
  shape[dim] = per;
  at::Tensor local = at::zeros(shape, global.options());
  const int64_t valid = std::max<int64_t>(0, std::min(per, n - offset));
  if (valid > 0) local.narrow(dim, 0, valid).copy_(global.narrow(dim, offset, valid));
  return core::ShardedParameter{name, local, dim, global.sizes().vec(), offset, true, false};
}

// The whole stored float tensor `name`, loaded as one replicated slice.
absl::StatusOr<at::Tensor> ReadFull(const CheckpointReader& reader, const std::string& name) {
  absl::StatusOr<std::vector<int64_t>> shape = reader.GlobalShape(name);
  if (!shape.ok()) return shape.status();
  at::Tensor full = at::empty(*shape, at::kFloat);
  const absl::Status loaded =
      reader.LoadInto(core::ShardedParameter{.name = name, .tensor = full, .global_shape = *shape});
  if (!loaded.ok()) return loaded;
  return full;
}

std::vector<core::ShardedParameter> ModelSlices(const GlobalModel& g, int tp_size, int tp_rank) {
  return {Slice("model.embed_tokens.weight", g.embed, 0, tp_size, tp_rank),
          Slice("model.layers.0.mlp.up_proj.weight", g.wide, 1, tp_size, tp_rank),
          Slice("model.norm.weight", g.norm, -1, tp_size, tp_rank)};
}

// Saves at tp = world size (every rank holds a different shard) and at
// tp 1 x dp world (replicas), then reads every layout back on every rank.
TEST(MpiCheckpoint, SavedAtOneShapeLoadsAtEveryOther) {
  int world = 1, rank = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  const GlobalModel global;
  for (int save_tp : {world, 1}) {
    SCOPED_TRACE("saved at tp " + std::to_string(save_tp));
    const std::string root = testing_util::SharedTempDir("ckpt_reshard_tp" + std::to_string(save_tp));
    absl::StatusOr<dist::ProcessGrid> grid = dist::ProcessGrid::Create(MPI_COMM_WORLD, save_tp);
    ASSERT_TRUE(grid.ok()) << grid.status();
    CheckpointContents contents;
    contents.step = 7;
    contents.tensors = ModelSlices(global, grid->tp_size(), grid->tp_rank());
    contents.rank_state["loader"] = "loader-state-of-rank-" + std::to_string(rank);
    contents.rank_state["empty"] = "";
    contents.config_yaml = "model: {preset: tiny}\n";
    absl::StatusOr<std::string> dir = SaveCheckpoint(root, contents, RetentionPolicy{}, *grid);
    ASSERT_TRUE(dir.ok()) << dir.status();
    EXPECT_EQ(*dir, CheckpointPath(root, 7));

    absl::StatusOr<CheckpointReader> reader = CheckpointReader::Open(*dir);
    ASSERT_TRUE(reader.ok()) << reader.status();
    EXPECT_EQ(reader->step(), 7);
    EXPECT_EQ(reader->saved_world_size(), world);
    EXPECT_EQ(reader->manifest()["grid"]["tensor_parallel"], save_tp);
    // Every load layout, including ones that do not divide the vocabulary.
    for (int load_tp : {1, 2, 3, 4}) {
      for (int load_rank = 0; load_rank < load_tp; ++load_rank) {
        for (const core::ShardedParameter& want : ModelSlices(global, load_tp, load_rank)) {
          core::ShardedParameter got = want;
          got.tensor = at::full_like(want.tensor, 99.0f);
          const absl::Status s = reader->LoadInto(got);
          ASSERT_TRUE(s.ok()) << s;
          EXPECT_TRUE(at::equal(got.tensor, want.tensor))
              << want.name << " at tp " << load_tp << " rank " << load_rank;
        }
      }
    }
    absl::StatusOr<at::Tensor> full = ReadFull(*reader, "model.layers.0.mlp.up_proj.weight");
    ASSERT_TRUE(full.ok()) << full.status();
    EXPECT_TRUE(at::equal(*full, global.wide));
    absl::StatusOr<std::string> state = reader->RankState("loader", rank);
    ASSERT_TRUE(state.ok()) << state.status();
    EXPECT_EQ(*state, "loader-state-of-rank-" + std::to_string(rank));
    EXPECT_EQ(*reader->RankState("empty", rank), "");
    // A rank the checkpoint did not have falls back to rank 0's blob.
    EXPECT_EQ(*reader->RankState("loader", world + 3), "loader-state-of-rank-0");
    EXPECT_EQ(*reader->ConfigYaml(), contents.config_yaml);
    MPI_Barrier(MPI_COMM_WORLD);
  }
}

TEST(Checkpoint, IncompleteCheckpointsAreInvisibleAndRetentionKeepsLastAndMilestones) {
  const std::string root = testing_util::LocalTempDir("ckpt_retention");
  dist::ProcessGrid grid = dist::ProcessGrid::CreateSingleProcess();
  CheckpointContents contents;
  contents.tensors = {core::ShardedParameter{"w", at::ones({3}), -1, {3}, 0, true, false}};
  const RetentionPolicy retention{/*keep_last=*/2, /*keep_every=*/4};
  for (int64_t step : {1, 2, 3, 4, 5, 6, 7}) {
    contents.step = step;
    ASSERT_TRUE(SaveCheckpoint(root, contents, retention, grid).ok());
  }
  EXPECT_EQ(ListCompleteCheckpoints(root), (std::vector<int64_t>{4, 6, 7}));
  // A torn save of step 8 (files but no manifest) and a step-9 directory
  // without a manifest are not complete: resume auto still picks step 7.
  ASSERT_TRUE(MakeDirectories(CheckpointPath(root, 8) + ".tmp").ok());
  ASSERT_TRUE(WriteFileAtomically(JoinPath(CheckpointPath(root, 8) + ".tmp", "rank_00000.safetensors"), "x").ok());
  ASSERT_TRUE(MakeDirectories(CheckpointPath(root, 9)).ok());
  absl::StatusOr<std::optional<std::string>> resume = ResolveResume("auto", root);
  ASSERT_TRUE(resume.ok()) << resume.status();
  ASSERT_TRUE(resume->has_value());
  EXPECT_EQ(**resume, CheckpointPath(root, 7));
  EXPECT_FALSE(ResolveResume(CheckpointPath(root, 9), root).ok());
  EXPECT_FALSE(ResolveResume("none", root)->has_value());
  EXPECT_FALSE(ResolveResume("auto", JoinPath(root, "nothing-here"))->has_value());
  // What --checkpoint names: a checkpoint itself, or the newest complete one
  // under a root; anything else unchanged (opening it says why).
  EXPECT_EQ(ResolveCheckpointDir(root), CheckpointPath(root, 7));
  EXPECT_EQ(ResolveCheckpointDir(CheckpointPath(root, 4)), CheckpointPath(root, 4));
  EXPECT_EQ(ResolveCheckpointDir(CheckpointPath(root, 9)), CheckpointPath(root, 9));
  EXPECT_FALSE(CheckpointReader::Open(ResolveCheckpointDir(CheckpointPath(root, 9))).ok());
  // The next save removes the torn directory.
  contents.step = 10;
  ASSERT_TRUE(SaveCheckpoint(root, contents, retention, grid).ok());
  EXPECT_FALSE(PathExists(CheckpointPath(root, 8) + ".tmp"));
  EXPECT_EQ(ListCompleteCheckpoints(root), (std::vector<int64_t>{4, 7, 10}));
}

TEST(Checkpoint, ShapeMismatchAndMissingTensorNameTheTensor) {
  const std::string root = testing_util::LocalTempDir("ckpt_errors");
  dist::ProcessGrid grid = dist::ProcessGrid::CreateSingleProcess();
  CheckpointContents contents;
  contents.step = 3;
  contents.tensors = {core::ShardedParameter{"model.norm.weight", at::ones({4}), -1, {4}, 0, true, true}};
  absl::StatusOr<std::string> dir = SaveCheckpoint(root, contents, RetentionPolicy{}, grid);
  ASSERT_TRUE(dir.ok()) << dir.status();
  absl::StatusOr<CheckpointReader> reader = CheckpointReader::Open(*dir);
  ASSERT_TRUE(reader.ok());
  const absl::Status wrong_shape =
      reader->LoadInto(core::ShardedParameter{"model.norm.weight", at::ones({5}), -1, {5}, 0, true, true});
  EXPECT_FALSE(wrong_shape.ok());
  EXPECT_NE(std::string(wrong_shape.message()).find("model.norm.weight"), std::string::npos) << wrong_shape;
  EXPECT_NE(std::string(wrong_shape.message()).find("HINT"), std::string::npos) << wrong_shape;
  const absl::Status missing =
      reader->LoadInto(core::ShardedParameter{"lm_head.weight", at::ones({4}), -1, {4}, 0, true, false});
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(std::string(missing.message()).find("lm_head.weight"), std::string::npos);
  // A manifest that is not ours is rejected with the file named.
  ASSERT_TRUE(WriteFileAtomically(JoinPath(*dir, "manifest.json"), "{\"format\": \"other\", \"complete\": true}").ok());
  absl::StatusOr<CheckpointReader> bad = CheckpointReader::Open(*dir);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("manifest.json"), std::string::npos);
}

}  // namespace
}  // namespace alro::train
