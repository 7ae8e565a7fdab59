// tests/distributed/collectives_test.cc: every Communicator collective
// against values computed independently on each rank (every rank knows every
// rank's input, since inputs are a function of the rank), for float32 and
// bfloat16, non-contiguous inputs and sizes that do not divide by the number
// of ranks. Runs under mpirun with 1, 2 and 4 ranks.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "distributed/communicator.h"
#include "distributed/shard.h"
#include "tests/distributed/test_util.h"

namespace alro::dist {
namespace {

using testing::MaxAbsDiff;
using testing::WorldComm;

// Rank r's input: small integers, so that sums and maxima are exact even in
// bfloat16 (8 significant bits) for up to 4 ranks.
at::Tensor RankInput(at::IntArrayRef sizes, int rank, at::ScalarType dtype) {
  const int64_t n = c10::multiply_integers(sizes);
  at::Tensor v = at::arange(n, at::kDouble);
  // Every rank's pattern peaks at a different element, so max differs from sum/size.
  v = at::remainder(v * (rank + 3) + rank, 17.0) - 5.0;
  return v.view(sizes).to(dtype);
}

// The expected reduction of RankInput over `size` ranks, in double.
at::Tensor ExpectedReduction(at::IntArrayRef sizes, int size, ReduceOp op) {
  at::Tensor acc = RankInput(sizes, 0, at::kDouble);
  for (int r = 1; r < size; ++r) {
    const at::Tensor x = RankInput(sizes, r, at::kDouble);
    acc = (op == ReduceOp::kMax) ? at::maximum(acc, x) : acc + x;
  }
  if (op == ReduceOp::kAverage) acc = acc / size;
  return acc;
}

class MpiCollectives : public ::testing::TestWithParam<at::ScalarType> {};

TEST_P(MpiCollectives, AllReduceContiguous) {
  auto comm = WorldComm();
  for (int64_t n : {1, 7, 13, 1000}) {  // 7 and 13 divide by neither 2 nor 4
    for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kAverage, ReduceOp::kMax}) {
      at::Tensor t = RankInput({n}, comm->rank(), GetParam());
      const void* before = t.data_ptr();
      comm->AllReduce(t, op);
      EXPECT_EQ(t.data_ptr(), before) << "not in place";
      EXPECT_EQ(t.scalar_type(), GetParam());
      EXPECT_EQ(MaxAbsDiff(t, ExpectedReduction({n}, comm->size(), op)), 0.0)
          << "n=" << n << " op=" << ReduceOpName(op);
    }
  }
}

TEST_P(MpiCollectives, AllReduceNonContiguousLeavesGapsAlone) {
  auto comm = WorldComm();
  // Every other element of a [5, 6] block, transposed: strided in both dims.
  at::Tensor base = at::full({10, 6}, 99.0, GetParam());
  at::Tensor view = base.slice(0, 0, 10, 2).t();  // [6, 5], non-contiguous
  ASSERT_FALSE(view.is_contiguous());
  view.copy_(RankInput({6, 5}, comm->rank(), GetParam()));
  comm->AllReduce(view, ReduceOp::kSum);
  EXPECT_EQ(MaxAbsDiff(view, ExpectedReduction({6, 5}, comm->size(), ReduceOp::kSum)), 0.0);
  EXPECT_EQ(MaxAbsDiff(base.slice(0, 1, 10, 2), at::full({5, 6}, 99.0)), 0.0) << "gaps were written";
}

TEST_P(MpiCollectives, AllReduceInexactValuesMatchDoubleSum) {
  auto comm = WorldComm();
  const int64_t n = 257;
  auto input = [](int r) { return at::sin(at::arange(257, at::kDouble) * 0.37 + r) * 3.0; };
  at::Tensor t = input(comm->rank()).to(GetParam());
  comm->AllReduce(t, ReduceOp::kSum);
  at::Tensor expected = at::zeros({n}, at::kDouble);
  for (int r = 0; r < comm->size(); ++r) expected += input(r).to(GetParam()).to(at::kDouble);
  // bfloat16 sums round after every addition: allow a few ulps of 12.
  const double tolerance = GetParam() == at::kBFloat16 ? 0.25 : 1e-5;
  EXPECT_LT(MaxAbsDiff(t, expected), tolerance);
}

TEST_P(MpiCollectives, BroadcastFromEveryRoot) {
  auto comm = WorldComm();
  for (int root = 0; root < comm->size(); ++root) {
    at::Tensor base = at::full({3, 14}, -1.0, GetParam());
    at::Tensor view = base.narrow(1, 2, 11);  // [3, 11], non-contiguous rows
    view.copy_(RankInput({3, 11}, comm->rank(), GetParam()));
    comm->Broadcast(view, root);
    EXPECT_EQ(MaxAbsDiff(view, RankInput({3, 11}, root, at::kDouble)), 0.0) << "root " << root;
    EXPECT_EQ(MaxAbsDiff(base.narrow(1, 0, 2), at::full({3, 2}, -1.0)), 0.0);
  }
}

TEST_P(MpiCollectives, AllGatherAlongEachDim) {
  auto comm = WorldComm();
  const std::vector<int64_t> shape = {3, 5, 7};
  for (int64_t dim : {0, 1, 2, -1}) {
    // A transposed input exercises the non-contiguous path.
    at::Tensor input = RankInput({7, 5, 3}, comm->rank(), GetParam()).permute({2, 1, 0});
    at::Tensor out = comm->AllGather(input, dim);
    std::vector<at::Tensor> parts;
    for (int r = 0; r < comm->size(); ++r) {
      parts.push_back(RankInput({7, 5, 3}, r, at::kDouble).permute({2, 1, 0}));
    }
    const at::Tensor expected = at::cat(parts, dim);
    ASSERT_EQ(out.sizes(), expected.sizes()) << "dim " << dim;
    EXPECT_EQ(out.scalar_type(), GetParam());
    EXPECT_EQ(MaxAbsDiff(out, expected), 0.0) << "dim " << dim;
  }
}

TEST_P(MpiCollectives, ReduceScatterUnevenShards) {
  auto comm = WorldComm();
  for (int64_t rows : {1, 5, 8, 13}) {
    for (int64_t dim : {0, 1}) {
      std::vector<int64_t> shape = {rows, 3};
      if (dim == 1) std::swap(shape[0], shape[1]);
      for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kAverage, ReduceOp::kMax}) {
        at::Tensor input = RankInput(shape, comm->rank(), GetParam());
        if (dim == 1) input = input.t().contiguous().t();  // same values, column-major
        const at::Tensor out = comm->ReduceScatter(input, op, dim);
        const Shard mine = ShardOf(rows, comm->size(), comm->rank());
        const at::Tensor expected = ExpectedReduction(shape, comm->size(), op).narrow(dim, mine.begin, mine.size);
        ASSERT_EQ(out.sizes(), expected.sizes()) << "rows " << rows << " dim " << dim;
        EXPECT_EQ(MaxAbsDiff(out, expected), 0.0) << "rows " << rows << " dim " << dim << " " << ReduceOpName(op);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Mpi, MpiCollectives, ::testing::Values(at::kFloat, at::kBFloat16),
                         [](const ::testing::TestParamInfo<at::ScalarType>& info) {
                           return std::string(c10::toString(info.param));
                         });

TEST(MpiCollectivesMisc, IntegerMaxAndSum) {
  auto comm = WorldComm();
  at::Tensor t = at::tensor(std::vector<int64_t>{int64_t{1} << 40, 3, -7}) * (comm->rank() + 1);
  at::Tensor sum = t.clone();
  comm->AllReduce(sum, ReduceOp::kSum);
  comm->AllReduce(t, ReduceOp::kMax);
  const int64_t p = comm->size();
  EXPECT_EQ(sum[0].item<int64_t>(), (int64_t{1} << 40) * p * (p + 1) / 2);
  EXPECT_EQ(t[1].item<int64_t>(), 3 * p);
  EXPECT_EQ(t[2].item<int64_t>(), -7);
}

TEST(MpiCollectivesMisc, Float64AndHalf) {
  auto comm = WorldComm();
  for (at::ScalarType dtype : {at::kDouble, at::kHalf}) {
    at::Tensor t = RankInput({9}, comm->rank(), dtype);
    comm->AllReduce(t, ReduceOp::kSum);
    EXPECT_EQ(MaxAbsDiff(t, ExpectedReduction({9}, comm->size(), ReduceOp::kSum)), 0.0) << c10::toString(dtype);
  }
}

TEST(MpiCollectivesMisc, AsyncAllReduceAndBarrier) {
  auto comm = WorldComm();
  at::Tensor a = RankInput({31}, comm->rank(), at::kFloat);
  at::Tensor b = RankInput({5, 2}, comm->rank(), at::kBFloat16);
  auto wa = comm->AllReduceAsync(a, ReduceOp::kAverage);
  auto wb = comm->AllReduceAsync(b, ReduceOp::kMax);
  wb->Wait();
  wa->Wait();
  EXPECT_LT(MaxAbsDiff(a, ExpectedReduction({31}, comm->size(), ReduceOp::kAverage)), 1e-6);
  EXPECT_EQ(MaxAbsDiff(b, ExpectedReduction({5, 2}, comm->size(), ReduceOp::kMax)), 0.0);
  comm->Barrier();
}

// Rank r contributes r strings of different lengths (rank 0 none, one of
// them empty, one with a NUL byte); every rank gets all of them in rank order.
TEST(MpiCollectivesMisc, AllGatherStringsOfUnequalCountsAndLengths) {
  auto comm = WorldComm();
  auto strings_of = [](int rank) {
    std::vector<std::string> out;
    for (int i = 0; i < rank; ++i) out.push_back(std::string(static_cast<size_t>(i * 7), 'a' + rank));
    if (rank > 0) out.push_back(std::string("nul\0inside", 11));
    return out;
  };
  std::vector<std::string> expected;
  for (int r = 0; r < comm->size(); ++r)
    for (const std::string& s : strings_of(r)) expected.push_back(s);
  EXPECT_EQ(AllGatherStrings(*comm, strings_of(comm->rank())), expected);
}

// A single-rank group needs no MPI and leaves values unchanged.
TEST(LocalCommunicator, IdentitySemantics) {
  auto comm = Communicator::CreateLocal();
  EXPECT_EQ(comm->rank(), 0);
  EXPECT_EQ(comm->size(), 1);
  EXPECT_EQ(comm->mpi_comm(), MPI_COMM_NULL);
  at::Tensor t = at::arange(6, at::kFloat).view({2, 3});
  at::Tensor orig = t.clone();
  comm->AllReduce(t, ReduceOp::kAverage);
  comm->Broadcast(t, 0);
  EXPECT_TRUE(t.equal(orig));
  at::Tensor g = comm->AllGather(t.t(), 1);
  EXPECT_TRUE(g.equal(orig.t()));
  EXPECT_TRUE(g.is_contiguous());
  EXPECT_NE(g.data_ptr(), t.data_ptr()) << "AllGather must return a new tensor";
  EXPECT_TRUE(comm->ReduceScatter(t, ReduceOp::kSum, 1).equal(orig));
  comm->AllReduceAsync(t, ReduceOp::kSum)->Wait();
  comm->Barrier();
}

TEST(ShardOf, CoversEveryRowOnceWithSizesWithinOne) {
  for (int64_t n : {0, 1, 5, 13, 64}) {
    for (int64_t parts : {1, 2, 3, 4, 7}) {
      int64_t next = 0;
      for (int64_t i = 0; i < parts; ++i) {
        const Shard s = ShardOf(n, parts, i);
        EXPECT_EQ(s.begin, next);
        EXPECT_TRUE(s.size == n / parts || s.size == n / parts + 1);
        next += s.size;
      }
      EXPECT_EQ(next, n);
    }
  }
  EXPECT_EQ(ShardOf(10, 4, 1).begin, 3);  // sizes 3 3 2 2
  EXPECT_EQ(ShardOf(10, 4, 3).size, 2);
}

TEST(BackendChoice, Parses) {
  EXPECT_EQ(*ParseBackendChoice("auto"), BackendChoice::kAuto);
  EXPECT_EQ(*ParseBackendChoice("mpi"), BackendChoice::kMpi);
  EXPECT_FALSE(ParseBackendChoice("gloo").ok());
  EXPECT_NE(ParseBackendChoice("gloo").status().message().find("HINT"), std::string::npos);
  EXPECT_EQ(ParseBackendChoice("nccl").ok(), NcclAvailable());
}

}  // namespace
}  // namespace alro::dist
