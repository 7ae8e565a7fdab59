// tests/data/mpi_loader_test.cc: the loader on real MPI ranks (run by ctest
// with 1, 2 and 3 ranks): every rank gets the same number of full batches,
// the slices of one step are disjoint, and together they are exactly the
// single-process stream.
#include <gtest/gtest.h>
#include <mpi.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/file_util.h"
#include "data/loader.h"
#include "tests/data/test_util.h"

namespace alro::data {
namespace {

// Gathers one string per rank on every rank.
std::vector<std::string> AllGatherStrings(const std::string& mine) {
  int size = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int len = static_cast<int>(mine.size());
  std::vector<int> lens(size);
  MPI_Allgather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, MPI_COMM_WORLD);
  std::vector<int> displs(size, 0);
  for (int r = 1; r < size; ++r) displs[r] = displs[r - 1] + lens[r - 1];
  std::string all(static_cast<size_t>(displs[size - 1] + lens[size - 1]), '\0');
  MPI_Allgatherv(mine.data(), len, MPI_CHAR, all.data(), lens.data(), displs.data(), MPI_CHAR, MPI_COMM_WORLD);
  std::vector<std::string> out;
  for (int r = 0; r < size; ++r) out.push_back(all.substr(displs[r], lens[r]));
  return out;
}

TEST(MpiLoader, RanksShareEachGlobalBatchExactly) {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  // Each rank writes its own copy (ranks may not share a temp dir name).
  const std::string dir = testing::TempDir(absl::StrCat("mpi_rank", rank));
  constexpr int64_t kLists = 19, kMicro = 2, kSteps = 7;
  testing::WriteSyntheticDataset(dir, kLists, 4, 4, 3);
  auto split = SplitReader::Open(dir, "train", OnCorrupt::kFail);
  ASSERT_TRUE(split.ok());
  auto renderer = *PromptRenderer::Create(config::PromptConfig(), testing::SmallTokenizer());
  LoaderOptions o;
  o.micro_batch_size = kMicro;
  o.dp_rank = rank;
  o.dp_size = size;
  o.shuffle_buffer = 5;
  auto loader = *Loader::Create(*split, renderer, o);
  LoaderOptions single = o;
  single.dp_rank = 0;
  single.dp_size = 1;
  single.micro_batch_size = kMicro * size;
  auto reference = *Loader::Create(*split, renderer, single);
  for (int64_t step = 0; step < kSteps; ++step) {
    auto batch = loader->Next();
    ASSERT_TRUE(batch.ok()) << batch.status();
    ASSERT_EQ(static_cast<int64_t>(batch->lists.size()), kMicro);
    std::vector<std::string> ids;
    for (const RenderedExample& e : batch->lists) ids.push_back(e.example_id);
    const std::vector<std::string> all = AllGatherStrings(absl::StrJoin(ids, " "));
    auto expected = reference->Next();
    ASSERT_TRUE(expected.ok());
    std::vector<std::string> expected_ids;
    for (const RenderedExample& e : expected->lists) expected_ids.push_back(e.example_id);
    EXPECT_EQ(absl::StrJoin(all, " "), absl::StrJoin(expected_ids, " ")) << "step " << step;
  }
  EXPECT_EQ(loader->State(), reference->State());
}

}  // namespace
}  // namespace alro::data
