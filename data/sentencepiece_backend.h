// data/sentencepiece_backend.h: a std-only facade over the SentencePiece
// library. SentencePiece's header declares `absl::string_view` as
// std::string_view, which collides with Debian's Abseil, so it is included
// only by sentencepiece_backend.cc; everything else (data/tokenizer.h) goes
// through this header, which includes neither.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace alro::data::spm {

/// A loaded SentencePiece model. Errors are returned as text (empty = OK);
/// data/tokenizer.cc turns them into absl::Status.
class Processor {
 public:
  Processor();
  ~Processor();
  Processor(const Processor&) = delete;
  Processor& operator=(const Processor&) = delete;

  /// Loads a serialized ModelProto (the bytes of a .model file).
  std::string LoadSerialized(const std::string& bytes);
  /// Token ids of `text`.
  std::string Encode(const std::string& text, std::vector<int>* ids) const;
  std::string Decode(const std::vector<int>& ids) const;
  int PieceToId(const std::string& piece) const;
  std::string IdToPiece(int id) const;
  int vocab_size() const;
  int unk_id() const;
  int bos_id() const;
  int eos_id() const;
  int pad_id() const;
  bool IsUnknown(int id) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Options of Train(); see SentencePiece's TrainerSpec for their meaning.
struct TrainOptions {
  int vocab_size = 1024;
  std::string model_type = "bpe";
  double character_coverage = 1.0;
  std::vector<std::string> user_defined_symbols;
  bool split_digits = true;
};

/// Trains a model on `sentences` and stores its serialized ModelProto in
/// `model`. Runs single-threaded over all sentences so that the same input
/// gives the same model bytes. SentencePiece's progress log is captured and
/// returned in `log`. Returns "" on success, else the error.
std::string Train(const std::vector<std::string>& sentences, const TrainOptions& options, std::string* model,
                  std::string* log);

}  // namespace alro::data::spm
