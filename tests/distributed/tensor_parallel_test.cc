// tests/distributed/tensor_parallel_test.cc: a column-parallel then
// row-parallel MLP, and the gather/scatter operators, against the same
// computation done unsharded in one process (every rank computes the
// reference itself). Forward outputs and the gradients of inputs and weight
// shards must match.
#include <gtest/gtest.h>

#include <torch/csrc/autograd/autograd.h>

#include "distributed/process_grid.h"
#include "distributed/tensor_parallel.h"
#include "tests/distributed/test_util.h"

namespace alro::dist {
namespace {

using testing::MaxAbsDiff;

constexpr int64_t kBatch = 3;
constexpr int64_t kHidden = 5;
constexpr int64_t kFfnPerRank = 3;  // FFN width = kFfnPerRank * tp
constexpr double kTolerance = 1e-12;

// Deterministic "random" tensors, identical on every rank.
at::Tensor Fixed(at::IntArrayRef sizes, double phase) {
  const int64_t n = c10::multiply_integers(sizes);
  return at::cos(at::arange(n, at::kDouble) * 0.731 + phase).view(sizes);
}

// Runs the checks for every tp that divides the world (dp groups, when tp <
// world, run the same computation independently).
template <typename Body>
void ForEachTensorParallelSize(Body body) {
  int world = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  for (int tp = 1; tp <= world; tp *= 2) {
    auto grid = ProcessGrid::Create(MPI_COMM_WORLD, tp);
    ASSERT_TRUE(grid.ok()) << grid.status();
    SCOPED_TRACE(::testing::Message() << "tp " << tp);
    body(*grid);
  }
}

TEST(MpiTensorParallel, ColumnThenRowParallelMlpMatchesUnsharded) {
  ForEachTensorParallelSize([](ProcessGrid& grid) {
    const int tp = grid.tp_size(), r = grid.tp_rank();
    const int64_t ffn = kFfnPerRank * tp;
    const at::Tensor x_full = Fixed({kBatch, kHidden}, 0.1);
    const at::Tensor w1_full = Fixed({ffn, kHidden}, 0.2);  // column-parallel: rows split
    const at::Tensor w2_full = Fixed({kHidden, ffn}, 0.3);  // row-parallel: columns split
    const at::Tensor upstream = Fixed({kBatch, kHidden}, 0.4);

    // Reference, one process.
    at::Tensor x_ref = x_full.clone().set_requires_grad(true);
    at::Tensor w1_ref = w1_full.clone().set_requires_grad(true);
    at::Tensor w2_ref = w2_full.clone().set_requires_grad(true);
    at::Tensor y_ref = at::matmul(at::tanh(at::matmul(x_ref, w1_ref.t())), w2_ref.t());
    torch::autograd::backward({(y_ref * upstream).sum()});

    // Sharded.
    at::Tensor x = x_full.clone().set_requires_grad(true);
    at::Tensor w1 = w1_full.narrow(0, r * kFfnPerRank, kFfnPerRank).clone().set_requires_grad(true);
    at::Tensor w2 = w2_full.narrow(1, r * kFfnPerRank, kFfnPerRank).clone().set_requires_grad(true);
    at::Tensor h = at::tanh(at::matmul(CopyToTensorParallelRegion(x, grid.tp()), w1.t()));
    at::Tensor y = ReduceFromTensorParallelRegion(at::matmul(h, w2.t()), grid.tp());
    torch::autograd::backward({(y * upstream).sum()});

    EXPECT_LT(MaxAbsDiff(y, y_ref), kTolerance);
    EXPECT_LT(MaxAbsDiff(x.grad(), x_ref.grad()), kTolerance) << "copy's backward must all-reduce";
    EXPECT_LT(MaxAbsDiff(w1.grad(), w1_ref.grad().narrow(0, r * kFfnPerRank, kFfnPerRank)), kTolerance);
    EXPECT_LT(MaxAbsDiff(w2.grad(), w2_ref.grad().narrow(1, r * kFfnPerRank, kFfnPerRank)), kTolerance);
  });
}

TEST(MpiTensorParallel, GatherAndScatterMatchUnsharded) {
  ForEachTensorParallelSize([](ProcessGrid& grid) {
    const int tp = grid.tp_size(), r = grid.tp_rank();
    const int64_t ffn = kFfnPerRank * tp;
    const at::Tensor x_full = Fixed({2, kBatch, kHidden}, 0.5);
    const at::Tensor w_full = Fixed({ffn, kHidden}, 0.6);
    const at::Tensor upstream = Fixed({2, kBatch, ffn}, 0.7);

    at::Tensor x_ref = x_full.clone().set_requires_grad(true);
    at::Tensor w_ref = w_full.clone().set_requires_grad(true);
    at::Tensor z_ref = at::matmul(x_ref, w_ref.t());
    torch::autograd::backward({(at::sin(z_ref) * upstream).sum()});

    // Column-parallel layer whose output is gathered (as for logits).
    at::Tensor x = x_full.clone().set_requires_grad(true);
    at::Tensor w = w_full.narrow(0, r * kFfnPerRank, kFfnPerRank).clone().set_requires_grad(true);
    at::Tensor z = GatherFromTensorParallelRegion(at::matmul(CopyToTensorParallelRegion(x, grid.tp()), w.t()),
                                                  grid.tp());
    ASSERT_EQ(z.sizes(), z_ref.sizes());
    torch::autograd::backward({(at::sin(z) * upstream).sum()});
    EXPECT_LT(MaxAbsDiff(z, z_ref), kTolerance);
    EXPECT_LT(MaxAbsDiff(x.grad(), x_ref.grad()), kTolerance);
    EXPECT_LT(MaxAbsDiff(w.grad(), w_ref.grad().narrow(0, r * kFfnPerRank, kFfnPerRank)), kTolerance);

    // Scatter keeps this rank's slice; its backward gathers the slices'
    // gradients, so with a loss on every slice x receives the full gradient.
    at::Tensor s_in = Fixed({kBatch, ffn}, 0.8).set_requires_grad(true);
    at::Tensor s = ScatterToTensorParallelRegion(s_in, grid.tp());
    EXPECT_LT(MaxAbsDiff(s, Fixed({kBatch, ffn}, 0.8).narrow(1, r * kFfnPerRank, kFfnPerRank)), kTolerance);
    const at::Tensor weights = Fixed({kBatch, ffn}, 0.9);
    torch::autograd::backward({(s * weights.narrow(1, r * kFfnPerRank, kFfnPerRank)).sum()});
    EXPECT_LT(MaxAbsDiff(s_in.grad(), weights), kTolerance);
  });
}

TEST(MpiTensorParallel, Float32OutputsMatch) {
  ForEachTensorParallelSize([](ProcessGrid& grid) {
    at::Tensor x = Fixed({4, 2 * grid.tp_size()}, 1.0).to(at::kFloat);
    at::Tensor partial = x * (grid.tp_rank() + 1);
    at::Tensor reduced = ReduceFromTensorParallelRegion(partial, grid.tp());
    const int p = grid.tp_size();
    EXPECT_LT(MaxAbsDiff(reduced, x.to(at::kDouble) * (p * (p + 1) / 2)), 1e-5);
    EXPECT_LT(MaxAbsDiff(GatherFromTensorParallelRegion(ScatterToTensorParallelRegion(x, grid.tp()), grid.tp()), x),
              0.0 + 1e-7);
  });
}

}  // namespace
}  // namespace alro::dist
