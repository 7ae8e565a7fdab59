// config/model_size.h: parameter and FLOP counts of a decoder shape, used for
// the job plan, throughput (model-FLOPs utilisation) and benchmarks.
#pragma once

#include <cstdint>

#include "config/config.h"

namespace alro::config {

/// Number of trainable parameters of the full (unsharded) decoder, without LoRA.
int64_t ParameterCount(const ModelConfig& model);

/// Parameters of the LoRA adapters alone (0 when LoRA is disabled).
int64_t LoraParameterCount(const ModelConfig& model);

/// Training FLOPs per token for sequences of `seq_len` tokens:
/// 6 x (non-embedding parameters + LM head) + the attention score terms
/// (12 x layers x hidden x seq_len, causal halves included as in PaLM's MFU).
double TrainingFlopsPerToken(const ModelConfig& model, int64_t seq_len);

}  // namespace alro::config
