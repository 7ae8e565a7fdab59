// distributed/mpi_backend.cc: collectives on CPU tensors over MPI, in place
// on the tensors' memory.
//
// MPI has no bfloat16 or float16 type: such tensors travel as 16-bit words
// (MPI_UINT16_T), and sum/max run through user-defined MPI operations that
// widen each pair of words to float, combine, and round back. Broadcast and
// gather need no arithmetic and move the words unchanged.
//
// MPI counts are ints: all-reduce and broadcast of more than kMaxMpiCount
// elements are issued in chunks.
#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "distributed/collective_backend.h"

namespace alro::dist {
namespace {

// Largest element count passed to one MPI call (below INT_MAX, and a round
// number so that chunks stay aligned for any element size).
constexpr int64_t kMaxMpiCount = int64_t{1} << 30;

void CheckMpi(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  FatalError(absl::StrCat("MPI ", what, " failed: ", std::string(text, len)));
}

// ---- user-defined reductions on 16-bit floating-point words

template <typename T>
void SumWords(void* in, void* inout, int* len, MPI_Datatype*) {
  const T* a = static_cast<const T*>(in);
  T* b = static_cast<T*>(inout);
  for (int i = 0; i < *len; ++i) b[i] = T(static_cast<float>(a[i]) + static_cast<float>(b[i]));
}

// NaN wins, as in torch.maximum.
template <typename T>
void MaxWords(void* in, void* inout, int* len, MPI_Datatype*) {
  const T* a = static_cast<const T*>(in);
  T* b = static_cast<T*>(inout);
  for (int i = 0; i < *len; ++i) {
    const float x = static_cast<float>(a[i]);
    const float y = static_cast<float>(b[i]);
    if (std::isnan(x) || x > y) b[i] = a[i];
  }
}

// The MPI_Op handles for 16-bit floats, created on first use (after
// MPI_Init) and kept until the process ends.
struct HalfWordOps {
  MPI_Op bf16_sum, bf16_max, f16_sum, f16_max;
  HalfWordOps() {
    CheckMpi(MPI_Op_create(&SumWords<c10::BFloat16>, /*commute=*/1, &bf16_sum), "Op_create");
    CheckMpi(MPI_Op_create(&MaxWords<c10::BFloat16>, 1, &bf16_max), "Op_create");
    CheckMpi(MPI_Op_create(&SumWords<c10::Half>, 1, &f16_sum), "Op_create");
    CheckMpi(MPI_Op_create(&MaxWords<c10::Half>, 1, &f16_max), "Op_create");
  }
};
const HalfWordOps& HalfOps() {
  static const HalfWordOps ops;
  return ops;
}

// The MPI datatype that carries one element of `dtype`.
MPI_Datatype MpiType(at::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat: return MPI_FLOAT;
    case at::kDouble: return MPI_DOUBLE;
    case at::kBFloat16:
    case at::kHalf: return MPI_UINT16_T;
    case at::kInt: return MPI_INT32_T;
    case at::kLong: return MPI_INT64_T;
    case at::kShort: return MPI_INT16_T;
    case at::kChar: return MPI_INT8_T;
    case at::kByte:
    case at::kBool: return MPI_UINT8_T;
    default: break;
  }
  FatalError(absl::StrCat("MPI backend: unsupported dtype ", c10::toString(dtype)));
}

// The MPI reduction for `op` on `dtype` (kAverage reduces as a sum and is
// divided afterwards, see FinishAverage).
MPI_Op MpiOp(ReduceOp op, at::ScalarType dtype) {
  const bool sum = (op != ReduceOp::kMax);
  if (dtype == at::kBFloat16) return sum ? HalfOps().bf16_sum : HalfOps().bf16_max;
  if (dtype == at::kHalf) return sum ? HalfOps().f16_sum : HalfOps().f16_max;
  ALRO_CHECK(dtype != at::kBool, "MPI backend: no reductions on bool tensors");
  return sum ? MPI_SUM : MPI_MAX;
}

void FinishAverage(at::Tensor& t, ReduceOp op, int size) {
  if (op == ReduceOp::kAverage) t.div_(size);
}

int ToMpiCount(int64_t n) {
  ALRO_CHECK(n <= kMaxMpiCount, "MPI backend: ", n, " elements in one exchange; at most ", kMaxMpiCount);
  return static_cast<int>(n);
}

// A non-blocking all-reduce in flight.
class MpiPendingWork : public PendingWork {
 public:
  MpiPendingWork(MPI_Request request, at::Tensor t, ReduceOp op, int size)
      : request_(request), t_(std::move(t)), op_(op), size_(size) {}
  ~MpiPendingWork() override { Wait(); }
  void Wait() override {
    if (request_ == MPI_REQUEST_NULL) return;
    CheckMpi(MPI_Wait(&request_, MPI_STATUS_IGNORE), "Wait(Iallreduce)");
    FinishAverage(t_, op_, size_);
  }

 private:
  MPI_Request request_;
  at::Tensor t_;
  ReduceOp op_;
  int size_;
};

class MpiBackend : public CollectiveBackend {
 public:
  explicit MpiBackend(MPI_Comm comm) : comm_(comm) { CheckMpi(MPI_Comm_size(comm, &size_), "Comm_size"); }

  const char* name() const override { return "mpi"; }

  void AllReduce(at::Tensor& t, ReduceOp op) override {
    const MPI_Datatype type = MpiType(t.scalar_type());
    const MPI_Op mpi_op = MpiOp(op, t.scalar_type());
    char* data = static_cast<char*>(t.data_ptr());
    const int64_t elem = t.element_size();
    for (int64_t done = 0, n = t.numel(); done < n; done += kMaxMpiCount) {
      const int count = static_cast<int>(std::min(kMaxMpiCount, n - done));
      CheckMpi(MPI_Allreduce(MPI_IN_PLACE, data + done * elem, count, type, mpi_op, comm_), "Allreduce");
    }
    FinishAverage(t, op, size_);
  }

  std::unique_ptr<PendingWork> AllReduceAsync(at::Tensor& t, ReduceOp op) override {
    MPI_Request request = MPI_REQUEST_NULL;
    CheckMpi(MPI_Iallreduce(MPI_IN_PLACE, t.data_ptr(), ToMpiCount(t.numel()), MpiType(t.scalar_type()),
                            MpiOp(op, t.scalar_type()), comm_, &request),
             "Iallreduce");
    return std::make_unique<MpiPendingWork>(request, t, op, size_);
  }

  void Broadcast(at::Tensor& t, int root) override {
    const MPI_Datatype type = MpiType(t.scalar_type());
    char* data = static_cast<char*>(t.data_ptr());
    const int64_t elem = t.element_size();
    for (int64_t done = 0, n = t.numel(); done < n; done += kMaxMpiCount) {
      const int count = static_cast<int>(std::min(kMaxMpiCount, n - done));
      CheckMpi(MPI_Bcast(data + done * elem, count, type, root, comm_), "Bcast");
    }
  }

  void AllGather(const at::Tensor& in, at::Tensor& out) override {
    const MPI_Datatype type = MpiType(in.scalar_type());
    const int count = ToMpiCount(in.numel());
    CheckMpi(MPI_Allgather(in.data_ptr(), count, type, out.data_ptr(), count, type, comm_), "Allgather");
  }

  void ReduceScatter(const at::Tensor& in, at::Tensor& out, const std::vector<int64_t>& counts,
                     ReduceOp op) override {
    std::vector<int> mpi_counts(counts.size());
    for (size_t r = 0; r < counts.size(); ++r) mpi_counts[r] = ToMpiCount(counts[r]);
    // MPI_Reduce_scatter's send buffer is read-only; `in` is not modified.
    CheckMpi(MPI_Reduce_scatter(in.data_ptr(), out.data_ptr(), mpi_counts.data(), MpiType(in.scalar_type()),
                                MpiOp(op, in.scalar_type()), comm_),
             "Reduce_scatter");
    FinishAverage(out, op, size_);
  }

  void Barrier() override { CheckMpi(MPI_Barrier(comm_), "Barrier"); }

 private:
  MPI_Comm comm_;
  int size_ = 1;
};

}  // namespace

std::unique_ptr<CollectiveBackend> MakeMpiBackend(MPI_Comm comm) { return std::make_unique<MpiBackend>(comm); }

}  // namespace alro::dist
