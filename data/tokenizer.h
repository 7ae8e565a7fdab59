// data/tokenizer.h: the SentencePiece tokenizer alro renders prompts with.
//
// Load an existing model (e.g. LLaMA-2's tokenizer.model) or train one on a
// data set's text, with the prompt's identifiers as user-defined symbols so
// that each identifier is exactly one token. Thread-safe after construction.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace alro::data {

namespace spm {
class Processor;
}

/// The user-defined symbol that renders a line break in models alro trains
/// (SentencePiece's default normalisation turns "\n" into a space).
inline constexpr char kNewlinePiece[] = "<nl>";
/// The byte-fallback piece that LLaMA-style models use for "\n".
inline constexpr char kByteNewlinePiece[] = "<0x0A>";

/// A loaded SentencePiece model.
class Tokenizer {
 public:
  /// Loads a .model file.
  static absl::StatusOr<std::shared_ptr<const Tokenizer>> Load(const std::string& path);
  /// Loads the bytes of a .model file; `name` names it in errors.
  static absl::StatusOr<std::shared_ptr<const Tokenizer>> FromSerialized(const std::string& bytes,
                                                                          const std::string& name);
  ~Tokenizer();

  /// Token ids of `text` (SentencePiece adds its word-start marker first).
  std::vector<int32_t> Encode(absl::string_view text) const;
  /// Text of `ids`.
  std::string Decode(const std::vector<int32_t>& ids) const;
  /// The piece of token `id`.
  std::string IdToPiece(int32_t id) const;
  /// The id of `piece`, or -1 when the model has no such piece.
  int32_t PieceToId(absl::string_view piece) const;

  /// True when `id` is the unknown token.
  bool IsUnknown(int32_t id) const;

  int32_t vocab_size() const;
  int32_t bos_id() const;  ///< -1 when the model has none
  int32_t eos_id() const;  ///< -1 when the model has none
  int32_t pad_id() const;  ///< -1 when the model has none
  /// The token that ends a prompt line: "<nl>" (alro-trained), "<0x0A>"
  /// (byte fallback), or -1 when the model has neither (lines then simply
  /// follow each other).
  int32_t newline_id() const { return newline_id_; }

  /// The one token that stands for `identifier`. Accepts a model where the
  /// identifier encodes to one token, or to the bare word-start marker
  /// followed by the identifier's own piece (a user-defined symbol); anything
  /// else is an error naming the pieces it splits into.
  absl::StatusOr<int32_t> IdentifierId(absl::string_view identifier) const;
  /// IdentifierId of each identifier; also checks that they are distinct.
  absl::StatusOr<std::vector<int32_t>> IdentifierIds(const std::vector<std::string>& identifiers) const;

  /// Where the model came from (path or name).
  const std::string& name() const { return name_; }
  /// CRC32C (unmasked) and size of the serialized model it was loaded from:
  /// what data set manifests and checkpoints record to recognise it.
  uint32_t crc32c() const { return crc32c_; }
  uint64_t size_bytes() const { return size_bytes_; }

 private:
  Tokenizer();
  std::unique_ptr<spm::Processor> processor_;
  std::string name_;
  int32_t newline_id_ = -1;
  uint32_t crc32c_ = 0;
  uint64_t size_bytes_ = 0;
};

/// How TrainTokenizer builds a model.
struct TokenizerTrainingOptions {
  int32_t vocab_size = 1024;
  /// Pieces that must be single tokens: the prompt identifiers (A..T) and
  /// kNewlinePiece are added by the converter.
  std::vector<std::string> user_defined_symbols;
  /// BPE (LLaMA's kind); "unigram" also works.
  std::string model_type = "bpe";
  /// Fraction of characters covered; 1.0 keeps every character of the titles.
  double character_coverage = 1.0;
};

/// Trains a SentencePiece model on `sentences` and returns the bytes of its
/// .model file. Deterministic: the same sentences and options give the same
/// bytes (single-threaded, no sampling, fixed seed).
absl::StatusOr<std::string> TrainTokenizer(const std::vector<std::string>& sentences,
                                           const TokenizerTrainingOptions& options);

}  // namespace alro::data
