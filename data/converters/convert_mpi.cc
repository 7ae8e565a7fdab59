// data/converters/convert_mpi.cc: MpiConvertGroup.
#include "data/converters/convert_mpi.h"

#include <climits>
#include <cstdint>

#include "absl/strings/str_cat.h"

namespace alro::data {

MpiConvertGroup::MpiConvertGroup(MPI_Comm comm) : comm_(comm) {
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
}

absl::StatusOr<std::vector<std::string>> MpiConvertGroup::AllGather(const std::string& local) {
  if (local.size() > static_cast<size_t>(INT_MAX)) {
    return absl::ResourceExhaustedError(absl::StrCat("a conversion result of ", local.size(),
                                                     " bytes is too large for one MPI message"));
  }
  const int mine = static_cast<int>(local.size());
  std::vector<int> counts(static_cast<size_t>(size_));
  if (MPI_Allgather(&mine, 1, MPI_INT, counts.data(), 1, MPI_INT, comm_) != MPI_SUCCESS) {
    return absl::InternalError("MPI_Allgather of result sizes failed");
  }
  std::vector<int> displs(counts.size());
  int64_t total = 0;
  for (size_t r = 0; r < counts.size(); ++r) {
    displs[r] = static_cast<int>(total);
    total += counts[r];
  }
  if (total > INT_MAX) return absl::ResourceExhaustedError("conversion results too large for one MPI gather");
  std::string all(static_cast<size_t>(total), '\0');
  if (MPI_Allgatherv(local.data(), mine, MPI_CHAR, all.data(), counts.data(), displs.data(), MPI_CHAR, comm_) !=
      MPI_SUCCESS) {
    return absl::InternalError("MPI_Allgatherv of conversion results failed");
  }
  std::vector<std::string> out;
  for (size_t r = 0; r < counts.size(); ++r) out.push_back(all.substr(static_cast<size_t>(displs[r]),
                                                                      static_cast<size_t>(counts[r])));
  return out;
}

}  // namespace alro::data
