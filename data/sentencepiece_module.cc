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
    const std::string path = env != nullptr && *env != '\0' ? env : ALRO_SPM_MODULE_PATH;
    // RTLD_LOCAL | RTLD_DEEPBIND: SentencePiece and its embedded protobuf
    // bind to themselves and stay invisible to the rest of the process.
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (handle == nullptr) {
      const char* why = dlerror();
      load_error = "cannot load the SentencePiece module " + path + ": " + (why ? why : "unknown error");
      return;
    }
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
