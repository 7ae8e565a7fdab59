// fuzz/fuzz_safetensors.cc: the safetensors header and tensor table. The
// input is a whole file; when the reader accepts it, every tensor must read
// in full and as its first-dimension slice without leaving the mapping.
#include <cstdint>

#include "core/safetensors.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace alro;
  absl::StatusOr<core::SafetensorsReader> reader =
      core::SafetensorsReader::Open(fuzz::WriteScratch("model.safetensors", fuzz::AsString(data, size)));
  if (!reader.ok()) return 0;
  for (const core::StTensorInfo& t : reader->tensors()) {
    absl::StatusOr<at::Tensor> whole = reader->Read(t.name);
    fuzz::Expect(whole.ok(), "a validated tensor does not read: " + t.name);
    fuzz::Expect(whole->numel() == t.numel(), "numel differs: " + t.name);
    if (!t.shape.empty() && t.shape[0] > 0) {
      absl::StatusOr<at::Tensor> slice = reader->ReadSlice(t.name, 0, t.shape[0] / 2, t.shape[0] - t.shape[0] / 2);
      fuzz::Expect(slice.ok(), "a validated tensor's slice does not read: " + t.name);
    }
  }
  return 0;
}
