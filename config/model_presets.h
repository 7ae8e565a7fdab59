// config/model_presets.h: the named model shapes of config key model.preset,
// in one list: ApplyModelPreset fills a ModelConfig from it, the
// configuration accepts exactly its names (plus "custom"), and ModelConfig's
// defaults are its first entry.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace alro::config {

/// One named shape.
struct ModelPreset {
  const char* name;
  int64_t vocab_size;
  int64_t hidden_size;
  int64_t intermediate_size;
  int64_t num_layers;
  int64_t num_heads;
  int64_t num_kv_heads;
  int64_t max_seq_len;
  double rope_theta;
  double rms_norm_eps;
};

/// Every preset; the first is the default shape of a ModelConfig.
inline constexpr ModelPreset kModelPresets[] = {
    {"tiny", 1024, 64, 176, 2, 4, 2, 1024, 10000.0, 1e-5},
    {"small", 2048, 256, 704, 4, 8, 4, 1024, 10000.0, 1e-5},
    {"llama2-7b", 32000, 4096, 11008, 32, 32, 32, 4096, 10000.0, 1e-5},
    {"llama3-8b", 128256, 4096, 14336, 32, 32, 8, 8192, 500000.0, 1e-5},
};

/// The preset that sets nothing: the keys given are the shape.
inline constexpr const char* kCustomPreset = "custom";

/// Every value model.preset accepts: the presets' names, then kCustomPreset.
inline constexpr auto kModelPresetChoices = [] {
  std::array<const char*, std::size(kModelPresets) + 1> names{};
  for (size_t i = 0; i < std::size(kModelPresets); ++i) names[i] = kModelPresets[i].name;
  names.back() = kCustomPreset;
  return names;
}();

/// The model keys a preset sets (without the "model." prefix), one per
/// shape field of ModelPreset.
inline constexpr const char* kModelPresetKeys[] = {"vocab_size", "hidden_size", "intermediate_size",
                                                   "num_layers", "num_heads",   "num_kv_heads",
                                                   "max_seq_len", "rope_theta", "rms_norm_eps"};

}  // namespace alro::config
