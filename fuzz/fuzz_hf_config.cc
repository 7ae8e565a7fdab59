// fuzz/fuzz_hf_config.cc: a Hugging Face config.json. A config that parses
// must describe a consistent decoder (heads divide the width, kv heads divide
// the heads), and the config.json alro writes for it must parse to the same
// shape.
#include <cstdint>

#include "core/hf_config.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace alro;
  absl::StatusOr<core::HfModelShape> shape = core::ParseHfConfig(fuzz::AsString(data, size), "fuzz/config.json");
  if (!shape.ok()) return 0;
  const config::ModelConfig& m = shape->model;
  fuzz::Expect(m.hidden_size % m.num_heads == 0 && m.num_heads % m.num_kv_heads == 0, "inconsistent heads");
  absl::StatusOr<core::HfModelShape> again = core::ParseHfConfig(core::HfConfigJson(m, "float32").dump(), "again");
  fuzz::Expect(again.ok(), "alro's own config.json does not parse: " + std::string(again.status().message()));
  fuzz::Expect(again->model.num_heads == m.num_heads && again->model.vocab_size == m.vocab_size &&
                   again->model.rope_theta == m.rope_theta && again->model.max_seq_len == m.max_seq_len,
               "config.json round trip changed the shape");
  return 0;
}
