// core/rms_norm.cc: the RMSNorm module; the arithmetic is core/fused_ops.h's
// RmsNorm (a fused kernel on CPU, the composite elsewhere).
#include "core/rms_norm.h"

#include "core/fused_ops.h"

namespace alro::core {

RMSNorm::RMSNorm(int64_t hidden_size, double eps, c10::Device device) : eps_(eps) {
  weight_ = register_parameter("weight", at::ones({hidden_size}, at::TensorOptions().device(device)));
}

at::Tensor RMSNorm::Forward(const at::Tensor& x) {
  // Hugging Face's LlamaRMSNorm: float32 statistics, cast back, then scale.
  return RmsNorm(x, weight_, eps_);
}

ResidualNormed RMSNorm::ForwardResidual(const at::Tensor& x, const at::Tensor& delta) {
  return ResidualRmsNorm(x, delta, weight_, eps_);
}

}  // namespace alro::core
