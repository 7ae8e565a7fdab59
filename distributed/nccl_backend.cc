// distributed/nccl_backend.cc: collectives on CUDA tensors over NCCL.
// Built only when CMake found CUDA and libnccl (target alro_nccl_deps).
//
// Bootstrap: rank 0 of the group creates an ncclUniqueId and broadcasts it
// over the group's MPI communicator; every rank then joins with
// ncclCommInitRank on its device (chosen by the caller from
// MpiRuntime::local_rank()).
//
// Streams: each backend has its own non-blocking stream. A collective first
// makes that stream wait (event) for the compute stream, so it sees the
// finished inputs; after launching, the compute stream waits (event) for the
// collective, so later kernels see the result. The host never blocks, and
// temporaries that the caller frees right after a call are safe: the caching
// allocator reuses a block only for work queued on the compute stream, which
// is ordered after the collective.
//
// The compute stream: with a CUDA LibTorch (ALRO_TORCH_HAS_CUDA, set by
// distributed/CMakeLists.txt when the c10_cuda target exists) it is torch's
// current stream, c10::cuda::getCurrentCUDAStream(device).stream(), in
// LibTorch 1.13 and 2.x alike. Otherwise (a CPU LibTorch, which cannot make
// CUDA tensors, e.g. this project's CI) it is the legacy default stream, which
// is also torch's stream when no stream guard is active.
#include <cuda_runtime.h>
#include <mpi.h>
#include <nccl.h>

#ifdef ALRO_TORCH_HAS_CUDA
#include <c10/cuda/CUDAStream.h>
#endif

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "distributed/collective_backend.h"

namespace alro::dist {
namespace {

void CheckCuda(cudaError_t rc, const char* what) {
  if (rc != cudaSuccess) FatalError(absl::StrCat("CUDA ", what, " failed: ", cudaGetErrorString(rc)));
}

void CheckNccl(ncclResult_t rc, const char* what) {
  if (rc != ncclSuccess) FatalError(absl::StrCat("NCCL ", what, " failed: ", ncclGetErrorString(rc)));
}

cudaStream_t ComputeStream(int device) {
#ifdef ALRO_TORCH_HAS_CUDA
  return c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(device)).stream();
#else
  (void)device;
  return cudaStreamLegacy;
#endif
}

// Makes `device` current for the scope (NCCL and event calls act on it).
class DeviceScope {
 public:
  explicit DeviceScope(int device) {
    CheckCuda(cudaGetDevice(&previous_), "cudaGetDevice");
    if (previous_ != device) CheckCuda(cudaSetDevice(device), "cudaSetDevice");
  }
  ~DeviceScope() { cudaSetDevice(previous_); }

 private:
  int previous_ = 0;
};

ncclDataType_t NcclType(at::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat: return ncclFloat32;
    case at::kDouble: return ncclFloat64;
    case at::kBFloat16: return ncclBfloat16;
    case at::kHalf: return ncclFloat16;
    case at::kInt: return ncclInt32;
    case at::kLong: return ncclInt64;
    case at::kChar: return ncclInt8;
    case at::kByte:
    case at::kBool: return ncclUint8;
    default: break;
  }
  FatalError(absl::StrCat("NCCL backend: unsupported dtype ", c10::toString(dtype)));
}

ncclRedOp_t NcclOp(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum: return ncclSum;
    case ReduceOp::kAverage: return ncclAvg;
    case ReduceOp::kMax: return ncclMax;
  }
  return ncclSum;
}

cudaEvent_t NewEvent() {
  cudaEvent_t event = nullptr;
  CheckCuda(cudaEventCreateWithFlags(&event, cudaEventDisableTiming), "cudaEventCreate");
  return event;
}

// An all-reduce queued on the NCCL stream; Wait() orders the compute stream after it.
class NcclPendingWork : public PendingWork {
 public:
  NcclPendingWork(cudaEvent_t done, int device) : done_(done), device_(device) {}
  ~NcclPendingWork() override {
    Wait();
    cudaEventDestroy(done_);
  }
  void Wait() override {
    if (waited_) return;
    DeviceScope scope(device_);
    CheckCuda(cudaStreamWaitEvent(ComputeStream(device_), done_, 0), "cudaStreamWaitEvent");
    waited_ = true;
  }

 private:
  cudaEvent_t done_;
  int device_;
  bool waited_ = false;
};

class NcclBackend : public CollectiveBackend {
 public:
  NcclBackend(MPI_Comm comm, int device) : mpi_comm_(comm), device_(device) {
    int rank = 0, size = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    DeviceScope scope(device_);
    ncclUniqueId id;
    if (rank == 0) CheckNccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
    ALRO_CHECK(MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, comm) == MPI_SUCCESS, "MPI_Bcast of the ncclUniqueId");
    CheckNccl(ncclCommInitRank(&nccl_, size, id, rank), "ncclCommInitRank");
    CheckCuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    inputs_ready_ = NewEvent();
    done_ = NewEvent();
  }

  ~NcclBackend() override {
    DeviceScope scope(device_);
    cudaStreamSynchronize(stream_);
    ncclCommDestroy(nccl_);
    cudaEventDestroy(inputs_ready_);
    cudaEventDestroy(done_);
    cudaStreamDestroy(stream_);
  }

  const char* name() const override { return "nccl"; }

  void AllReduce(at::Tensor& t, ReduceOp op) override {
    Run(t, [&] {
      CheckNccl(ncclAllReduce(t.data_ptr(), t.data_ptr(), t.numel(), NcclType(t.scalar_type()), NcclOp(op), nccl_,
                              stream_),
                "ncclAllReduce");
    });
  }

  std::unique_ptr<PendingWork> AllReduceAsync(at::Tensor& t, ReduceOp op) override {
    DeviceScope scope(CheckDevice(t));
    WaitForCompute();
    CheckNccl(ncclAllReduce(t.data_ptr(), t.data_ptr(), t.numel(), NcclType(t.scalar_type()), NcclOp(op), nccl_,
                            stream_),
              "ncclAllReduce");
    cudaEvent_t done = NewEvent();
    CheckCuda(cudaEventRecord(done, stream_), "cudaEventRecord");
    return std::make_unique<NcclPendingWork>(done, device_);
  }

  void Broadcast(at::Tensor& t, int root) override {
    Run(t, [&] {
      CheckNccl(ncclBroadcast(t.data_ptr(), t.data_ptr(), t.numel(), NcclType(t.scalar_type()), root, nccl_, stream_),
                "ncclBroadcast");
    });
  }

  void AllGather(const at::Tensor& in, at::Tensor& out) override {
    Run(in, [&] {
      CheckNccl(ncclAllGather(in.data_ptr(), out.data_ptr(), in.numel(), NcclType(in.scalar_type()), nccl_, stream_),
                "ncclAllGather");
    });
  }

  // ncclReduceScatter needs equal parts; uneven shards become one ncclReduce
  // per rank (rank r is the root of its part), fused into one group.
  void ReduceScatter(const at::Tensor& in, at::Tensor& out, const std::vector<int64_t>& counts,
                     ReduceOp op) override {
    const ncclDataType_t type = NcclType(in.scalar_type());
    Run(in, [&] {
      bool even = true;
      for (int64_t c : counts) even = even && (c == counts.front());
      if (even) {
        CheckNccl(ncclReduceScatter(in.data_ptr(), out.data_ptr(), counts.front(), type, NcclOp(op), nccl_, stream_),
                  "ncclReduceScatter");
        return;
      }
      const char* base = static_cast<const char*>(in.data_ptr());
      int64_t offset = 0;
      CheckNccl(ncclGroupStart(), "ncclGroupStart");
      for (size_t r = 0; r < counts.size(); ++r) {
        // recvbuff is written on the root only.
        CheckNccl(ncclReduce(base + offset * in.element_size(), out.data_ptr(), counts[r], type, NcclOp(op),
                             static_cast<int>(r), nccl_, stream_),
                  "ncclReduce");
        offset += counts[r];
      }
      CheckNccl(ncclGroupEnd(), "ncclGroupEnd");
    });
  }

  // Drains this rank's queued collectives, then meets the other ranks.
  void Barrier() override {
    DeviceScope scope(device_);
    CheckCuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
    ALRO_CHECK(MPI_Barrier(mpi_comm_) == MPI_SUCCESS, "MPI_Barrier");
  }

 private:
  int CheckDevice(const at::Tensor& t) const {
    ALRO_CHECK(t.device().index() == device_, "NCCL communicator lives on cuda:", device_, ", tensor is on ",
               t.device().str());
    return device_;
  }

  void WaitForCompute() {
    CheckCuda(cudaEventRecord(inputs_ready_, ComputeStream(device_)), "cudaEventRecord");
    CheckCuda(cudaStreamWaitEvent(stream_, inputs_ready_, 0), "cudaStreamWaitEvent");
  }

  // Queues `launch` between the two event fences described at the top.
  template <typename Launch>
  void Run(const at::Tensor& t, Launch launch) {
    DeviceScope scope(CheckDevice(t));
    WaitForCompute();
    launch();
    CheckCuda(cudaEventRecord(done_, stream_), "cudaEventRecord");
    CheckCuda(cudaStreamWaitEvent(ComputeStream(device_), done_, 0), "cudaStreamWaitEvent");
  }

  MPI_Comm mpi_comm_;
  int device_;
  ncclComm_t nccl_ = nullptr;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t inputs_ready_ = nullptr;
  cudaEvent_t done_ = nullptr;
};

}  // namespace

std::unique_ptr<CollectiveBackend> MakeNcclBackend(MPI_Comm comm, int device_index) {
  return std::make_unique<NcclBackend>(comm, device_index);
}

}  // namespace alro::dist
