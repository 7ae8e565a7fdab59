// data/tokenizer_extension.h: appends user-defined pieces to an existing
// SentencePiece model (item tokens for a pretrained model's tokenizer,
// docs/data.md "Item tokens").
//
// Why at the wire level: Debian's libsentencepiece-dev installs no
// sentencepiece_model.pb.h, and compiling our own ModelProto against the
// system protobuf inside the alro_spm module would bring back the symbol
// clash that module exists to avoid (data/sentencepiece_backend.h). A
// ModelProto's pieces are its repeated field 1, and protobuf parsers append
// the elements of a repeated field in the order they occur anywhere in the
// message, so encoding new field-1 entries after the existing bytes appends
// pieces with the next ids and leaves every existing id and setting as it is.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace alro::data {

/// The bytes of SentencePiece model `model` (its .model file; `name` names it
/// in errors) with `pieces` appended as USER_DEFINED pieces: ids V, V+1, ...
/// where V is the model's size, so every existing id keeps its piece. Fails
/// when a piece is empty, contains whitespace, or is already in the model,
/// and checks the result by loading it: each new piece must get its id and
/// encode to itself.
absl::StatusOr<std::string> AppendUserDefinedPieces(const std::string& model, const std::string& name,
                                                    const std::vector<std::string>& pieces);

}  // namespace alro::data
