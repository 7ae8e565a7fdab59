// distributed/agreement.cc: failure agreement and value comparison across ranks.
#include "distributed/agreement.h"

#include "absl/strings/str_cat.h"

namespace alro::dist {

int FirstFailedRank(Communicator& comm, bool failed) {
  // max over (size - rank) of the failed ranks picks the lowest failed rank.
  at::Tensor flag = at::full({1}, failed ? int64_t{comm.size() - comm.rank()} : int64_t{0}, at::kLong);
  comm.AllReduce(flag, ReduceOp::kMax);
  const int64_t best = flag.item<int64_t>();
  return best == 0 ? -1 : static_cast<int>(comm.size() - best);
}

absl::Status AgreeOnStatus(Communicator& comm, const absl::Status& local, absl::string_view what) {
  const int failed = FirstFailedRank(comm, !local.ok());
  if (!local.ok()) return local;
  if (failed < 0) return absl::OkStatus();
  return absl::AbortedError(absl::StrCat("rank ", failed, " failed while ", what, "; see its error above"));
}

std::vector<std::vector<uint64_t>> AllGatherValues(Communicator& comm, const std::vector<uint64_t>& values) {
  const int64_t n = static_cast<int64_t>(values.size());
  at::Tensor mine = at::empty({n}, at::kLong);
  for (size_t i = 0; i < values.size(); ++i) mine.data_ptr<int64_t>()[i] = static_cast<int64_t>(values[i]);
  const at::Tensor all = comm.AllGather(mine, 0).view({comm.size(), n}).contiguous();
  std::vector<std::vector<uint64_t>> table(static_cast<size_t>(comm.size()), std::vector<uint64_t>(values.size()));
  const int64_t* data = all.data_ptr<int64_t>();
  for (size_t r = 0; r < table.size(); ++r) {
    for (size_t i = 0; i < values.size(); ++i) table[r][i] = static_cast<uint64_t>(data[r * values.size() + i]);
  }
  return table;
}

std::vector<std::pair<int, int>> Disagreements(const std::vector<std::vector<uint64_t>>& table, size_t field,
                                               int group_field) {
  std::vector<std::pair<int, int>> out;
  for (size_t r = 0; r < table.size(); ++r) {
    size_t reference = 0;
    if (group_field >= 0) {
      const size_t g = static_cast<size_t>(group_field);
      while (table[reference][g] != table[r][g]) ++reference;
    }
    if (reference != r && table[r][field] != table[reference][field]) {
      out.emplace_back(static_cast<int>(r), static_cast<int>(reference));
    }
  }
  return out;
}

}  // namespace alro::dist
