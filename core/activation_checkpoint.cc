// core/activation_checkpoint.cc: a custom autograd function that recomputes
// its body in backward.
#include "core/activation_checkpoint.h"

#include <mutex>

#include <ATen/core/ivalue.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>

namespace alro::core {
namespace {

// What the backward needs besides the saved input; travels in the autograd
// context as an IValue capsule.
struct CheckpointClosure : torch::CustomClassHolder {
  CheckpointedFunction fn;
  at::Generator rng;
  at::Tensor rng_state;  // rng's state before the forward (undefined without rng)
};

class CheckpointFunction : public torch::autograd::Function<CheckpointFunction> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x,
                            c10::intrusive_ptr<CheckpointClosure> closure) {
    if (closure->rng.defined()) {
      std::lock_guard<std::mutex> lock(closure->rng.mutex());
      closure->rng_state = closure->rng.get_state();
    }
    ctx->save_for_backward({x});
    at::Tensor y = closure->fn(x);  // grad mode is off inside forward
    ctx->saved_data["closure"] = c10::IValue::make_capsule(std::move(closure));
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    auto closure = c10::static_intrusive_pointer_cast<CheckpointClosure>(ctx->saved_data["closure"].toCapsule());
    const at::Tensor x = ctx->get_saved_variables()[0].detach().requires_grad_(true);
    at::Tensor current_state;
    if (closure->rng.defined()) {
      std::lock_guard<std::mutex> lock(closure->rng.mutex());
      current_state = closure->rng.get_state();
      closure->rng.set_state(closure->rng_state);
    }
    at::Tensor y;
    {
      at::AutoGradMode enable_grad(true);
      y = closure->fn(x);
    }
    if (closure->rng.defined()) {
      std::lock_guard<std::mutex> lock(closure->rng.mutex());
      closure->rng.set_state(current_state);
    }
    // Accumulates into the parameters' .grad and into x.grad.
    torch::autograd::backward({y}, {grad_outputs[0]});
    return {x.grad(), at::Tensor()};
  }
};

}  // namespace

at::Tensor CheckpointedForward(const CheckpointedFunction& fn, const at::Tensor& x, at::Generator rng) {
  auto closure = c10::make_intrusive<CheckpointClosure>();
  closure->fn = fn;
  closure->rng = std::move(rng);
  return CheckpointFunction::apply(x, std::move(closure));
}

}  // namespace alro::core
