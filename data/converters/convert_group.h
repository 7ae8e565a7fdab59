// data/converters/convert_group.h: the processes that share one conversion
// (the ranks of `mpirun -np N alro convert ...`). The converter only needs
// to know its rank and to exchange small results at a few points, so it
// talks to this interface; convert_mpi.h implements it with MPI and
// LocalConvertGroup is the single process.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace alro::data {

/// The ranks of one conversion.
class ConvertGroup {
 public:
  virtual ~ConvertGroup() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// Every rank's `local`, in rank order, on every rank. A collective: every
  /// rank must call it, in the same sequence.
  virtual absl::StatusOr<std::vector<std::string>> AllGather(const std::string& local) = 0;
};

/// One process converting alone.
class LocalConvertGroup : public ConvertGroup {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  absl::StatusOr<std::vector<std::string>> AllGather(const std::string& local) override { return {{local}}; }
};

}  // namespace alro::data
