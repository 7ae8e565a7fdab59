// core/lora.h: LoRA (low-rank adaptation, Hu et al. 2021) settings and the
// dropout its adapters apply to their input.
//
// A targeted projection computes y = W x + (alpha / r) B A dropout(x) with
// A [r, in] and B [out, r]; B starts at zero so training starts from the base
// model. The adapters are sharded like their base weight (see
// core/parallel_linear.h): a column-parallel W splits B by rows, a
// row-parallel W splits A by columns.
#pragma once

#include <cstdint>
#include <string>

#include <ATen/ATen.h>

#include "config/config.h"

namespace alro::core {

/// LoRA settings of one linear; rank 0 means no adapter.
struct LoraSpec {
  int64_t rank = 0;
  double alpha = 0.0;
  double dropout = 0.0;

  bool enabled() const { return rank > 0; }
  /// alpha / rank, the factor applied to B A x.
  double scale() const { return rank > 0 ? alpha / static_cast<double>(rank) : 0.0; }
};

/// The adapter settings for the projection called `projection` ("q_proj",
/// ...): the configured spec when LoRA is enabled and `projection` is one of
/// its targets, else a disabled spec.
LoraSpec LoraSpecFor(const config::LoraConfig& lora, const std::string& projection);

/// Inverted dropout of `x` with probability `p`, drawing the mask from
/// `generator`. The decoder gives every tensor-parallel rank a generator with
/// the same seed, so ranks that hold the same (replicated) input draw the same
/// mask and the sharded model stays equal to the unsharded one. Identity when
/// not training or p == 0.
at::Tensor LoraDropout(const at::Tensor& x, double p, bool training, at::Generator generator);

}  // namespace alro::core
