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
  // The mask is drawn on the CPU whatever x's device: the generator is a CPU
  // one (checkpointed by the trainer), and the masks, hence the losses, are
  // then the same on CPU and GPU runs.
  at::Tensor mask = at::empty(x.sizes(), at::TensorOptions().dtype(at::kFloat));
  mask.bernoulli_(keep, generator);
  return x * (mask / keep).to(x.device(), x.scalar_type());
}

}  // namespace alro::core
