// distributed/tensor_parallel.h: Megatron-LM's tensor-parallel region
// operators, as autograd functions over the tensor-parallel communicator.
//
// A column-parallel linear is y_local = Copy(x) W_local^T; a row-parallel
// linear is y = Reduce(x_local W_local^T). Copy and Reduce are conjugate: the
// forward of one is the backward of the other, so the two collectives per
// MLP/attention block appear once in forward and once in backward.
//
// With tp.size() == 1 every operator is the identity in both directions (no
// copy, no communication).
#pragma once

#include <ATen/ATen.h>

#include "distributed/communicator.h"

namespace alro::dist {

/// Identity forward; all-reduce (sum) of the gradient backward. Put it where
/// a replicated activation enters a column-parallel layer.
at::Tensor CopyToTensorParallelRegion(const at::Tensor& x, Communicator& tp);

/// All-reduce (sum) forward; identity backward. Put it after a row-parallel
/// layer whose ranks each hold a partial sum.
at::Tensor ReduceFromTensorParallelRegion(const at::Tensor& x, Communicator& tp);

/// All-gather along the last dimension forward (result has tp.size() times
/// the last dimension); backward keeps this rank's slice of the gradient.
at::Tensor GatherFromTensorParallelRegion(const at::Tensor& x, Communicator& tp);

/// Keeps this rank's slice of the last dimension forward (which must divide
/// by tp.size()); all-gathers the gradient backward.
at::Tensor ScatterToTensorParallelRegion(const at::Tensor& x, Communicator& tp);

}  // namespace alro::dist
