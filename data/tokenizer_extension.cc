// data/tokenizer_extension.cc: new pieces encoded as ModelProto field 1
// entries and appended to the serialized model (see the header for why).
#include "data/tokenizer_extension.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "data/tokenizer.h"

namespace alro::data {
namespace {

// Protobuf wire types.
constexpr uint32_t kWireFixed32 = 5;
constexpr uint32_t kWireLengthDelimited = 2;
constexpr uint32_t kWireVarint = 0;
// ModelProto.pieces, and SentencePiece's fields piece / score / type.
constexpr uint32_t kModelPiecesField = 1;
constexpr uint32_t kPieceTextField = 1;
constexpr uint32_t kPieceScoreField = 2;
constexpr uint32_t kPieceTypeField = 3;
// ModelProto.SentencePiece.Type.USER_DEFINED.
constexpr uint64_t kUserDefinedType = 4;
// The score SentencePiece's trainer gives user-defined symbols.
constexpr float kUserDefinedScore = 0.0f;

void PutVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void PutTag(uint32_t field, uint32_t wire_type, std::string* out) { PutVarint((field << 3) | wire_type, out); }

void PutBytes(uint32_t field, const std::string& bytes, std::string* out) {
  PutTag(field, kWireLengthDelimited, out);
  PutVarint(bytes.size(), out);
  out->append(bytes);
}

// One ModelProto.pieces entry.
std::string EncodePiece(const std::string& piece) {
  std::string body;
  PutBytes(kPieceTextField, piece, &body);
  PutTag(kPieceScoreField, kWireFixed32, &body);
  uint32_t bits = 0;
  static_assert(sizeof(bits) == sizeof(kUserDefinedScore));
  std::memcpy(&bits, &kUserDefinedScore, sizeof(bits));
  for (int i = 0; i < 4; ++i) body.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));  // little-endian
  PutTag(kPieceTypeField, kWireVarint, &body);
  PutVarint(kUserDefinedType, &body);
  std::string entry;
  PutBytes(kModelPiecesField, body, &entry);
  return entry;
}

}  // namespace

absl::StatusOr<std::string> AppendUserDefinedPieces(const std::string& model, const std::string& name,
                                                    const std::vector<std::string>& pieces) {
  ALRO_ASSIGN_OR_RETURN(std::shared_ptr<const Tokenizer> base, Tokenizer::FromSerialized(model, name));
  std::string out = model;
  for (const std::string& piece : pieces) {
    const bool blank = std::any_of(piece.begin(), piece.end(), [](char c) { return absl::ascii_isspace(c); });
    if (piece.empty() || blank) {
      return InvalidArgument(absl::StrCat("piece '", piece, "' to add to tokenizer ", name,
                                          " is empty or contains whitespace"),
                             "item token pieces are <item_k> and <item_other>");
    }
    if (base->PieceToId(piece) >= 0) {
      return UserError(absl::StatusCode::kAlreadyExists,
                       absl::StrCat("tokenizer ", name, " already has piece '", piece, "' (id ",
                                    base->PieceToId(piece), ")"),
                       "pass the pretrained model's own tokenizer, not one that already has item tokens");
    }
    out += EncodePiece(piece);
  }
  // The extended model must load and give each new piece its id.
  ALRO_ASSIGN_OR_RETURN(std::shared_ptr<const Tokenizer> grown,
                        Tokenizer::FromSerialized(out, absl::StrCat(name, " + ", pieces.size(), " pieces")));
  const int32_t first = base->vocab_size();
  if (grown->vocab_size() != first + static_cast<int32_t>(pieces.size())) {
    return absl::InternalError(absl::StrCat("tokenizer ", name, " extended by ", pieces.size(), " pieces has ",
                                            grown->vocab_size(), " pieces, expected ", first + pieces.size()));
  }
  for (size_t k = 0; k < pieces.size(); ++k) {
    const int32_t id = first + static_cast<int32_t>(k);
    if (grown->PieceToId(pieces[k]) != id || grown->IdentifierId(pieces[k]).value_or(-1) != id) {
      return absl::InternalError(absl::StrCat("tokenizer ", name, " extended by '", pieces[k],
                                              "': the piece does not encode to its new id ", id));
    }
  }
  return out;
}

}  // namespace alro::data
