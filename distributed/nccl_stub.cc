// distributed/nccl_stub.cc: MakeNcclBackend for builds without NCCL. A CUDA
// tensor can only reach it on a CUDA LibTorch built without libnccl.
#include "common/status.h"
#include "distributed/collective_backend.h"

namespace alro::dist {

std::unique_ptr<CollectiveBackend> MakeNcclBackend(MPI_Comm, int) {
  FatalError("collective on a CUDA tensor, but this alro was built without NCCL; rebuild on a machine "
             "with CUDA and libnccl (see scripts/setup.sh), or keep tensors on the CPU (parallel.device: cpu)");
}

}  // namespace alro::dist
