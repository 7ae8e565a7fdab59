// common/crc32c.h: CRC32C (Castagnoli polynomial), as used by TFRecord,
// LevelDB and our checkpoints.
//
// Stored CRCs are "masked" (rotated and offset) because computing the CRC of
// a string that contains embedded CRCs is problematic; this is the same mask
// as TFRecord's and LevelDB's, so their readers accept our files.
#pragma once

#include <cstddef>
#include <cstdint>
#include "absl/strings/string_view.h"

namespace alro::crc32c {

/// The value added after rotation by Mask().
inline constexpr uint32_t kMaskDelta = 0xa282ead8u;

/// CRC32C of data[0, n) continuing from `init` (the CRC of earlier bytes).
/// Uses the SSE4.2 instruction when the CPU has it.
uint32_t Extend(uint32_t init, const void* data, size_t n);

/// CRC32C of data[0, n).
inline uint32_t Value(const void* data, size_t n) { return Extend(0, data, n); }
inline uint32_t Value(absl::string_view s) { return Extend(0, s.data(), s.size()); }

/// The masked form that is stored in files.
inline uint32_t Mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + kMaskDelta; }

/// Inverse of Mask().
inline uint32_t Unmask(uint32_t masked) {
  const uint32_t rot = masked - kMaskDelta;
  return (rot >> 17) | (rot << 15);
}

}  // namespace alro::crc32c
