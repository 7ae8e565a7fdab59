// data/sentencepiece_module.cc: finds and loads the alro_spm module
// (data/sentencepiece_backend.h explains why SentencePiece lives there).
#include <dlfcn.h>

#include <cstdlib>
#include <mutex>

#include "data/sentencepiece_backend.h"

namespace alro::data::spm {

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
      handle = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
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
