// data/sentencepiece_backend.h: SentencePiece behind an abstract interface,
// loaded from a separate shared module (alro_spm) with dlopen.
//
// Why a module: Debian's libsentencepiece embeds its own, older copy of
// protobuf-lite and exports its symbols under the same names as the system
// libprotobuf that our record schema uses. Linked into one process the two
// copies interpose on each other and protobuf aborts ("CHECK failed:
// visit_status"). Loading SentencePiece with RTLD_LOCAL | RTLD_DEEPBIND
// keeps each copy bound to itself. Its header also declares
// `absl::string_view` = std::string_view, which collides with Debian's
// Abseil, so only the module's source includes it.
//
// The module is found at $ALRO_SPM_MODULE, else where the build put it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace alro::data::spm {

/// A loaded SentencePiece model. Errors come back as text ("" = OK).
class Processor {
 public:
  virtual ~Processor() = default;
  /// Loads a serialized ModelProto (the bytes of a .model file).
  virtual std::string LoadSerialized(const std::string& bytes) = 0;
  /// Token ids of `text`.
  virtual std::string Encode(const std::string& text, std::vector<int>* ids) const = 0;
  virtual std::string Decode(const std::vector<int>& ids) const = 0;
  virtual int PieceToId(const std::string& piece) const = 0;
  virtual std::string IdToPiece(int id) const = 0;
  virtual int vocab_size() const = 0;
  virtual int unk_id() const = 0;
  virtual int bos_id() const = 0;
  virtual int eos_id() const = 0;
  virtual int pad_id() const = 0;
  virtual bool IsUnknown(int id) const = 0;
};

/// Options of Backend::Train(); see SentencePiece's TrainerSpec.
struct TrainOptions {
  int vocab_size = 1024;
  std::string model_type = "bpe";
  double character_coverage = 1.0;
  std::vector<std::string> user_defined_symbols;
  bool split_digits = true;
};

/// What the module provides.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::unique_ptr<Processor> NewProcessor() = 0;
  /// Trains a model on `sentences` into `model` (serialized ModelProto).
  /// Single-threaded over all sentences with a fixed seed, so the same input
  /// gives the same bytes. `log` receives the trainer arguments used
  /// (SentencePiece itself is kept silent).
  virtual std::string Train(const std::vector<std::string>& sentences, const TrainOptions& options,
                            std::string* model, std::string* log) = 0;
};

/// The backend, loading the module on first use; nullptr with `error` set
/// when the module cannot be loaded.
Backend* GetBackend(std::string* error);

}  // namespace alro::data::spm

/// The module's one exported symbol.
extern "C" alro::data::spm::Backend* AlroSentencePieceBackend();
