// distributed/tensor_parallel.cc: the four tensor-parallel region operators
// as torch::autograd::Function subclasses (Megatron-core's mappings.py).
//
// The communicator travels through the autograd context as a pointer stored
// in saved_data; it must outlive the graph (ProcessGrid owns it for the whole
// job).
#include "distributed/tensor_parallel.h"

#include <torch/csrc/autograd/custom_function.h>

#include <cstdint>

#include "common/status.h"

namespace alro::dist {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

constexpr const char* kCommKey = "tp_comm";

void SaveComm(AutogradContext* ctx, Communicator* tp) {
  ctx->saved_data[kCommKey] = static_cast<int64_t>(reinterpret_cast<intptr_t>(tp));
}
Communicator& LoadComm(AutogradContext* ctx) {
  return *reinterpret_cast<Communicator*>(static_cast<intptr_t>(ctx->saved_data[kCommKey].toInt()));
}

// An all-reduced (sum) copy; the input, which autograd may still use, is left alone.
at::Tensor AllReducedCopy(const at::Tensor& x, Communicator& tp) {
  at::Tensor out = x.clone(at::MemoryFormat::Contiguous);
  tp.AllReduce(out, ReduceOp::kSum);
  return out;
}

// This rank's slice of the last dimension, which must divide by tp.size().
at::Tensor LocalSliceOfLastDim(const at::Tensor& x, Communicator& tp) {
  const int64_t full = x.size(-1);
  ALRO_CHECK(full % tp.size() == 0, "last dimension ", full, " does not divide by tensor_parallel ", tp.size());
  const int64_t local = full / tp.size();
  return x.narrow(-1, tp.rank() * local, local).contiguous();
}

struct CopyToRegion : public torch::autograd::Function<CopyToRegion> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, Communicator* tp) {
    SaveComm(ctx, tp);
    return x;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    return {AllReducedCopy(grads[0], LoadComm(ctx)), at::Tensor()};
  }
};

struct ReduceFromRegion : public torch::autograd::Function<ReduceFromRegion> {
  static at::Tensor forward(AutogradContext*, const at::Tensor& x, Communicator* tp) {
    return AllReducedCopy(x, *tp);
  }
  static variable_list backward(AutogradContext*, variable_list grads) { return {grads[0], at::Tensor()}; }
};

struct GatherFromRegion : public torch::autograd::Function<GatherFromRegion> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, Communicator* tp) {
    SaveComm(ctx, tp);
    return tp->AllGather(x, -1);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    return {LocalSliceOfLastDim(grads[0], LoadComm(ctx)), at::Tensor()};
  }
};

struct ScatterToRegion : public torch::autograd::Function<ScatterToRegion> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, Communicator* tp) {
    SaveComm(ctx, tp);
    return LocalSliceOfLastDim(x, *tp);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    return {LoadComm(ctx).AllGather(grads[0], -1), at::Tensor()};
  }
};

}  // namespace

at::Tensor CopyToTensorParallelRegion(const at::Tensor& x, Communicator& tp) {
  if (tp.size() == 1) return x;
  return CopyToRegion::apply(x, &tp);
}

at::Tensor ReduceFromTensorParallelRegion(const at::Tensor& x, Communicator& tp) {
  if (tp.size() == 1) return x;
  return ReduceFromRegion::apply(x, &tp);
}

at::Tensor GatherFromTensorParallelRegion(const at::Tensor& x, Communicator& tp) {
  if (tp.size() == 1) return x;
  return GatherFromRegion::apply(x, &tp);
}

at::Tensor ScatterToTensorParallelRegion(const at::Tensor& x, Communicator& tp) {
  if (tp.size() == 1) return x;
  return ScatterToRegion::apply(x, &tp);
}

}  // namespace alro::dist
