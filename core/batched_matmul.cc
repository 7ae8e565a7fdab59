// core/batched_matmul.cc: BatchedMatmul and LinearProduct (see
// batched_matmul.h): a strided walk over the batch calling the process's
// gemm (core/cblas.h) per matrix, and the backward
//   dA = dC @ B^T,   dB = A^T @ dC
// through the same kernel (the transposes are flags, not copies). A linear
// layer's x @ W^T is one such product over all rows of x.
#include "core/batched_matmul.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "common/status.h"
#include "core/cblas.h"
#include "core/fused_ops.h"

namespace alro::core {
namespace {

// How the last two dimensions of a tensor lie in memory: a row-major matrix
// with leading dimension `ld`, or (transposed) the row-major transpose of one.
struct MatrixLayout {
  bool transposed = false;
  int64_t ld = 0;
};

std::optional<MatrixLayout> LayoutOf(const at::Tensor& t) {
  const int64_t rows = t.size(-2), cols = t.size(-1);
  const int64_t row_stride = t.stride(-2), col_stride = t.stride(-1);
  // A dimension of size 1 has no meaningful stride: any ld >= the other
  // dimension is valid for BLAS.
  if (col_stride == 1 || cols == 1) {
    const int64_t ld = rows == 1 ? std::max<int64_t>(cols, 1) : row_stride;
    if (ld >= std::max<int64_t>(cols, 1)) return MatrixLayout{false, ld};
  }
  if (row_stride == 1 || rows == 1) {
    const int64_t ld = cols == 1 ? std::max<int64_t>(rows, 1) : col_stride;
    if (ld >= std::max<int64_t>(rows, 1)) return MatrixLayout{true, ld};
  }
  return std::nullopt;
}

// Element offsets of each matrix of `t`'s batch (all dimensions but the
// last two), in row-major batch order.
std::vector<int64_t> BatchOffsets(const at::Tensor& t) {
  const int64_t dims = t.dim() - 2;
  std::vector<int64_t> offsets(1, 0);
  for (int64_t d = 0; d < dims; ++d) {
    std::vector<int64_t> next;
    next.reserve(offsets.size() * static_cast<size_t>(t.size(d)));
    for (int64_t base : offsets) {
      for (int64_t i = 0; i < t.size(d); ++i) next.push_back(base + i * t.stride(d));
    }
    offsets = std::move(next);
  }
  return offsets;
}

template <typename scalar_t>
void RunGemms(const at::Tensor& a, MatrixLayout la, const at::Tensor& b, MatrixLayout lb, at::Tensor& c) {
  const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
  const std::vector<int64_t> a_off = BatchOffsets(a), b_off = BatchOffsets(b);
  const scalar_t* ap = a.data_ptr<scalar_t>();
  const scalar_t* bp = b.data_ptr<scalar_t>();
  scalar_t* cp = c.data_ptr<scalar_t>();
  const int64_t batch = static_cast<int64_t>(a_off.size());
  // Enough matrices per task that a thread's share outweighs its start.
  const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(1, m * n * k));
  at::parallel_for(0, batch, grain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      cblas::Gemm(la.transposed, lb.transposed, m, n, k, scalar_t(1), ap + a_off[i], la.ld, bp + b_off[i], lb.ld,
                  scalar_t(0), cp + i * m * n, std::max<int64_t>(n, 1));
    }
  });
}

// a @ b, returned in `shape` when given: a shape holding the product's
// elements in the same row-major order (a linear layer's [..., N] for its
// [rows, N] product), so that no view of the result is handed out.
at::Tensor DirectProduct(const at::Tensor& a_in, const at::Tensor& b_in,
                         c10::optional<at::IntArrayRef> shape = c10::nullopt) {
  ALRO_CHECK(a_in.dim() >= 2 && a_in.dim() == b_in.dim(), "BatchedMatmul: a and b need the same rank >= 2, got ",
             a_in.dim(), " and ", b_in.dim());
  ALRO_CHECK(a_in.sizes().slice(0, a_in.dim() - 2) == b_in.sizes().slice(0, b_in.dim() - 2) &&
                 a_in.size(-1) == b_in.size(-2),
             "BatchedMatmul: shapes ", c10::str(a_in.sizes()), " and ", c10::str(b_in.sizes()), " do not multiply");
  ALRO_CHECK(a_in.scalar_type() == b_in.scalar_type(), "BatchedMatmul: dtypes differ");
  const int64_t n = b_in.size(-1);
  std::vector<int64_t> out_shape(a_in.sizes().begin(), a_in.sizes().end());
  out_shape.back() = n;
  at::Tensor result = at::empty(shape ? *shape : at::IntArrayRef(out_shape), a_in.options());
  at::Tensor c = result.view(out_shape);
  if (c.numel() == 0) return result;
  if (a_in.size(-1) == 0) return result.zero_();
  // Operands with an odd inner layout (neither dimension contiguous) are
  // copied once; the attention's operands never are.
  std::optional<MatrixLayout> la = LayoutOf(a_in), lb = LayoutOf(b_in);
  const at::Tensor a = la ? a_in : a_in.contiguous();
  const at::Tensor b = lb ? b_in : b_in.contiguous();
  if (!la) la = LayoutOf(a);
  if (!lb) lb = LayoutOf(b);
  if (a.scalar_type() == at::kFloat) {
    RunGemms<float>(a, *la, b, *lb, c);
  } else {
    RunGemms<double>(a, *la, b, *lb, c);
  }
  return result;
}

class BatchedMatmulFunction : public torch::autograd::Function<BatchedMatmulFunction> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& a, const at::Tensor& b) {
    // Named in profiles (the forward of a custom Function is no operator).
    RECORD_FUNCTION("alro::batched_matmul", c10::ArrayRef<const c10::IValue>{});
    ctx->save_for_backward({a, b});
    return DirectProduct(a, b);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const torch::autograd::variable_list saved = ctx->get_saved_variables();
    const at::Tensor& a = saved[0];
    const at::Tensor& b = saved[1];
    const at::Tensor& grad = grads[0];
    at::Tensor grad_a, grad_b;
    if (ctx->needs_input_grad(0)) grad_a = DirectProduct(grad, b.transpose(-1, -2));
    if (ctx->needs_input_grad(1)) {
      // In b's own layout (b is often k transposed): the gradient then
      // reaches b's producer row-major, not as a transposed view.
      const std::optional<MatrixLayout> lb = LayoutOf(b);
      grad_b = lb && lb->transposed ? DirectProduct(grad.transpose(-1, -2), a).transpose(-1, -2)
                                    : DirectProduct(a.transpose(-1, -2), grad);
    }
    return {grad_a, grad_b};
  }
};

// x [..., K] @ w [N, K]^T as one product over all rows of x, with x, the
// output and x's gradient in their own shapes. Why not BatchedMatmul on
// x.reshape(-1, K) and a view of its result: that is two more autograd
// nodes per linear, and x's gradient would arrive as a view. Where x feeds
// several linears (q, k and v; gate and up), LibTorch 2.x adds the other
// gradients into a fresh one in place, never into a view
// (can_accumulate_inplace in its input_buffer.cpp); 1.13 adds out of place
// either way.
class LinearFunction : public torch::autograd::Function<LinearFunction> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w) {
    RECORD_FUNCTION("alro::linear", c10::ArrayRef<const c10::IValue>{});
    ctx->save_for_backward({x, w});
    std::vector<int64_t> out_shape(x.sizes().begin(), x.sizes().end());
    out_shape.back() = w.size(0);
    return DirectProduct(x.reshape({-1, x.size(-1)}), w.t(), at::IntArrayRef(out_shape));
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const torch::autograd::variable_list saved = ctx->get_saved_variables();
    const at::Tensor& x = saved[0];
    const at::Tensor& w = saved[1];
    const at::Tensor grad_rows = grads[0].reshape({-1, w.size(0)});
    at::Tensor grad_x, grad_w;
    if (ctx->needs_input_grad(0)) grad_x = DirectProduct(grad_rows, w, x.sizes());
    // dW = dY^T x, [N, K] like w.
    if (ctx->needs_input_grad(1)) grad_w = DirectProduct(grad_rows.t(), x.reshape({-1, x.size(-1)}));
    return {grad_x, grad_w};
  }
};

// x [..., K] @ w_i [N_i, K]^T for several weights that read the same x (q,
// k and v; gate and up), as one node: each output is its own product, and
// x's gradient sum_i dY_i w_i is accumulated by the gemm itself (beta = 1)
// into one fresh tensor. Separate LinearFunctions would each hand x a
// gradient, and LibTorch 1.13's autograd adds those out of place: one pass
// and one allocation per extra consumer. Float32 and double go to the
// direct gemm; other dtypes (bf16) to ATen's mm and addmm_ (oneDNN).
class LinearGroupFunction : public torch::autograd::Function<LinearGroupFunction> {
 public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x,
                                                at::TensorList ws) {
    RECORD_FUNCTION("alro::linear_group", c10::ArrayRef<const c10::IValue>{});
    std::vector<at::Tensor> saved{x};
    saved.insert(saved.end(), ws.begin(), ws.end());
    ctx->save_for_backward(saved);
    const at::Tensor rows = x.reshape({-1, x.size(-1)});
    std::vector<int64_t> out_shape(x.sizes().begin(), x.sizes().end());
    torch::autograd::variable_list out;
    for (const at::Tensor& w : ws) {
      out_shape.back() = w.size(0);
      if (IsDirectDtype(x)) {
        out.push_back(DirectProduct(rows, w.t(), at::IntArrayRef(out_shape)));
      } else {
        at::Tensor y = at::empty(out_shape, x.options());
        at::Tensor y_rows = y.view({-1, w.size(0)});
        at::mm_out(y_rows, rows, w.t());
        out.push_back(y);
      }
    }
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const torch::autograd::variable_list saved = ctx->get_saved_variables();
    const at::Tensor& x = saved[0];
    const int64_t k = x.size(-1);
    const at::Tensor x_rows = x.reshape({-1, k});
    torch::autograd::variable_list out(saved.size());
    at::Tensor grad_x;
    for (size_t i = 0; i + 1 < saved.size(); ++i) {
      if (!grads[i].defined()) continue;
      const at::Tensor& w = saved[i + 1];
      const at::Tensor grad_rows = grads[i].reshape({-1, w.size(0)}).contiguous();
      if (ctx->needs_input_grad(0)) {
        const bool first = !grad_x.defined();
        if (first) grad_x = at::empty(x.sizes(), x.options());
        AccumulateProduct(grad_rows, w.contiguous(), first, grad_x.view({-1, k}));  // dX (+)= dY_i W_i
      }
      // dW_i = dY_i^T x, [N_i, K] like w.
      if (ctx->needs_input_grad(i + 1)) {
        out[i + 1] = IsDirectDtype(x) ? DirectProduct(grad_rows.t(), x_rows) : at::mm(grad_rows.t(), x_rows);
      }
    }
    if (ctx->needs_input_grad(0)) out[0] = grad_x.defined() ? grad_x : at::zeros_like(x);
    return out;
  }

 private:
  static bool IsDirectDtype(const at::Tensor& t) {
    return t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble;
  }

  // c = a @ b (overwrite) or c += a @ b; a [m, n], b [n, k], c [m, k], all
  // row-major and dense.
  static void AccumulateProduct(const at::Tensor& a, const at::Tensor& b, bool overwrite, at::Tensor&& c) {
    if (!IsDirectDtype(c)) {
      if (overwrite) {
        at::mm_out(c, a, b);
      } else {
        c.addmm_(a, b);
      }
      return;
    }
    const int64_t m = a.size(0), n = a.size(1), k = b.size(1);
    AT_DISPATCH_FLOATING_TYPES(c.scalar_type(), "LinearGroupBackward", [&] {
      cblas::Gemm(false, false, m, k, n, scalar_t(1), a.data_ptr<scalar_t>(), n, b.data_ptr<scalar_t>(), k,
                  scalar_t(overwrite ? 0 : 1), c.data_ptr<scalar_t>(), k);
    });
  }
};

void CheckDirectInputs(const at::Tensor& a, const char* caller) {
  ALRO_CHECK(cblas::Available(), caller, ": no CBLAS gemm is loaded in this process");
  ALRO_CHECK(a.device().is_cpu() && (a.scalar_type() == at::kFloat || a.scalar_type() == at::kDouble), caller,
             ": CPU float32 or double only, got ", c10::str(a.scalar_type()), " on ", a.device().str());
}

// Whether BatchedMatmul and LinearProduct take the direct gemm.
bool UseDirect(const at::Tensor& a, const at::Tensor& b) {
  return FusedKernelsEnabled() && a.device().is_cpu() && b.device().is_cpu() && a.scalar_type() == b.scalar_type() &&
         (a.scalar_type() == at::kFloat || a.scalar_type() == at::kDouble) && cblas::Available();
}

}  // namespace

bool CblasGemmAvailable() { return cblas::Available(); }

at::Tensor BatchedMatmulDirect(const at::Tensor& a, const at::Tensor& b) {
  CheckDirectInputs(a, "BatchedMatmulDirect");
  return BatchedMatmulFunction::apply(a, b);
}

at::Tensor BatchedMatmul(const at::Tensor& a, const at::Tensor& b) {
  return UseDirect(a, b) ? BatchedMatmulDirect(a, b) : at::matmul(a, b);
}

at::Tensor LinearProduct(const at::Tensor& x, const at::Tensor& w) {
  ALRO_CHECK(w.dim() == 2 && x.dim() >= 1 && x.size(-1) == w.size(1), "LinearProduct: x ", c10::str(x.sizes()),
             " does not multiply weight ", c10::str(w.sizes()), "^T");
  if (!UseDirect(x, w) || x.dim() < 2) return at::matmul(x, w.t());
  CheckDirectInputs(x, "LinearProduct");
  return LinearFunction::apply(x, w);
}

std::vector<at::Tensor> LinearProducts(const at::Tensor& x, at::TensorList ws) {
  ALRO_CHECK(!ws.empty(), "LinearProducts: no weights");
  bool grouped = FusedKernelsEnabled() && x.device().is_cpu() && x.dim() >= 2 && x.numel() > 0 &&
                 (cblas::Available() || (x.scalar_type() != at::kFloat && x.scalar_type() != at::kDouble));
  for (const at::Tensor& w : ws) {
    ALRO_CHECK(w.dim() == 2 && x.dim() >= 1 && x.size(-1) == w.size(1), "LinearProducts: x ", c10::str(x.sizes()),
               " does not multiply weight ", c10::str(w.sizes()), "^T");
    grouped = grouped && w.device().is_cpu() && w.scalar_type() == x.scalar_type();
  }
  if (!grouped) {
    // LibTorch 2.x accumulates x's gradients in place anyway.
    std::vector<at::Tensor> out;
    for (const at::Tensor& w : ws) out.push_back(LinearProduct(x, w));
    return out;
  }
  const torch::autograd::variable_list out = LinearGroupFunction::apply(x, ws);
  return std::vector<at::Tensor>(out.begin(), out.end());
}

}  // namespace alro::core
