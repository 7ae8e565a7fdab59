// core/pretrained_shape.h: with model.pretrained, the checkpoint's
// config.json defines the model's architecture, as Hugging Face's
// from_pretrained does.
//
// For each shape key (vocab_size, hidden_size, intermediate_size, num_layers,
// num_heads, num_kv_heads, max_seq_len, rope_theta, rms_norm_eps,
// tie_embeddings): a value the job's configuration leaves unset is taken from
// the checkpoint; a value it sets (in the file, with --set, or through an
// explicit model.preset) must equal the checkpoint's, else the job stops with
// an error naming both values and both files. max_seq_len is a limit: a
// configuration may use shorter sequences than max_position_embeddings, never
// longer ones.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "config/config.h"
#include "config/config_io.h"

namespace alro::core {

/// One shape key of the resolved model and where its value came from.
struct ShapeValue {
  std::string key;     ///< "model.num_heads"
  std::string value;   ///< "4"
  std::string source;  ///< "configs/x.yaml:7", "/m/config.json (num_attention_heads)", "default", ...
};

/// Resolves the shape keys of *model against model->pretrained's config.json
/// (when model->pretrained is set and `read_checkpoint`), using `origins`
/// (from config::ParseConfig) to tell set keys from unset ones. Returns every
/// shape key with its source, for the plan `alro train --dry-run` prints. All
/// contradictions are reported together.
absl::StatusOr<std::vector<ShapeValue>> ResolveModelShape(const config::ConfigOrigins& origins,
                                                          bool read_checkpoint, config::ModelConfig* model);

/// For a configuration already resolved (the trainer's check at start): every
/// shape key must agree with model.pretrained's config.json. OK when
/// model.pretrained is empty.
absl::Status CheckPretrainedShape(const config::ModelConfig& model);

}  // namespace alro::core
