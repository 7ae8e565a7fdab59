// tests/distributed/device_test.cc: SelectDevice picks the CPU, refuses an
// unknown name, and for "cuda" either returns this rank's GPU (a CUDA
// LibTorch with GPUs) or a user error with a HINT (a CPU-only LibTorch).
#include <ATen/Context.h>
#include <gtest/gtest.h>

#include <string>

#include "distributed/device.h"

namespace alro::dist {
namespace {

TEST(SelectDevice, CpuIsTheCpu) {
  absl::StatusOr<c10::Device> device = SelectDevice("cpu", 3);
  ASSERT_TRUE(device.ok()) << device.status();
  EXPECT_TRUE(device->is_cpu());
}

TEST(SelectDevice, UnknownNameIsAUserError) {
  absl::StatusOr<c10::Device> device = SelectDevice("tpu", 0);
  ASSERT_FALSE(device.ok());
  EXPECT_NE(std::string(device.status().message()).find("parallel.device"), std::string::npos);
}

TEST(SelectDevice, CudaIsThisRanksGpuOrAClearError) {
  absl::StatusOr<c10::Device> device = SelectDevice("cuda", 0);
  if (at::hasCUDA()) {
    ASSERT_TRUE(device.ok()) << device.status();
    EXPECT_TRUE(device->is_cuda());
    EXPECT_EQ(device->index(), 0);
  } else {
    ASSERT_FALSE(device.ok());
    const std::string message(device.status().message());
    EXPECT_NE(message.find("parallel.device is cuda"), std::string::npos) << message;
    EXPECT_NE(message.find("HINT"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace alro::dist
