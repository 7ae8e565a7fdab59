// core/rms_norm.cc: RMSNorm forward (autograd derives the backward).
#include "core/rms_norm.h"

namespace alro::core {

RMSNorm::RMSNorm(int64_t hidden_size, double eps, c10::Device device) : eps_(eps) {
  weight_ = register_parameter("weight", at::ones({hidden_size}, at::TensorOptions().device(device)));
}

at::Tensor RMSNorm::Forward(const at::Tensor& x) {
  // Hugging Face's LlamaRMSNorm: float32 statistics, cast back, then scale.
  const at::Tensor xf = x.to(at::kFloat);
  const at::Tensor normed = xf * at::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps_);
  return normed.to(x.scalar_type()) * weight_.to(x.scalar_type());
}

}  // namespace alro::core
