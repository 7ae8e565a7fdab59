// core/rotary_embedding.h: rotary position embedding (RoPE, Su et al. 2021)
// in the "rotate half" layout of Hugging Face's LLaMA, so checkpoints in HF
// layout (whose q/k rows are permuted for it) load unchanged.
//
// For a head vector x = [x1, x2] (two halves of head_dim/2) at position p:
//   rope(x) = [x1 cos - x2 sin, x2 cos + x1 sin],  angle_i = p * theta^(-2i/d).
#pragma once

#include <cstdint>

#include <ATen/ATen.h>

namespace alro::core {

/// Precomputed cos/sin tables for positions [0, max_positions).
class RotaryEmbedding {
 public:
  /// Tables computed in double on the CPU, stored in float32 on `device`.
  RotaryEmbedding(int64_t head_dim, int64_t max_positions, double theta, c10::Device device);

  /// Rotates x [B, T, heads, head_dim] whose token t sits at position
  /// start + t. The result is heads first, [B, heads, T, head_dim] (the
  /// layout attention multiplies in), in x's dtype.
  at::Tensor Apply(const at::Tensor& x, int64_t start) const;

  /// Rotates x [B, T, heads, head_dim] whose token (b, t) sits at position
  /// positions[b][t] (int64 [B, T], each in [0, max_positions)): rows that
  /// pack several sequences, each branch at the positions it has alone.
  /// Heads first, as the other form.
  at::Tensor Apply(const at::Tensor& x, const at::Tensor& positions) const;

  int64_t max_positions() const { return max_positions_; }

 private:
  int64_t head_dim_, max_positions_;
  at::Tensor cos_, sin_;  // [max_positions, head_dim/2] float32
};

}  // namespace alro::core
