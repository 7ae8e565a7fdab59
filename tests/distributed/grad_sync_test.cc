// tests/distributed/grad_sync_test.cc: bucket planning, bucketed gradient
// averaging (with and without overlap hooks) against a plain average computed
// on every rank, gradients as bucket views filled in place (and replaced
// gradients copied back in), the parameter broadcast, and the start-up
// consistency check.
#include <gtest/gtest.h>

#include <torch/csrc/autograd/autograd.h>

#include <numeric>
#include <set>
#include <vector>

#include "distributed/grad_sync.h"
#include "tests/distributed/test_util.h"

namespace alro::dist {
namespace {

using testing::MaxAbsDiff;
using testing::WorldComm;

constexpr size_t kSmallBucketBytes = 4096;  // forces many buckets in tests

// Many small parameters and a few large ones (the large ones exceed the
// bucket and get buckets of their own), plus one bfloat16 parameter.
std::vector<at::Tensor> MakeParams() {
  std::vector<at::Tensor> params;
  for (int i = 0; i < 200; ++i) params.push_back(at::zeros({1 + (i * 7) % 97}, at::kFloat));
  params.push_back(at::zeros({64, 65}, at::kFloat));
  params.push_back(at::zeros({7}, at::kBFloat16));
  params.push_back(at::zeros({3000}, at::kFloat));
  for (int i = 0; i < 5; ++i) params.push_back(at::zeros({2, 3}, at::kFloat));
  for (auto& p : params) p.set_requires_grad(true);
  return params;
}

// The gradient rank `rank` contributes for parameter `i`: exact in bfloat16
// after averaging over 1, 2 or 4 ranks.
at::Tensor RankGrad(const at::Tensor& p, size_t i, int rank) {
  at::Tensor g = at::remainder(at::arange(p.numel(), at::kDouble) + static_cast<double>(i), 5.0) * (rank + 1) - 2.0;
  return g.view(p.sizes()).to(p.scalar_type());
}

at::Tensor PlainAverage(const at::Tensor& p, size_t i, int size) {
  at::Tensor sum = at::zeros(p.sizes(), at::kDouble);
  for (int r = 0; r < size; ++r) sum += RankGrad(p, i, r).to(at::kDouble);
  return sum / size;
}

TEST(PlanGradBuckets, ReverseOrderSizeAndDtypeLimits) {
  const std::vector<at::Tensor> params = MakeParams();
  const auto buckets = PlanGradBuckets(params, kSmallBucketBytes);
  std::vector<size_t> order;
  for (const GradBucket& b : buckets) {
    size_t bytes = 0;
    int64_t offset = 0;
    for (size_t k = 0; k < b.param_indices.size(); ++k) {
      const at::Tensor& p = params[b.param_indices[k]];
      EXPECT_EQ(p.scalar_type(), b.dtype);
      EXPECT_EQ(b.offsets[k], offset);
      offset += p.numel();
      bytes += p.numel() * p.element_size();
      order.push_back(b.param_indices[k]);
    }
    EXPECT_EQ(offset, b.numel);
    // Only a bucket holding a single oversized parameter may exceed the limit.
    if (b.param_indices.size() > 1) EXPECT_LE(bytes, kSmallBucketBytes);
  }
  std::vector<size_t> reversed(params.size());
  std::iota(reversed.rbegin(), reversed.rend(), 0);
  EXPECT_EQ(order, reversed) << "buckets must follow reverse parameter order";
  EXPECT_GE(buckets.size(), 10u);
  EXPECT_EQ(PlanGradBuckets(params, kDefaultBucketBytes).size(), 3u) << "float / bfloat16 / float";
}

TEST(MpiGradSync, BucketedAverageEqualsPlainAverage) {
  auto comm = WorldComm();
  std::vector<at::Tensor> params = MakeParams();
  for (size_t bucket_bytes : {kSmallBucketBytes, kDefaultBucketBytes}) {
    GradientSynchronizer sync(params, *comm, bucket_bytes);
    for (size_t i = 0; i < params.size(); ++i) {
      // A transposed gradient checks that packing respects strides.
      at::Tensor g = RankGrad(params[i], i, comm->rank());
      params[i].mutable_grad() = g.dim() == 2 ? g.t().contiguous().t() : g;
    }
    sync.Synchronize();
    for (size_t i = 0; i < params.size(); ++i) {
      ASSERT_TRUE(params[i].grad().defined());
      EXPECT_EQ(MaxAbsDiff(params[i].grad(), PlainAverage(params[i], i, comm->size())), 0.0) << "param " << i;
    }
  }
}

TEST(MpiGradSync, UndefinedGradientsCountAsZero) {
  auto comm = WorldComm();
  std::vector<at::Tensor> params = {at::zeros({4}).set_requires_grad(true), at::zeros({3}).set_requires_grad(true)};
  GradientSynchronizer sync(params, *comm, kSmallBucketBytes);
  // Only rank 0 produced a gradient for parameter 1.
  params[0].mutable_grad() = at::ones({4}) * (comm->rank() + 1);
  if (comm->rank() == 0) params[1].mutable_grad() = at::full({3}, 6.0);
  sync.Synchronize();
  const int p = comm->size();
  EXPECT_EQ(MaxAbsDiff(params[0].grad(), at::full({4}, (p + 1) / 2.0)), 0.0);
  ASSERT_TRUE(params[1].grad().defined());
  EXPECT_EQ(MaxAbsDiff(params[1].grad(), at::full({3}, 6.0 / p)), 0.0);
}

// Overlap: hooks start bucket all-reduces during backward; two steps with
// gradient accumulation (the first micro-step does not reduce).
TEST(MpiGradSync, OverlapHooksDuringBackward) {
  auto comm = WorldComm();
  std::vector<at::Tensor> params = MakeParams();
  GradientSynchronizer sync(params, *comm, kSmallBucketBytes);
  sync.EnableOverlap();
  for (int step = 0; step < 2; ++step) {
    for (auto& p : params) p.mutable_grad() = at::Tensor();
    // loss = sum_i <p_i, RankGrad_i> so d loss / d p_i = RankGrad_i; two micro-steps.
    for (int micro = 0; micro < 2; ++micro) {
      sync.set_sync_enabled(micro == 1);
      at::Tensor loss = at::zeros({}, at::kDouble);
      for (size_t i = 0; i < params.size(); ++i) {
        loss = loss + (params[i].to(at::kDouble) * RankGrad(params[i], i, comm->rank()).to(at::kDouble)).sum();
      }
      torch::autograd::backward({loss});
      if (micro == 0) EXPECT_EQ(sync.buckets_started(), 0u);
    }
    EXPECT_EQ(sync.buckets_started(), sync.buckets().size()) << "every bucket starts during backward";
    sync.Synchronize();
    EXPECT_EQ(sync.buckets_started(), 0u);
    for (size_t i = 0; i < params.size(); ++i) {
      EXPECT_EQ(MaxAbsDiff(params[i].grad(), PlainAverage(params[i], i, comm->size()) * 2), 0.0)
          << "step " << step << " param " << i;
    }
  }
}

// The gradients are views of the buckets from construction on: backward
// accumulates into them in place, the average is written in place (no
// gradient tensor is replaced, in either mode), and the values equal the plain
// average. Consecutive parameters of a bucket sit back to back in reverse order.
TEST(MpiGradSync, GradientsAreBucketViewsThatBackwardFillsInPlace) {
  auto comm = WorldComm();
  for (bool overlap : {false, true}) {
    SCOPED_TRACE(overlap ? "overlap" : "after backward");
    std::vector<at::Tensor> params = MakeParams();
    GradientSynchronizer sync(params, *comm, kSmallBucketBytes);
    if (overlap) sync.EnableOverlap();
    std::vector<const void*> addresses;
    for (const at::Tensor& p : params) {
      ASSERT_TRUE(p.grad().defined());
      EXPECT_EQ(p.grad().abs().sum().item<double>(), 0.0);
      addresses.push_back(p.grad().data_ptr());
    }
    for (const GradBucket& b : sync.buckets()) {
      for (size_t k = 1; k < b.param_indices.size(); ++k) {
        const at::Tensor& prev = params[b.param_indices[k - 1]];
        const at::Tensor& cur = params[b.param_indices[k]];
        EXPECT_EQ(static_cast<const char*>(cur.grad().data_ptr()),
                  static_cast<const char*>(prev.grad().data_ptr()) + prev.numel() * prev.element_size());
      }
    }
    for (int step = 0; step < 2; ++step) {
      for (at::Tensor& p : params) p.mutable_grad().zero_();  // what AdamW::ZeroGrad does
      at::Tensor loss = at::zeros({}, at::kDouble);
      for (size_t i = 0; i < params.size(); ++i) {
        loss = loss + (params[i].to(at::kDouble) * RankGrad(params[i], i, comm->rank()).to(at::kDouble)).sum();
      }
      torch::autograd::backward({loss});
      sync.Synchronize();
      for (size_t i = 0; i < params.size(); ++i) {
        EXPECT_EQ(params[i].grad().data_ptr(), addresses[i]) << "step " << step << " param " << i;
        EXPECT_EQ(MaxAbsDiff(params[i].grad(), PlainAverage(params[i], i, comm->size())), 0.0)
            << "step " << step << " param " << i;
      }
    }
  }
}

TEST(MpiGradSync, BroadcastParametersFromRoot) {
  auto comm = WorldComm();
  std::vector<at::Tensor> params = MakeParams();
  for (size_t i = 0; i < params.size(); ++i) {
    at::NoGradGuard no_grad;
    params[i].copy_(RankGrad(params[i], i, comm->rank()));
  }
  BroadcastParameters(params, *comm, /*root=*/0, kSmallBucketBytes);
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_EQ(MaxAbsDiff(params[i], RankGrad(params[i], i, 0)), 0.0) << "param " << i;
    EXPECT_TRUE(params[i].requires_grad());
  }
}

// The shape fingerprint is compared across ranks and builds: values pinned
// from an independent Python implementation (dtype codes Float 6, Double 7,
// BFloat16 15).
TEST(ParameterShapeHash, PinnedValues) {
  EXPECT_EQ(HashParameterShapes({}), 0x47fe0d7eaf8e51e3ull);
  const std::vector<at::Tensor> params = {at::zeros({3, 4}), at::zeros({5}, at::kDouble),
                                          at::zeros({2, 1, 7}, at::kBFloat16)};
  EXPECT_EQ(HashParameterShapes(params), 0x203c107ebbbd3928ull);
}

}  // namespace
}  // namespace alro::dist
