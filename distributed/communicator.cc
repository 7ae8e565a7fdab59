// distributed/communicator.cc: layout handling and backend dispatch for the
// collectives declared in communicator.h.
#include "distributed/communicator.h"

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"
#include "distributed/collective_backend.h"
#include "distributed/runtime.h"
#include "distributed/shard.h"
#include "distributed/watchdog.h"

namespace alro::dist {
namespace {

// A PendingWork that is already complete (single-rank groups).
class DoneWork : public PendingWork {
 public:
  void Wait() override {}
};

int64_t WrapDim(int64_t dim, int64_t ndim) {
  const int64_t wrapped = dim < 0 ? dim + ndim : dim;
  ALRO_CHECK(wrapped >= 0 && wrapped < ndim, "dimension ", dim, " out of range for a ", ndim, "-d tensor");
  return wrapped;
}

// kAverage divides, which is only meaningful (and only supported by every
// backend) for floating-point tensors.
void CheckReducible(ReduceOp op, const at::Tensor& t) {
  ALRO_CHECK(op != ReduceOp::kAverage || at::isFloatingType(t.scalar_type()),
             "ReduceOp::kAverage needs a floating-point tensor, got ", c10::toString(t.scalar_type()));
}

}  // namespace

const char* ReduceOpName(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum: return "sum";
    case ReduceOp::kAverage: return "avg";
    case ReduceOp::kMax: return "max";
  }
  return "?";
}

absl::StatusOr<BackendChoice> ParseBackendChoice(absl::string_view text) {
  if (text == "auto") return BackendChoice::kAuto;
  if (text == "mpi") return BackendChoice::kMpi;
  if (text == "nccl") {
    if (!NcclAvailable()) {
      return UserError(absl::StatusCode::kFailedPrecondition,
                       "parallel.backend: nccl requested but this alro was built without NCCL",
                       "use parallel.backend: auto or mpi, or rebuild on a machine with CUDA and libnccl");
    }
    return BackendChoice::kNccl;
  }
  return InvalidArgument(absl::StrCat("parallel.backend: unknown backend '", text, "'"),
                         "use one of: auto, mpi, nccl");
}

bool NcclAvailable() {
#ifdef ALRO_WITH_NCCL
  return true;
#else
  return false;
#endif
}

Communicator::Communicator(std::string name, MPI_Comm comm, int rank, int size, BackendChoice choice)
    : name_(std::move(name)), comm_(comm), rank_(rank), size_(size), choice_(choice) {
  if (comm_ != MPI_COMM_NULL) mpi_ = MakeMpiBackend(comm_);
}

std::unique_ptr<Communicator> Communicator::Create(MPI_Comm comm, std::string name, BackendChoice backend) {
  MPI_Comm dup = MPI_COMM_NULL;
  ALRO_CHECK(MPI_Comm_dup(comm, &dup) == MPI_SUCCESS, "MPI_Comm_dup failed for ", name);
  // Errors come back as codes so that the message can name the collective;
  // CheckMpi then ends the job through the fatal handler.
  MPI_Comm_set_errhandler(dup, MPI_ERRORS_RETURN);
  int rank = 0, size = 1;
  MPI_Comm_rank(dup, &rank);
  MPI_Comm_size(dup, &size);
  return std::unique_ptr<Communicator>(new Communicator(std::move(name), dup, rank, size, backend));
}

std::unique_ptr<Communicator> Communicator::CreateLocal(std::string name) {
  return std::unique_ptr<Communicator>(
      new Communicator(std::move(name), MPI_COMM_NULL, 0, 1, BackendChoice::kAuto));
}

Communicator::~Communicator() {
  nccl_.reset();
  mpi_.reset();
  if (comm_ != MPI_COMM_NULL && MpiRunning()) MPI_Comm_free(&comm_);
}

CollectiveBackend& Communicator::BackendFor(const at::Tensor& t) {
  ALRO_CHECK(t.defined(), "collective on an undefined tensor (communicator ", name_, ")");
  if (t.is_cuda()) {
    ALRO_CHECK(choice_ != BackendChoice::kMpi,
               "CUDA tensor on communicator ", name_, " with parallel.backend mpi; use auto or nccl");
    if (!nccl_) nccl_ = MakeNcclBackend(comm_, t.device().index());
    return *nccl_;
  }
  ALRO_CHECK(t.device().is_cpu(), "collectives support CPU and CUDA tensors, got ", t.device().str());
  return *mpi_;
}

std::string Communicator::Describe(absl::string_view op, const at::Tensor& t) const {
  return absl::StrCat(op, " on ", name_, " [rank ", rank_, " of ", size_, "], ", c10::toString(t.scalar_type()),
                      " [", absl::StrJoin(t.sizes(), "x"), "] (", t.numel() * t.element_size(), " bytes)");
}

void Communicator::AllReduce(at::Tensor& t, ReduceOp op) {
  CheckReducible(op, t);
  if (size_ == 1) return;
  ScopedWatch watch(Describe(absl::StrCat("AllReduce(", ReduceOpName(op), ")"), t));
  CollectiveBackend& backend = BackendFor(t);
  if (t.is_contiguous()) {
    backend.AllReduce(t, op);
    return;
  }
  at::Tensor flat = t.contiguous();
  backend.AllReduce(flat, op);
  at::NoGradGuard no_grad;
  t.copy_(flat);
}

std::unique_ptr<PendingWork> Communicator::AllReduceAsync(at::Tensor& t, ReduceOp op) {
  CheckReducible(op, t);
  if (size_ == 1) return std::make_unique<DoneWork>();
  ALRO_CHECK(t.is_contiguous(), "AllReduceAsync needs a contiguous tensor (communicator ", name_, ")");
  ScopedWatch watch(Describe(absl::StrCat("AllReduceAsync(", ReduceOpName(op), ") start"), t));
  return BackendFor(t).AllReduceAsync(t, op);
}

void Communicator::Broadcast(at::Tensor& t, int root) {
  ALRO_CHECK(root >= 0 && root < size_, "broadcast root ", root, " outside communicator ", name_,
             " of size ", size_);
  if (size_ == 1) return;
  ScopedWatch watch(Describe(absl::StrCat("Broadcast(root ", root, ")"), t));
  CollectiveBackend& backend = BackendFor(t);
  if (t.is_contiguous()) {
    backend.Broadcast(t, root);
    return;
  }
  at::Tensor flat = t.contiguous();
  backend.Broadcast(flat, root);
  at::NoGradGuard no_grad;
  t.copy_(flat);
}

// Both shard-shaped collectives move `dim` to the front so that each rank's
// part is one contiguous run of the flat buffer, then move it back.
at::Tensor Communicator::AllGather(const at::Tensor& t, int64_t dim) {
  ALRO_CHECK(t.dim() >= 1, "AllGather needs a tensor with at least one dimension");
  dim = WrapDim(dim, t.dim());
  if (size_ == 1) return t.clone(at::MemoryFormat::Contiguous);
  ScopedWatch watch(Describe(absl::StrCat("AllGather(dim ", dim, ")"), t));
  CollectiveBackend& backend = BackendFor(t);
  const at::Tensor front = t.movedim(dim, 0).contiguous();
  std::vector<int64_t> out_sizes = front.sizes().vec();
  out_sizes[0] *= size_;
  at::Tensor out = at::empty(out_sizes, front.options());
  backend.AllGather(front, out);
  return dim == 0 ? out : out.movedim(0, dim).contiguous();
}

at::Tensor Communicator::ReduceScatter(const at::Tensor& t, ReduceOp op, int64_t dim) {
  ALRO_CHECK(t.dim() >= 1, "ReduceScatter needs a tensor with at least one dimension");
  dim = WrapDim(dim, t.dim());
  CheckReducible(op, t);
  if (size_ == 1) return t.clone(at::MemoryFormat::Contiguous);
  ScopedWatch watch(Describe(absl::StrCat("ReduceScatter(", ReduceOpName(op), ", dim ", dim, ")"), t));
  CollectiveBackend& backend = BackendFor(t);
  const at::Tensor front = t.movedim(dim, 0).contiguous();
  const int64_t rows = front.size(0);
  const int64_t row_numel = rows == 0 ? 0 : front.numel() / rows;
  std::vector<int64_t> counts(size_);
  for (int r = 0; r < size_; ++r) counts[r] = ShardOf(rows, size_, r).size * row_numel;
  std::vector<int64_t> out_sizes = front.sizes().vec();
  out_sizes[0] = ShardOf(rows, size_, rank_).size;
  at::Tensor out = at::empty(out_sizes, front.options());
  backend.ReduceScatter(front, out, counts, op);
  return dim == 0 ? out : out.movedim(0, dim).contiguous();
}

void Communicator::Barrier() {
  if (size_ == 1) return;
  ScopedWatch watch(absl::StrCat("Barrier on ", name_, " [rank ", rank_, " of ", size_, "]"));
  // A host-side barrier: it orders the ranks' CPU threads, not queued GPU work.
  mpi_->Barrier();
}

std::vector<std::string> AllGatherStrings(Communicator& comm, const std::vector<std::string>& local) {
  // Each rank packs [count][length, bytes]... into one int8 row; rows are
  // padded to the longest and gathered. Lengths are int64 in host order
  // (every rank of a job runs the same binary).
  std::string packed;
  auto put = [&packed](int64_t v) { packed.append(reinterpret_cast<const char*>(&v), sizeof(v)); };
  put(static_cast<int64_t>(local.size()));
  for (const std::string& s : local) {
    put(static_cast<int64_t>(s.size()));
    packed += s;
  }
  at::Tensor width = at::full({1}, static_cast<int64_t>(packed.size()), at::kLong);
  comm.AllReduce(width, ReduceOp::kMax);
  at::Tensor row = at::zeros({1, width.item<int64_t>()}, at::kByte);
  std::memcpy(row.data_ptr<uint8_t>(), packed.data(), packed.size());
  const at::Tensor rows = comm.AllGather(row, 0).contiguous();
  std::vector<std::string> out;
  for (int64_t r = 0; r < rows.size(0); ++r) {
    const char* p = reinterpret_cast<const char*>(rows[r].data_ptr<uint8_t>());
    auto get = [&p]() {
      int64_t v;
      std::memcpy(&v, p, sizeof(v));
      p += sizeof(v);
      return v;
    };
    const int64_t count = get();
    for (int64_t i = 0; i < count; ++i) {
      const int64_t length = get();
      out.emplace_back(p, static_cast<size_t>(length));
      p += length;
    }
  }
  return out;
}

}  // namespace alro::dist
