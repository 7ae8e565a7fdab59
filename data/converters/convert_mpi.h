// data/converters/convert_mpi.h: ConvertGroup over an MPI communicator (the
// ranks of `mpirun -np N alro convert`). In its own library, alro_convert_mpi,
// so that alro_data stays free of MPI.
#pragma once

#include <mpi.h>

#include "data/converters/convert_group.h"

namespace alro::data {

/// The ranks of `comm` (MPI must be initialised and stay so while in use).
class MpiConvertGroup : public ConvertGroup {
 public:
  explicit MpiConvertGroup(MPI_Comm comm);
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  absl::StatusOr<std::vector<std::string>> AllGather(const std::string& local) override;

 private:
  MPI_Comm comm_;
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace alro::data
