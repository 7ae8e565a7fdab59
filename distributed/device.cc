// distributed/device.cc: SelectDevice (see device.h).
#include "distributed/device.h"

#include <ATen/Context.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace alro::dist {

absl::StatusOr<c10::Device> SelectDevice(absl::string_view device_name, int local_rank) {
  if (device_name == "cpu") return c10::Device(c10::kCPU);
  if (device_name != "cuda") {
    return UserError(absl::StatusCode::kInvalidArgument,
                     absl::StrCat("parallel.device: unknown device \"", device_name, "\""), "use cpu or cuda");
  }
  if (!at::hasCUDA()) {
    return UserError(absl::StatusCode::kFailedPrecondition,
                     "parallel.device is cuda but this alro was built against a LibTorch without CUDA, "
                     "or no GPU is visible (check nvidia-smi and CUDA_VISIBLE_DEVICES)",
                     "build alro against a CUDA LibTorch (docs/contributing.md) on the GPU nodes, "
                     "or set parallel.device=cpu");
  }
  const c10::impl::DeviceGuardImplInterface* cuda = c10::impl::getDeviceGuardImpl(c10::kCUDA);
  const int visible = cuda->deviceCount();
  if (visible <= 0) {
    return UserError(absl::StatusCode::kFailedPrecondition, "parallel.device is cuda but no GPU is visible",
                     "check nvidia-smi and CUDA_VISIBLE_DEVICES on this node");
  }
  // One GPU per rank, except when the launcher already narrowed each rank's
  // view (CUDA_VISIBLE_DEVICES with fewer GPUs than ranks per node).
  if (local_rank >= visible && visible != 1) {
    return UserError(absl::StatusCode::kFailedPrecondition,
                     absl::StrCat("node-local rank ", local_rank, " has no GPU: this node shows ", visible),
                     absl::StrCat("start at most ", visible, " ranks per node (mpirun --map-by ppr:", visible,
                                  ":node, or sbatch --ntasks-per-node=", visible, ")"));
  }
  const c10::Device device(c10::kCUDA, static_cast<c10::DeviceIndex>(local_rank % visible));
  cuda->setDevice(device);
  return device;
}

}  // namespace alro::dist
