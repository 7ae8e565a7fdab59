// core/compute_weight.h: the compute-dtype (bf16) copy of a float32 master
// weight, made once per change of the master instead of once per use.
//
// Mixed precision as large trainers do it: the optimizer owns float32 master
// weights and state; the forward and backward run on a bf16 copy. Casting in
// every matmul repeats the cast for every micro-batch and every
// activation-checkpoint recompute. ComputeWeight keeps one bf16 copy per
// master, keyed by the master's version counter (every in-place update, the
// optimizer's or a checkpoint load's, bumps it), and hands it out through an
// autograd function whose backward casts the gradient back to the master's
// dtype, so gradients accumulate into the float32 .grad as before.
//
// The copies live in one process-wide table keyed by the master's
// TensorImpl, as PyTorch's autocast keeps its weight-cast cache, but they
// survive across forwards until the master changes. An entry holds only a
// weak reference to its master; entries of freed masters are dropped at the
// next cast. Cost: one bf16 copy per cast weight (2 bytes per parameter),
// held between steps. With a float32 compute dtype it is a no-op.
//
//   at::Tensor y = at::matmul(x, ComputeWeight(weight_, x.scalar_type()).t());
#pragma once

#include <cstdint>

#include <ATen/ATen.h>

namespace alro::core {

/// `master` as `dtype`: `master` itself when the dtypes agree; otherwise the
/// cached copy (recast when the master changed since its last cast), with
/// gradients flowing back in the master's dtype. Writes to the master must go
/// through tensor ops (which bump its version), not through raw data_ptr.
/// `route`, when given, is where autograd sends the gradient instead of
/// `master`: a tensor equal to it in value, e.g. the master after
/// CopyToTensorParallelRegion, whose backward then all-reduces in the
/// master's dtype as before; with equal dtypes `route` itself is returned.
at::Tensor ComputeWeight(const at::Tensor& master, at::ScalarType dtype, const at::Tensor& route = at::Tensor());

/// Casts made by ComputeWeight in this process so far (one per cache miss;
/// with caching off, one per call). Tests and benchmarks count with it.
int64_t ComputeWeightCasts();

/// Turns caching off (`false`) or on (the default) for the whole process.
/// Off reproduces the per-use cast (`master.to(dtype)` in every call, as
/// autograd-tracked as before): the reference of the equivalence tests and
/// the "before" row of core_decoder_bench.
void SetComputeWeightCaching(bool enabled);

}  // namespace alro::core
