// core/activation_checkpoint.h: activation checkpointing (Chen et al. 2016)
// for one function of one tensor, as PyTorch's reentrant
// torch.utils.checkpoint does it: the forward runs without recording a
// graph (so its activations are freed), and the backward runs it again with
// the graph recorded and back-propagates through it. Memory per layer drops
// to its input; compute rises by one forward.
//
// Collectives inside the function (tensor-parallel reductions) run again in
// the recomputation; every rank recomputes the same layers in the same order,
// so they still match. Dropout draws from `rng`, whose state is saved in the
// forward and restored for the recomputation, so both see the same masks.
#pragma once

#include <functional>

#include <ATen/ATen.h>

namespace alro::core {

/// A function of one tensor to recompute in backward (e.g. a decoder layer).
using CheckpointedFunction = std::function<at::Tensor(const at::Tensor&)>;

/// fn(x), recomputed in backward instead of kept. `x` must require grad (pass
/// x.detach().requires_grad_() otherwise) so that backward reaches the
/// parameters inside `fn`. `rng` may be undefined (no dropout inside).
at::Tensor CheckpointedForward(const CheckpointedFunction& fn, const at::Tensor& x, at::Generator rng);

}  // namespace alro::core
