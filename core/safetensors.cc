// core/safetensors.cc: header validation, slice reads and the streaming
// writer of core/safetensors.h.
#include "core/safetensors.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/json_util.h"
#include "common/status.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors stores little-endian data; alro reads it in place");

namespace alro::core {
namespace {

// Size of the little-endian u64 that precedes the JSON header.
constexpr uint64_t kLengthFieldBytes = 8;
// The reference writer pads the header so the data section starts 8-aligned.
constexpr uint64_t kHeaderAlignment = 8;
constexpr char kMetadataKey[] = "__metadata__";

struct DtypeRow {
  StDtype dtype;
  const char* name;
  int64_t size;
  at::ScalarType scalar;
};

constexpr DtypeRow kDtypes[] = {
    {StDtype::kF64, "F64", 8, at::kDouble}, {StDtype::kF32, "F32", 4, at::kFloat},
    {StDtype::kF16, "F16", 2, at::kHalf},   {StDtype::kBF16, "BF16", 2, at::kBFloat16},
    {StDtype::kI64, "I64", 8, at::kLong},   {StDtype::kI32, "I32", 4, at::kInt},
    {StDtype::kI16, "I16", 2, at::kShort},  {StDtype::kI8, "I8", 1, at::kChar},
    {StDtype::kU8, "U8", 1, at::kByte},     {StDtype::kBool, "BOOL", 1, at::kBool},
};

const DtypeRow& RowOf(StDtype dtype) {
  for (const DtypeRow& row : kDtypes) {
    if (row.dtype == dtype) return row;
  }
  ALRO_CHECK(false, "unknown StDtype");
  return kDtypes[0];
}

constexpr char kCorruptHint[] =
    "the file is truncated or corrupt, or not a safetensors file; download or export it again";

absl::Status Corrupt(const std::string& path, absl::string_view what) {
  return UserError(absl::StatusCode::kDataLoss, absl::StrCat("safetensors file ", path, ": ", what),
                   kCorruptHint);
}

// Product of `shape` times `element_size`, or false on overflow.
bool ByteSize(const std::vector<int64_t>& shape, int64_t element_size, uint64_t* bytes) {
  uint64_t total = static_cast<uint64_t>(element_size);
  for (int64_t d : shape) {
    if (__builtin_mul_overflow(total, static_cast<uint64_t>(d), &total)) return false;
  }
  *bytes = total;
  return true;
}

// Parses one header entry; `where` prefixes messages.
absl::Status ParseEntry(const std::string& path, const std::string& name, const nlohmann::json& value,
                        uint64_t data_size, uint64_t data_begin, StTensorInfo* info) {
  const std::string where = absl::StrCat("tensor \"", name, "\"");
  if (!value.is_object()) return Corrupt(path, absl::StrCat(where, ": header entry is not a JSON object"));
  const auto dtype_it = value.find("dtype");
  const auto shape_it = value.find("shape");
  const auto offsets_it = value.find("data_offsets");
  if (dtype_it == value.end() || !dtype_it->is_string()) {
    return Corrupt(path, absl::StrCat(where, ": missing or non-string \"dtype\""));
  }
  absl::StatusOr<StDtype> dtype = ParseStDtype(dtype_it->get<std::string>());
  if (!dtype.ok()) {
    return UserError(absl::StatusCode::kInvalidArgument,
                     absl::StrCat("safetensors file ", path, ": ", where, ": ", dtype.status().message()),
                     "alro reads F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL; convert the checkpoint");
  }
  if (shape_it == value.end() || !shape_it->is_array()) {
    return Corrupt(path, absl::StrCat(where, ": missing or non-array \"shape\""));
  }
  std::vector<int64_t> shape;
  for (const nlohmann::json& d : *shape_it) {
    if (!d.is_number_integer() || d.get<int64_t>() < 0) {
      return Corrupt(path, absl::StrCat(where, ": shape ", shape_it->dump(), " has a non-integer or negative size"));
    }
    shape.push_back(d.get<int64_t>());
  }
  if (offsets_it == value.end() || !offsets_it->is_array() || offsets_it->size() != 2 ||
      !(*offsets_it)[0].is_number_unsigned() || !(*offsets_it)[1].is_number_unsigned()) {
    return Corrupt(path, absl::StrCat(where, ": \"data_offsets\" must be two non-negative integers [begin, end]"));
  }
  const uint64_t begin = (*offsets_it)[0].get<uint64_t>();
  const uint64_t end = (*offsets_it)[1].get<uint64_t>();
  if (begin > end) {
    return Corrupt(path, absl::StrCat(where, ": data_offsets [", begin, ", ", end, "] end before they begin"));
  }
  if (end > data_size) {
    return Corrupt(path, absl::StrCat(where, ": data_offsets [", begin, ", ", end, "] (file bytes ",
                                      data_begin + begin, "..", data_begin + end, ") run past the end of the file (",
                                      data_begin + data_size, " bytes)"));
  }
  const int64_t element_size = StDtypeSize(*dtype);
  uint64_t expected = 0;
  if (!ByteSize(shape, element_size, &expected)) {
    return Corrupt(path, absl::StrCat(where, ": shape ", shape_it->dump(), " overflows"));
  }
  if (end - begin != expected) {
    return Corrupt(path, absl::StrCat(where, ": data_offsets [", begin, ", ", end, "] hold ", end - begin,
                                      " bytes but shape ", shape_it->dump(), " of ", StDtypeName(*dtype), " needs ",
                                      expected));
  }
  if (begin % static_cast<uint64_t>(element_size) != 0) {
    return Corrupt(path, absl::StrCat(where, ": data offset ", begin, " is not a multiple of the ", element_size,
                                      "-byte element size (misaligned tensor)"));
  }
  info->name = name;
  info->dtype = *dtype;
  info->shape = std::move(shape);
  info->begin = begin;
  info->end = end;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<StDtype> ParseStDtype(absl::string_view name) {
  for (const DtypeRow& row : kDtypes) {
    if (name == row.name) return row.dtype;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown dtype \"", name, "\""));
}

const char* StDtypeName(StDtype dtype) { return RowOf(dtype).name; }
int64_t StDtypeSize(StDtype dtype) { return RowOf(dtype).size; }
at::ScalarType StDtypeToScalarType(StDtype dtype) { return RowOf(dtype).scalar; }

absl::StatusOr<StDtype> ScalarTypeToStDtype(at::ScalarType type) {
  for (const DtypeRow& row : kDtypes) {
    if (row.scalar == type) return row.dtype;
  }
  return InvalidArgument(absl::StrCat("torch dtype ", c10::toString(type), " has no safetensors equivalent"),
                         "store the tensor as float32, bfloat16, float16 or an integer type");
}

int64_t StTensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// ---------------------------------------------------------------- reader

absl::StatusOr<SafetensorsReader> SafetensorsReader::Open(const std::string& path) {
  SafetensorsReader reader;
  ALRO_ASSIGN_OR_RETURN(reader.file_, MappedFile::Open(path));
  const uint64_t file_size = reader.file_.size();
  if (file_size < kLengthFieldBytes) {
    return Corrupt(path, absl::StrCat("file is ", file_size, " bytes, shorter than the 8-byte header length"));
  }
  uint64_t header_len = 0;
  std::memcpy(&header_len, reader.file_.data(), sizeof(header_len));
  if (header_len > kMaxSafetensorsHeaderBytes) {
    return Corrupt(path, absl::StrCat("header length ", header_len, " at byte 0 exceeds the ",
                                      kMaxSafetensorsHeaderBytes, "-byte limit"));
  }
  if (header_len > file_size - kLengthFieldBytes) {
    return Corrupt(path, absl::StrCat("header length ", header_len, " at byte 0 runs past the end of the file (",
                                      file_size, " bytes)"));
  }
  const absl::string_view text(reinterpret_cast<const char*>(reader.file_.data()) + kLengthFieldBytes, header_len);
  absl::StatusOr<nlohmann::json> header = ParseJson(text, absl::StrCat("safetensors header of ", path));
  if (!header.ok()) {
    return UserError(absl::StatusCode::kDataLoss, header.status().message(), kCorruptHint);
  }
  if (!header->is_object()) return Corrupt(path, "header (byte 8) is not a JSON object");
  reader.data_begin_ = kLengthFieldBytes + header_len;
  const uint64_t data_size = file_size - reader.data_begin_;
  for (auto it = header->begin(); it != header->end(); ++it) {
    if (it.key() == kMetadataKey) {
      if (!it.value().is_object()) return Corrupt(path, "\"__metadata__\" is not a JSON object");
      for (auto m = it.value().begin(); m != it.value().end(); ++m) {
        if (!m.value().is_string()) {
          return Corrupt(path, absl::StrCat("\"__metadata__\" value of \"", m.key(), "\" is not a string"));
        }
        reader.metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    StTensorInfo info;
    ALRO_RETURN_IF_ERROR(ParseEntry(path, it.key(), it.value(), data_size, reader.data_begin_, &info));
    reader.tensors_.push_back(std::move(info));
  }
  // Overlap check: sort the byte ranges and compare neighbours. Empty tensors
  // occupy no bytes and cannot overlap anything.
  std::vector<const StTensorInfo*> by_offset;
  for (const StTensorInfo& t : reader.tensors_) {
    if (t.end > t.begin) by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const StTensorInfo* a, const StTensorInfo* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    if (by_offset[i]->begin < by_offset[i - 1]->end) {
      return Corrupt(path, absl::StrCat("tensors \"", by_offset[i - 1]->name, "\" [", by_offset[i - 1]->begin, ", ",
                                        by_offset[i - 1]->end, ") and \"", by_offset[i]->name, "\" [",
                                        by_offset[i]->begin, ", ", by_offset[i]->end, ") overlap"));
    }
  }
  std::sort(reader.tensors_.begin(), reader.tensors_.end(),
            [](const StTensorInfo& a, const StTensorInfo& b) { return a.name < b.name; });
  return reader;
}

const StTensorInfo* SafetensorsReader::Find(absl::string_view name) const {
  auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                             [](const StTensorInfo& t, absl::string_view n) { return t.name < n; });
  if (it == tensors_.end() || it->name != name) return nullptr;
  return &*it;
}

absl::StatusOr<at::Tensor> SafetensorsReader::Read(absl::string_view name) const {
  const StTensorInfo* info = Find(name);
  if (info == nullptr) {
    return UserError(absl::StatusCode::kNotFound,
                     absl::StrCat("safetensors file ", path(), " has no tensor \"", name, "\""),
                     "check the tensor name or the checkpoint");
  }
  if (info->shape.empty()) return ReadSlice(name, -1, 0, 0);
  return ReadSlice(name, 0, 0, info->shape[0]);
}

absl::StatusOr<at::Tensor> SafetensorsReader::ReadSlice(absl::string_view name, int64_t dim, int64_t start,
                                                        int64_t length) const {
  const StTensorInfo* info = Find(name);
  if (info == nullptr) {
    return UserError(absl::StatusCode::kNotFound,
                     absl::StrCat("safetensors file ", path(), " has no tensor \"", name, "\""),
                     "check the tensor name or the checkpoint");
  }
  const at::ScalarType scalar = StDtypeToScalarType(info->dtype);
  const int64_t element_size = StDtypeSize(info->dtype);
  const uint8_t* base = file_.data() + data_begin_ + info->begin;
  if (info->shape.empty()) {  // a scalar: the whole (one-element) tensor
    at::Tensor out = at::empty({}, at::TensorOptions().dtype(scalar));
    std::memcpy(out.data_ptr(), base, static_cast<size_t>(element_size));
    return out;
  }
  const int64_t rank = static_cast<int64_t>(info->shape.size());
  if (dim < 0 || dim >= rank || start < 0 || length < 0 || start > info->shape[dim] ||
      length > info->shape[dim] - start) {
    return InvalidArgument(absl::StrCat("safetensors file ", path(), ": slice [", start, ", ", start + length,
                                        ") of dimension ", dim, " is outside tensor \"", name, "\" of shape [",
                                        absl::StrJoin(info->shape, ", "), "]"),
                           "the checkpoint's shape does not match the model configuration");
  }
  // The slice is `outer` blocks of `length * inner` contiguous elements,
  // `shape[dim] * inner` elements apart.
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= info->shape[d];
  for (int64_t d = dim + 1; d < rank; ++d) inner *= info->shape[d];
  std::vector<int64_t> out_shape = info->shape;
  out_shape[dim] = length;
  at::Tensor out = at::empty(out_shape, at::TensorOptions().dtype(scalar));
  // An empty result has no storage (data_ptr() is null), and memcpy from or
  // to null is undefined even for 0 bytes (found by fuzz_safetensors).
  if (out.numel() == 0) return out;
  const size_t block = static_cast<size_t>(length * inner * element_size);
  const size_t stride = static_cast<size_t>(info->shape[dim] * inner * element_size);
  const size_t first = static_cast<size_t>(start * inner * element_size);
  auto* dst = static_cast<uint8_t*>(out.data_ptr());
  for (int64_t o = 0; o < outer; ++o) {
    std::memcpy(dst + o * block, base + o * stride + first, block);
  }
  return out;
}

// ---------------------------------------------------------------- writer

absl::StatusOr<SafetensorsWriter> SafetensorsWriter::Create(const std::string& path, std::vector<Entry> entries,
                                                            std::map<std::string, std::string> metadata) {
  SafetensorsWriter writer;
  writer.path_ = path;
  // Larger elements first keeps every tensor aligned to its element size
  // without gaps (the reference writer does the same).
  std::vector<std::pair<int64_t, size_t>> keys;
  for (size_t i = 0; i < entries.size(); ++i) {
    ALRO_ASSIGN_OR_RETURN(StDtype dtype, ScalarTypeToStDtype(entries[i].dtype));
    keys.push_back({-StDtypeSize(dtype), i});
  }
  std::stable_sort(keys.begin(), keys.end());
  nlohmann::json header = nlohmann::json::object();
  uint64_t offset = 0;
  for (const auto& key : keys) {
    Entry& e = entries[key.second];
    if (e.name == kMetadataKey || header.contains(e.name)) {
      return InvalidArgument(absl::StrCat("safetensors file ", path, ": duplicate or reserved tensor name \"", e.name,
                                          "\""),
                             "give every tensor a unique name");
    }
    const StDtype dtype = *ScalarTypeToStDtype(e.dtype);
    uint64_t bytes = 0;
    ALRO_CHECK(ByteSize(e.shape, StDtypeSize(dtype), &bytes), "tensor size overflow");
    header[e.name] = {{"dtype", StDtypeName(dtype)}, {"shape", e.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    writer.order_.push_back(std::move(e));
  }
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  std::string text = header.dump();
  text.append((kHeaderAlignment - text.size() % kHeaderAlignment) % kHeaderAlignment, ' ');
  const uint64_t header_len = text.size();
  std::string prefix(kLengthFieldBytes, '\0');
  std::memcpy(prefix.data(), &header_len, sizeof(header_len));
  ALRO_ASSIGN_OR_RETURN(writer.out_, SequentialFileWriter::Create(path + ".tmp"));
  ALRO_RETURN_IF_ERROR(writer.out_.Append(prefix));
  ALRO_RETURN_IF_ERROR(writer.out_.Append(text));
  return writer;
}

absl::Status SafetensorsWriter::Append(absl::string_view name, const at::Tensor& tensor) {
  if (next_ >= order_.size() || order_[next_].name != name) {
    return absl::InternalError(absl::StrCat("safetensors file ", path_, ": tensor \"", name,
                                            "\" appended out of order; expected \"",
                                            next_ < order_.size() ? order_[next_].name : "<none>", "\""));
  }
  const Entry& e = order_[next_];
  if (tensor.sizes().vec() != e.shape) {
    return absl::InternalError(absl::StrCat("safetensors file ", path_, ": tensor \"", name, "\" has shape [",
                                            absl::StrJoin(tensor.sizes().vec(), ", "), "], declared [",
                                            absl::StrJoin(e.shape, ", "), "]"));
  }
  const at::Tensor data = tensor.detach().to(at::kCPU, e.dtype).contiguous();
  ALRO_RETURN_IF_ERROR(out_.Append(absl::string_view(static_cast<const char*>(data.data_ptr()), data.nbytes())));
  ++next_;
  return absl::OkStatus();
}

absl::Status SafetensorsWriter::Finish() {
  if (next_ != order_.size()) {
    return absl::InternalError(absl::StrCat("safetensors file ", path_, ": only ", next_, " of ", order_.size(),
                                            " tensors were written"));
  }
  ALRO_RETURN_IF_ERROR(out_.Close());
  return RenameDurably(path_ + ".tmp", path_);
}

absl::Status WriteSafetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  std::vector<SafetensorsWriter::Entry> entries;
  std::map<std::string, at::Tensor> by_name;
  for (const auto& [name, t] : tensors) {
    entries.push_back({name, t.scalar_type(), t.sizes().vec()});
    by_name[name] = t;
  }
  ALRO_ASSIGN_OR_RETURN(SafetensorsWriter writer, SafetensorsWriter::Create(path, std::move(entries), metadata));
  for (const SafetensorsWriter::Entry& e : writer.order()) {
    ALRO_RETURN_IF_ERROR(writer.Append(e.name, by_name.at(e.name)));
  }
  return writer.Finish();
}

}  // namespace alro::core
