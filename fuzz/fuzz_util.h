// fuzz/fuzz_util.h: what the libFuzzer targets share: the input as text, a
// private scratch file for parsers that read from a path, and a check that
// stops the run (a crash libFuzzer records) when an invariant of a parser's
// output is broken.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"

namespace alro::fuzz {

/// The fuzzer's bytes as a string.
inline std::string AsString(const uint8_t* data, size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

/// A path private to this process (parallel fuzzing jobs share /tmp), under
/// /dev/shm when it exists so the per-input write costs no disk I/O.
inline const std::string& ScratchPath(const char* name) {
  static const std::string path =
      absl::StrCat(IsDirectory("/dev/shm") ? "/dev/shm" : "/tmp", "/alro_fuzz_", ::getpid(), "_", name);
  return path;
}

/// Writes `bytes` to ScratchPath(name) and returns the path.
inline const std::string& WriteScratch(const char* name, const std::string& bytes) {
  const std::string& path = ScratchPath(name);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() || std::fclose(f) != 0) {
    std::fprintf(stderr, "fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
  return path;
}

/// Stops the run when a parser's output breaks `condition` (libFuzzer saves
/// the input as a crash).
inline void Expect(bool condition, const std::string& what) {
  if (condition) return;
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what.c_str());
  std::abort();
}

}  // namespace alro::fuzz
