// core/batched_matmul.h: matrix products straight to the process's gemm:
// attention's batched products and the linear layers' x @ W^T, without
// LibTorch 1.13's per-matrix overhead or its choice of BLAS.
//
// Why: on the CPU, LibTorch 1.13's bmm (and matmul on 3-D and 4-D inputs)
// multiplies a batch of matrices by looping over it with three select()
// views, a conjugation check and a dispatch per matrix. Attention multiplies
// batch x kv_heads small matrices twice forward and four times backward, and
// for the demo's model that overhead was about half of bmm's time in the
// profile (`alro train --profile-steps`, docs/performance.md). Here the
// batch is walked with raw strides and each matrix goes straight to the
// process's gemm (core/cblas.h: OpenBLAS or oneDNN under Debian's LibTorch),
// transposed views included, with no copies and no per-matrix tensors. ATen
// sends every float32 mm to OpenBLAS; the linears' products run 1.1-1.5x
// faster on oneDNN's sgemm, which the same LibTorch has loaded.
//
// It is used when the inputs are float32 or double CPU tensors and a CBLAS
// gemm is loaded in the process (found at run time, so nothing links
// against a particular BLAS); otherwise, and with ALRO_FUSED_KERNELS=0 (core/fused_ops.h), it
// is at::matmul. Results equal at::matmul's up to the summation order of
// the BLAS kernel.
#pragma once

#include <vector>

#include <ATen/ATen.h>

namespace alro::core {

/// a [..., M, K] @ b [..., K, N] -> [..., M, N] with identical batch
/// dimensions (none for plain matrices; no broadcasting); differentiable in both inputs. Any strides
/// work; inputs whose last two dimensions are a row-major matrix or the
/// transpose of one (k.transpose(-1, -2)) are read in place.
at::Tensor BatchedMatmul(const at::Tensor& a, const at::Tensor& b);

/// x [..., K] @ w [N, K]^T -> [..., N], differentiable in both: a linear
/// layer's product. Float32 and double CPU inputs go to the process's gemm
/// as one matrix product over all rows of x (float32 to oneDNN's sgemm where
/// it is loaded and the product is large, core/cblas.h), with w's gradient
/// produced in w's own layout; everything else, and ALRO_FUSED_KERNELS=0, is
/// at::matmul(x, w.t()). Results equal at::matmul's up to the summation
/// order of the gemm.
at::Tensor LinearProduct(const at::Tensor& x, const at::Tensor& w);

/// LinearProduct(x, w) for each of `ws`, as one autograd node on CPU
/// tensors (float32 and double through the direct gemm, bf16 through ATen's
/// mm): use it for projections that read the same x (q, k and v; gate and
/// up). x's gradient is then summed by the gemm in place (LibTorch 1.13
/// would add the separate gradients out of place). Same results as separate
/// LinearProducts up to the summation order; separate LinearProducts on
/// other devices and under ALRO_FUSED_KERNELS=0.
std::vector<at::Tensor> LinearProducts(const at::Tensor& x, at::TensorList ws);

/// The direct CBLAS form of BatchedMatmul, always (the test compares it
/// with at::matmul). Requires CblasGemmAvailable() and CPU float32 or double
/// inputs.
at::Tensor BatchedMatmulDirect(const at::Tensor& a, const at::Tensor& b);

/// True when the process has a CBLAS sgemm and dgemm (looked up once).
bool CblasGemmAvailable();

}  // namespace alro::core
