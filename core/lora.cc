// core/lora.cc: LoRA target selection and input dropout.
#include "core/lora.h"

#include <algorithm>

namespace alro::core {

LoraSpec LoraSpecFor(const config::LoraConfig& lora, const std::string& projection) {
  if (!lora.enabled) return {};
  if (std::find(lora.targets.begin(), lora.targets.end(), projection) == lora.targets.end()) return {};
  return LoraSpec{lora.rank, lora.alpha, lora.dropout};
}

at::Tensor LoraDropout(const at::Tensor& x, double p, bool training, at::Generator generator) {
  if (!training || p <= 0.0) return x;
  const double keep = 1.0 - p;
  at::Tensor mask = at::empty(x.sizes(), x.options().requires_grad(false));
  mask.bernoulli_(keep, generator);
  return x * mask / keep;
}

}  // namespace alro::core
