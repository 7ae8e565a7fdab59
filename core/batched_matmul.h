// core/batched_matmul.h: attention's batched matrix products without
// LibTorch 1.13's per-matrix overhead.
//
// Why: on the CPU, LibTorch 1.13's bmm (and matmul on 3-D and 4-D inputs)
// multiplies a batch of matrices by looping over it with three select()
// views, a conjugation check and a dispatch per matrix. Attention multiplies
// batch x kv_heads small matrices twice forward and four times backward, and
// for the demo's model that overhead was about half of bmm's time in the
// profile (`alro train --profile-steps`, docs/performance.md). Here the
// batch is walked with raw strides and each matrix goes straight to the
// process's CBLAS gemm (OpenBLAS under Debian's LibTorch), transposed views
// included, with no copies and no per-matrix tensors.
//
// It is used when the inputs are float32 or double CPU tensors and a CBLAS
// gemm is loaded in the process (found at run time, so nothing links
// against a particular BLAS); otherwise, and with ALRO_FUSED_KERNELS=0 (core/fused_ops.h), it
// is at::matmul. Results equal at::matmul's up to the summation order of
// the BLAS kernel.
#pragma once

#include <ATen/ATen.h>

namespace alro::core {

/// a [..., M, K] @ b [..., K, N] -> [..., M, N] with identical batch
/// dimensions (no broadcasting); differentiable in both inputs. Any strides
/// work; inputs whose last two dimensions are a row-major matrix or the
/// transpose of one (k.transpose(-1, -2)) are read in place.
at::Tensor BatchedMatmul(const at::Tensor& a, const at::Tensor& b);

/// The direct CBLAS form of BatchedMatmul, always (the test compares it
/// with at::matmul). Requires CblasGemmAvailable() and CPU float32 or double
/// inputs.
at::Tensor BatchedMatmulDirect(const at::Tensor& a, const at::Tensor& b);

/// True when the process has a CBLAS sgemm and dgemm (looked up once).
bool CblasGemmAvailable();

}  // namespace alro::core
