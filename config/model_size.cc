// config/model_size.cc: closed-form sizes of the LLaMA-family decoder.
#include "config/model_size.h"

#include <algorithm>

namespace alro::config {
namespace {

int64_t HeadDim(const ModelConfig& m) { return m.hidden_size / std::max<int64_t>(1, m.num_heads); }

// q, k, v, o and the three MLP projections: (in, out) of each.
struct Projection {
  const char* name;
  int64_t in, out;
};

void ForEachProjection(const ModelConfig& m, void (*fn)(const Projection&, void*), void* ctx) {
  const int64_t kv = m.num_kv_heads * HeadDim(m);
  const Projection projections[] = {
      {"q_proj", m.hidden_size, m.hidden_size},     {"k_proj", m.hidden_size, kv},
      {"v_proj", m.hidden_size, kv},                {"o_proj", m.hidden_size, m.hidden_size},
      {"gate_proj", m.hidden_size, m.intermediate_size}, {"up_proj", m.hidden_size, m.intermediate_size},
      {"down_proj", m.intermediate_size, m.hidden_size},
  };
  for (const Projection& p : projections) fn(p, ctx);
}

}  // namespace

int64_t ParameterCount(const ModelConfig& m) {
  int64_t per_layer = 2 * m.hidden_size;  // two RMSNorm weights
  ForEachProjection(m, [](const Projection& p, void* ctx) { *static_cast<int64_t*>(ctx) += p.in * p.out; },
                    &per_layer);
  const int64_t embedding = m.vocab_size * m.hidden_size;
  const int64_t head = m.tie_embeddings ? 0 : m.vocab_size * m.hidden_size;
  return embedding + m.num_layers * per_layer + m.hidden_size /*final norm*/ + head;
}

int64_t LoraParameterCount(const ModelConfig& m) {
  if (!m.lora.enabled) return 0;
  struct Ctx {
    const ModelConfig* m;
    int64_t total;
  } ctx{&m, 0};
  ForEachProjection(
      m,
      [](const Projection& p, void* raw) {
        auto* c = static_cast<Ctx*>(raw);
        for (const std::string& t : c->m->lora.targets)
          if (t == p.name) c->total += c->m->lora.rank * (p.in + p.out);
      },
      &ctx);
  return ctx.total * m.num_layers;
}

double TrainingFlopsPerToken(const ModelConfig& m, int64_t seq_len) {
  // The input embedding is a lookup (no FLOPs); the LM head is a matmul.
  // With tied weights the one matrix is the head, so nothing is subtracted.
  const double matmul_params =
      static_cast<double>(ParameterCount(m) - (m.tie_embeddings ? 0 : m.vocab_size * m.hidden_size));
  const double dense = 6.0 * matmul_params;
  const double attention = 12.0 * static_cast<double>(m.num_layers * m.hidden_size * seq_len);
  return dense + attention;
}

}  // namespace alro::config
