// core/safetensors.h: a defensive reader and a streaming writer of the
// safetensors format (https://github.com/huggingface/safetensors).
//
// Layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON
//   {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]},
//    "__metadata__": {"key": "value"}}
// then the data section; offsets are relative to its start (byte 8 + N).
//
// The reader memory-maps the file (common/file_util.h MappedFile) and
// validates the whole header before any tensor is touched: the header length
// fits in the file, every entry has a known dtype, a non-negative shape and
// offsets whose length equals numel x element size, lies inside the data
// section, starts on a multiple of its element size, and overlaps no other
// entry. After Open() succeeds no read can leave the mapping. Reading a slice
// copies only the bytes of that slice, so a tensor-parallel rank pages in
// only its own part of a large checkpoint.
//
// The writer follows the reference implementation's layout (header padded
// with spaces to 8 bytes, tensors ordered by decreasing element size so every
// tensor is aligned, no gaps), so Hugging Face tools read its files.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/file_util.h"

namespace alro::core {

/// The element types safetensors names ("F32", "BF16", ...).
enum class StDtype { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool };

/// Parses a safetensors dtype string; kInvalidArgument for unknown ones.
absl::StatusOr<StDtype> ParseStDtype(absl::string_view name);
/// The safetensors spelling of `dtype` ("F32").
const char* StDtypeName(StDtype dtype);
/// Bytes per element.
int64_t StDtypeSize(StDtype dtype);
/// The matching torch scalar type.
at::ScalarType StDtypeToScalarType(StDtype dtype);
/// The safetensors dtype of a torch scalar type; an error for types safetensors lacks.
absl::StatusOr<StDtype> ScalarTypeToStDtype(at::ScalarType type);

/// One tensor's entry in a safetensors header.
struct StTensorInfo {
  std::string name;
  StDtype dtype = StDtype::kF32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  ///< byte offset in the data section
  uint64_t end = 0;    ///< one past the last byte
  int64_t numel() const;
};

/// Upper bound on the JSON header, as in the reference implementation: a
/// larger length field is taken as corruption, not as a reason to read 4 GB.
inline constexpr uint64_t kMaxSafetensorsHeaderBytes = 100ull << 20;

/// A validated, memory-mapped safetensors file. Movable, not copyable.
class SafetensorsReader {
 public:
  /// Maps `path` and validates its header; every problem is an error naming
  /// the file, the tensor and the byte offset.
  static absl::StatusOr<SafetensorsReader> Open(const std::string& path);

  const std::string& path() const { return file_.path(); }
  /// All entries, sorted by name.
  const std::vector<StTensorInfo>& tensors() const { return tensors_; }
  /// The entry called `name`, or nullptr.
  const StTensorInfo* Find(absl::string_view name) const;
  /// The "__metadata__" string map (empty when absent).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  /// A copy of the whole tensor `name` in its stored dtype.
  absl::StatusOr<at::Tensor> Read(absl::string_view name) const;

  /// A copy of rows [start, start + length) of dimension `dim` of `name`, in
  /// its stored dtype; only those bytes are read.
  absl::StatusOr<at::Tensor> ReadSlice(absl::string_view name, int64_t dim, int64_t start,
                                       int64_t length) const;

 private:
  MappedFile file_;
  uint64_t data_begin_ = 0;  // absolute offset of the data section
  std::vector<StTensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

/// Writes one safetensors file as a stream, so a checkpoint larger than memory
/// can be written one tensor at a time: Create() fixes the header (names,
/// dtypes, shapes), then Append() each tensor in `order()`, then Finish().
/// The file appears under `path` only after Finish() (temp file + rename).
class SafetensorsWriter {
 public:
  /// A tensor to be written: its name, stored dtype and shape.
  struct Entry {
    std::string name;
    at::ScalarType dtype = at::kFloat;
    std::vector<int64_t> shape;
  };

  /// Opens `path`.tmp and writes the header. Names must be unique.
  static absl::StatusOr<SafetensorsWriter> Create(const std::string& path, std::vector<Entry> entries,
                                                  std::map<std::string, std::string> metadata = {});

  /// The order in which Append() expects the tensors (decreasing element
  /// size, then the order given to Create()).
  const std::vector<Entry>& order() const { return order_; }

  /// Writes the next tensor; it must be called `order()[i].name` and have that
  /// shape. It is converted to the declared dtype.
  absl::Status Append(absl::string_view name, const at::Tensor& tensor);

  /// Checks that every tensor was written, fsyncs and renames into place.
  absl::Status Finish();

 private:
  std::string path_;
  std::vector<Entry> order_;
  size_t next_ = 0;
  SequentialFileWriter out_;
};

/// Writes `tensors` (name -> tensor, stored in each tensor's own dtype) to
/// `path` in one call. For small files and tests.
absl::Status WriteSafetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                              const std::map<std::string, std::string>& metadata = {});

}  // namespace alro::core
