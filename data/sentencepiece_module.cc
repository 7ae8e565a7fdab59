// data/sentencepiece_module.cc: finds and loads the alro_spm module
// (data/sentencepiece_backend.h explains why SentencePiece lives there).
#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <string>

#include "data/sentencepiece_backend.h"

// GCC defines __SANITIZE_ADDRESS__ under -fsanitize=address; clang answers
// __has_feature(address_sanitizer).
#if defined(__SANITIZE_ADDRESS__)
#define ALRO_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ALRO_UNDER_ASAN 1
#endif
#endif

namespace alro::data::spm {
namespace {

constexpr int kModuleFlags = RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND;

#if defined(ALRO_UNDER_ASAN)
// The sanitizer runtime refuses dlopen(RTLD_DEEPBIND) and kills the process
// (google/sanitizers#611): a deep-bound library may bind malloc to libc and
// operator delete to the runtime, and then frees memory it did not allocate.
// Dropping RTLD_DEEPBIND is no way out here: SentencePiece's embedded
// protobuf then binds to the system libprotobuf and aborts (see
// sentencepiece_backend.h). The sanitized build of alro_spm lists the
// sanitizer runtime as its first dependency, so its deep-bound lookups find
// the runtime's malloc, free, new and delete before libc's and libstdc++'s;
// dlmopen(LM_ID_BASE), which loads into the same namespace as dlopen but is
// not intercepted, opens it. A module built without the sanitizer does not
// fail silently: the runtime reports an alloc-dealloc-mismatch inside
// SentencePiece's initialisation and stops.
void* OpenModule(const std::string& path) { return dlmopen(LM_ID_BASE, path.c_str(), kModuleFlags); }
#else
void* OpenModule(const std::string& path) { return dlopen(path.c_str(), kModuleFlags); }
#endif

}  // namespace

Backend* GetBackend(std::string* error) {
  static std::once_flag once;
  static Backend* backend = nullptr;
  static std::string load_error;
  std::call_once(once, [] {
    const char* env = std::getenv("ALRO_SPM_MODULE");
    // $ALRO_SPM_MODULE, else where the build put it, else the loader's search
    // path (LD_LIBRARY_PATH) for an installed copy.
    const std::string candidates[] = {env != nullptr ? env : "", ALRO_SPM_MODULE_PATH, "libalro_spm.so"};
    void* handle = nullptr;
    std::string path;
    for (const std::string& candidate : candidates) {
      if (candidate.empty()) continue;
      // RTLD_LOCAL | RTLD_DEEPBIND: SentencePiece and its embedded protobuf
      // bind to themselves and stay invisible to the rest of the process.
      handle = OpenModule(candidate);
      if (handle != nullptr) {
        path = candidate;
        break;
      }
      const char* why = dlerror();
      load_error += "cannot load the SentencePiece module " + candidate + ": " + (why ? why : "unknown error") + "; ";
    }
    if (handle == nullptr) return;
    using Entry = Backend* (*)();
    auto entry = reinterpret_cast<Entry>(dlsym(handle, "AlroSentencePieceBackend"));
    if (entry == nullptr) {
      load_error = path + " has no AlroSentencePieceBackend symbol";
      return;
    }
    backend = entry();
  });
  if (backend == nullptr && error != nullptr) *error = load_error;
  return backend;
}

}  // namespace alro::data::spm
