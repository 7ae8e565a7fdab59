// data/tokenizer.cc: Tokenizer on top of the SentencePiece facade.
#include "data/tokenizer.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/crc32c.h"
#include "common/file_util.h"
#include "common/status.h"
#include "data/sentencepiece_backend.h"

namespace alro::data {
namespace {

// SentencePiece's word-start marker (U+2581).
constexpr char kWordStart[] = "\xe2\x96\x81";

}  // namespace

namespace {

absl::StatusOr<spm::Backend*> Backend() {
  std::string error;
  spm::Backend* backend = spm::GetBackend(&error);
  if (backend == nullptr) {
    return UserError(absl::StatusCode::kFailedPrecondition, error,
                     "build the alro_spm target (scripts/build.sh does), or point ALRO_SPM_MODULE at libalro_spm.so");
  }
  return backend;
}

}  // namespace

Tokenizer::Tokenizer() = default;
Tokenizer::~Tokenizer() = default;

absl::StatusOr<std::shared_ptr<const Tokenizer>> Tokenizer::Load(const std::string& path) {
  if (!PathExists(path)) {
    return UserError(absl::StatusCode::kNotFound, absl::StrCat("tokenizer ", path, " does not exist"),
                     "set model.tokenizer to a SentencePiece .model file, or leave it empty to use the one "
                     "`alro convert` wrote into the data set directory");
  }
  ALRO_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
  return FromSerialized(bytes, path);
}

absl::StatusOr<std::shared_ptr<const Tokenizer>> Tokenizer::FromSerialized(const std::string& bytes,
                                                                           const std::string& name) {
  ALRO_ASSIGN_OR_RETURN(spm::Backend * backend, Backend());
  std::shared_ptr<Tokenizer> t(new Tokenizer());
  t->processor_ = backend->NewProcessor();
  t->name_ = name;
  t->crc32c_ = crc32c::Value(bytes);
  t->size_bytes_ = bytes.size();
  if (std::string error = t->processor_->LoadSerialized(bytes); !error.empty()) {
    return UserError(absl::StatusCode::kInvalidArgument,
                     absl::StrCat("tokenizer ", name, " is not a SentencePiece model: ", error),
                     "pass a .model file written by SentencePiece (e.g. LLaMA-2's tokenizer.model)");
  }
  for (const char* piece : {kNewlinePiece, kByteNewlinePiece}) {
    const int32_t id = t->PieceToId(piece);
    if (id >= 0) {
      t->newline_id_ = id;
      break;
    }
  }
  return std::shared_ptr<const Tokenizer>(std::move(t));
}

std::vector<int32_t> Tokenizer::Encode(absl::string_view text) const {
  std::vector<int> ids;
  // Encoding only fails on an unloaded model, which the factories exclude.
  const std::string error = processor_->Encode(std::string(text), &ids);
  ALRO_CHECK(error.empty(), error);
  return std::vector<int32_t>(ids.begin(), ids.end());
}

std::string Tokenizer::Decode(const std::vector<int32_t>& ids) const {
  return processor_->Decode(std::vector<int>(ids.begin(), ids.end()));
}

std::string Tokenizer::IdToPiece(int32_t id) const { return processor_->IdToPiece(id); }

int32_t Tokenizer::PieceToId(absl::string_view piece) const {
  const int id = processor_->PieceToId(std::string(piece));
  return processor_->IsUnknown(id) && piece != processor_->IdToPiece(id) ? -1 : id;
}

bool Tokenizer::IsUnknown(int32_t id) const { return processor_->IsUnknown(id); }

int32_t Tokenizer::vocab_size() const { return processor_->vocab_size(); }
int32_t Tokenizer::bos_id() const { return processor_->bos_id(); }
int32_t Tokenizer::eos_id() const { return processor_->eos_id(); }
int32_t Tokenizer::pad_id() const { return processor_->pad_id(); }

absl::StatusOr<int32_t> Tokenizer::IdentifierId(absl::string_view identifier) const {
  const std::vector<int32_t> ids = Encode(identifier);
  if (ids.size() == 1 && !processor_->IsUnknown(ids[0])) return ids[0];
  if (ids.size() == 2 && IdToPiece(ids[0]) == kWordStart && IdToPiece(ids[1]) == identifier) return ids[1];
  std::vector<std::string> pieces;
  for (int32_t id : ids) pieces.push_back(absl::StrCat("'", IdToPiece(id), "'"));
  return UserError(absl::StatusCode::kInvalidArgument,
                   absl::StrCat("prompt identifier '", identifier, "' is not one token of tokenizer ", name_,
                                ": it encodes to ", ids.size(), " pieces [", absl::StrJoin(pieces, " "), "]"),
                   "choose prompt.identifiers that are single tokens of this model (A..T are for LLaMA-2 "
                   "and for the models `alro convert` trains)");
}

absl::StatusOr<std::vector<int32_t>> Tokenizer::IdentifierIds(const std::vector<std::string>& identifiers) const {
  std::vector<int32_t> out;
  std::set<int32_t> seen;
  for (const std::string& identifier : identifiers) {
    ALRO_ASSIGN_OR_RETURN(int32_t id, IdentifierId(identifier));
    if (!seen.insert(id).second) {
      return InvalidArgument(absl::StrCat("prompt identifier '", identifier, "' maps to token ", id,
                                          " like an earlier identifier"),
                             "make prompt.identifiers distinct");
    }
    out.push_back(id);
  }
  return out;
}

absl::StatusOr<std::string> TrainTokenizer(const std::vector<std::string>& sentences,
                                           const TokenizerTrainingOptions& options) {
  for (const std::string& s : options.user_defined_symbols) {
    if (s.empty() || s.find(',') != std::string::npos || s.find(' ') != std::string::npos) {
      return InvalidArgument(absl::StrCat("tokenizer symbol '", s, "' is empty or contains a comma or space"),
                             "use identifiers without commas or spaces");
    }
  }
  if (sentences.empty()) {
    return InvalidArgument("no text to train the tokenizer on", "the data set has no item titles");
  }
  spm::TrainOptions spm_options;
  spm_options.vocab_size = options.vocab_size;
  spm_options.model_type = options.model_type;
  spm_options.character_coverage = options.character_coverage;
  spm_options.user_defined_symbols = options.user_defined_symbols;
  std::string model;
  std::string log;
  ALRO_ASSIGN_OR_RETURN(spm::Backend * backend, Backend());
  if (std::string error = backend->Train(sentences, spm_options, &model, &log); !error.empty()) {
    std::string tail = log.size() > 2000 ? log.substr(log.size() - 2000) : log;
    return UserError(absl::StatusCode::kInvalidArgument,
                     absl::StrCat("SentencePiece training failed: ", error, "\n", tail),
                     "lower --vocab-size (a small data set has few distinct pieces) or check the titles");
  }
  return model;
}

}  // namespace alro::data
