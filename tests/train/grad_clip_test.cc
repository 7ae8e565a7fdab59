// tests/train/grad_clip_test.cc: the global gradient norm and clipping, with
// gradients as views of one flat buffer (as dist::GradientSynchronizer lays
// them out) and as separate tensors, against a brute-force norm in double
// over the unsharded gradient. Under mpirun the parameters are split across
// the world as a tensor-parallel group (train_mpi_tests at 2 and 4 ranks).
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <memory>
#include <vector>

#include "distributed/communicator.h"
#include "train/grad_clip.h"

namespace alro::train {
namespace {

// Global shapes: three matrices split on dim 0 across `tp` ranks, a
// replicated norm weight, and a matrix split on dim 1.
struct Model {
  std::vector<core::ShardedParameter> params;
  std::vector<at::Tensor> full_grads;  // unsharded, double, for the reference
  double ReferenceNorm() const {
    double s = 0.0;
    for (const at::Tensor& g : full_grads) s += g.pow(2).sum().item<double>();
    return std::sqrt(s);
  }
};

// Every rank draws the same full gradients (seeded) and keeps its shard; with
// `flat`, the shards' grads are views of one buffer in reverse order.
Model MakeModel(int tp, int rank, bool flat) {
  at::manual_seed(11);
  struct Spec {
    std::vector<int64_t> shape;
    int split;
  };
  const std::vector<Spec> specs = {{{8, 5}, 0}, {{12, 3}, 0}, {{7}, -1}, {{4, 16}, 1}, {{16, 9}, 0}};
  Model m;
  std::vector<at::Tensor> shard_grads;
  for (size_t i = 0; i < specs.size(); ++i) {
    const Spec& s = specs[i];
    // Values spread over six orders of magnitude stress the accumulation.
    const at::Tensor full = at::randn(s.shape, at::kDouble) * at::pow(10.0, at::randint(-3, 3, s.shape, at::kDouble));
    m.full_grads.push_back(full);
    at::Tensor shard = s.split < 0 ? full : full.chunk(tp, s.split)[rank].contiguous();
    at::Tensor p = at::zeros(shard.sizes(), at::kFloat).set_requires_grad(true);
    shard_grads.push_back(shard.to(at::kFloat));
    core::ShardedParameter sp{"p" + std::to_string(i), p, s.split, s.shape, 0, true, false};
    m.params.push_back(sp);
  }
  // The reference sees the float32 values the ranks hold.
  for (size_t i = 0; i < specs.size(); ++i) m.full_grads[i] = m.full_grads[i].to(at::kFloat).to(at::kDouble);
  int64_t total = 0;
  for (const at::Tensor& g : shard_grads) total += g.numel();
  const at::Tensor buffer = at::empty({total}, at::kFloat);
  int64_t offset = total;
  for (size_t i = 0; i < m.params.size(); ++i) {
    at::Tensor& p = m.params[i].tensor;
    if (flat) {
      offset -= shard_grads[i].numel();
      at::Tensor view = buffer.narrow(0, offset, shard_grads[i].numel()).view(shard_grads[i].sizes());
      view.copy_(shard_grads[i]);
      p.mutable_grad() = view;
    } else {
      p.mutable_grad() = shard_grads[i];
    }
  }
  return m;
}

void CheckNormAndClip(bool flat) {
  std::unique_ptr<dist::Communicator> world = dist::Communicator::Create(MPI_COMM_WORLD, "world");
  const int tp = world->size(), rank = world->rank();
  Model m = MakeModel(tp, rank, flat);
  const double want = m.ReferenceNorm();
  const double got = GlobalGradNorm(m.params, *world);
  EXPECT_NEAR(got, want, 1e-12 * want) << (flat ? "flat" : "separate") << " gradients at tp " << tp;

  // Clipping scales every element by the factor, the replicated one included.
  std::vector<at::Tensor> before;
  for (const auto& p : m.params) before.push_back(p.tensor.grad().clone());
  const double max_norm = want / 4;
  const double factor = ClipGradients(m.params, got, max_norm);
  EXPECT_NEAR(factor, max_norm / (got + 1e-6), 1e-15);
  for (size_t i = 0; i < m.params.size(); ++i) {
    EXPECT_TRUE(at::equal(m.params[i].tensor.grad(), before[i] * factor)) << "param " << i;
  }
  EXPECT_NEAR(GlobalGradNorm(m.params, *world), max_norm * got / (got + 1e-6), 1e-6 * max_norm);
  EXPECT_EQ(ClipGradients(m.params, max_norm / 2, max_norm), 1.0) << "below the limit nothing changes";
}

TEST(MpiGradClip, NormOfFlatBufferViewsEqualsBruteForce) { CheckNormAndClip(/*flat=*/true); }
TEST(MpiGradClip, NormOfSeparateGradientsEqualsBruteForce) { CheckNormAndClip(/*flat=*/false); }

}  // namespace
}  // namespace alro::train
