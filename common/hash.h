// common/hash.h: 64-bit FNV-1a, the one stable byte hash of alro (unlike
// std::hash it is the same on every build and platform). Checkpoints record
// and ranks compare values derived from it, and data seeds come from it, so
// every existing caller's values must never change.
#pragma once

#include <cstdint>

#include "absl/strings/string_view.h"

namespace alro {

/// FNV-1a's 64-bit prime.
inline constexpr uint64_t kFnv1aPrime = 0x100000001b3ull;
/// FNV-1a's published 64-bit offset basis (14695981039346656037).
inline constexpr uint64_t kFnv1aOffset = 0xcbf29ce484222325ull;
/// The offset basis the configuration hash, the decoder's parameter-name
/// seeds and the parameter-shape fingerprint have always used: the published
/// one with its last digit lost (1469598103934665603). Not the standard, but
/// checkpoints record config hashes and initial weights depend on the name
/// seeds, so it stays.
inline constexpr uint64_t kFnv1aAlroOffset = 1469598103934665603ull;

/// Continues an FNV-1a hash `h` over `bytes`.
constexpr uint64_t Fnv1aExtend(uint64_t h, absl::string_view bytes) {
  for (const char c : bytes) h = (h ^ static_cast<uint8_t>(c)) * kFnv1aPrime;
  return h;
}

/// Continues an FNV-1a hash `h` over the 8 bytes of `value`, least
/// significant first (the same on every platform, whatever its byte order).
constexpr uint64_t Fnv1aExtend(uint64_t h, int64_t value) {
  for (int i = 0; i < 8; ++i) h = (h ^ (static_cast<uint64_t>(value >> (8 * i)) & 0xffu)) * kFnv1aPrime;
  return h;
}

/// FNV-1a of `bytes` from offset basis `offset`.
constexpr uint64_t Fnv1a(absl::string_view bytes, uint64_t offset = kFnv1aOffset) {
  return Fnv1aExtend(offset, bytes);
}

}  // namespace alro
