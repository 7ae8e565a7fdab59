// core/fused_answer_readout.cc: FusedAnswerReadout (see the header): the
// answer slots' cross-entropy and identifier logits in one pass per row, and
// one backward that writes the logits' gradient once.
//
// Per row x of R rows (acc = float32 for float32/bf16/half, double for double):
//   forward:  lmax = max x, lsum = sum exp(x - lmax)      (one pass, in L1)
//             gmax = all-reduce max of lmax; sum = all-reduce sum of
//             lsum * exp(lmax - gmax) ; t = x[target] - gmax on the owning rank
//             nll = log(sum) - t (0 for an ignored target)
//             identifier_logits[j] = x[id_j] on the owning rank (all-reduce sum)
//   backward: dx[v] = exp(x[v] - gmax) / sum * g_nll - [v == target] * g_nll
//                     + sum over j with id_j == v of g_ident[j]
// The kernels are cloned per ISA (ALRO_VECTOR_CLONES, core/fused_math.h).
#include "core/fused_answer_readout.h"

#include <limits>
#include <vector>

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/custom_function.h>

#include "common/status.h"
#include "core/fused_math.h"

namespace alro::core {
namespace {

// Column index in this rank's shard, or -1 where the id is another rank's
// (or, for targets, ignored).
at::Tensor LocalColumns(const at::Tensor& global_ids, int64_t vocab_start, int64_t shard_size) {
  const at::Tensor local = global_ids - vocab_start;
  const at::Tensor mine = (global_ids >= 0).logical_and(local >= 0).logical_and(local < shard_size);
  return at::where(mine, local, at::full_like(local, -1)).contiguous();
}

// Forward of rows [begin, end): the local maximum and exp-sum, the raw target
// logit (0 where the target column is not here) and the identifier logits
// (0 where the id is not here).
template <typename scalar_t>
ALRO_VECTOR_CLONES void ReadoutForwardRows(const scalar_t* xp, int64_t vs, const int64_t* target_col,
                                           const int64_t* id_col, int64_t m, at::opmath_type<scalar_t>* lmax,
                                           at::opmath_type<scalar_t>* lsum, at::opmath_type<scalar_t>* target_raw,
                                           scalar_t* ident, int64_t begin, int64_t end) {
  using acc_t = at::opmath_type<scalar_t>;
  const acc_t neg_inf = -std::numeric_limits<acc_t>::infinity();
  const int64_t padded = fused_math::PaddedWidth(vs);
  std::vector<acc_t> buf(static_cast<size_t>(padded));
  for (int64_t row = begin; row < end; ++row) {
    const scalar_t* __restrict xr = xp + row * vs;
    acc_t* __restrict b = buf.data();
    for (int64_t v = 0; v < vs; ++v) b[v] = static_cast<acc_t>(xr[v]);
    for (int64_t v = vs; v < padded; ++v) b[v] = neg_inf;
    const acc_t mx = fused_math::MaxPadded(b, padded);
    lmax[row] = mx;
    // A shard row of -inf only (vocabulary padding) adds nothing to the sum
    // under any finite global maximum; exp(-inf - -inf) would be NaN.
    lsum[row] = mx == neg_inf ? acc_t(0) : fused_math::ExpShiftedSumPadded(b, padded, mx);
    const int64_t t = target_col[row];
    target_raw[row] = t >= 0 ? static_cast<acc_t>(xr[t]) : acc_t(0);
    for (int64_t j = 0; j < m; ++j) {
      const int64_t c = id_col[row * m + j];
      ident[row * m + j] = c >= 0 ? xr[c] : scalar_t(0);
    }
  }
}

// Backward of rows [begin, end) into dx (the logits' dtype), through a
// row buffer in the accumulation type so that the target's and the
// identifiers' terms are added before the one rounding.
template <typename scalar_t>
ALRO_VECTOR_CLONES void ReadoutBackwardRows(const scalar_t* xp, int64_t vs, const at::opmath_type<scalar_t>* gmax,
                                            const at::opmath_type<scalar_t>* sum, const int64_t* target_col,
                                            const int64_t* id_col, int64_t m, const at::opmath_type<scalar_t>* g_nll,
                                            const scalar_t* g_ident, scalar_t* dxp, int64_t begin, int64_t end) {
  using acc_t = at::opmath_type<scalar_t>;
  std::vector<acc_t> buf(static_cast<size_t>(vs));
  for (int64_t row = begin; row < end; ++row) {
    const scalar_t* __restrict xr = xp + row * vs;
    acc_t* __restrict b = buf.data();
    const int64_t t = target_col[row];
    // An ignored target (t = -1 on every rank) has g_nll already zeroed.
    const acc_t scale = g_nll[row];
    const acc_t coef = scale / sum[row];
    const acc_t shift = gmax[row];
    for (int64_t v = 0; v < vs; ++v) b[v] = fused_math::Exp(static_cast<acc_t>(xr[v]) - shift) * coef;
    if (t >= 0) b[t] -= scale;
    for (int64_t j = 0; j < m; ++j) {
      const int64_t c = id_col[row * m + j];
      if (c >= 0) b[c] += static_cast<acc_t>(g_ident[row * m + j]);
    }
    scalar_t* __restrict dxr = dxp + row * vs;
    for (int64_t v = 0; v < vs; ++v) dxr[v] = fused_math::RoundTo<scalar_t>(b[v]);
  }
}

class AnswerReadoutFunction : public torch::autograd::Function<AnswerReadoutFunction> {
 public:
  // logits [R, Vs]; target_col [R], id_col [R, m]: LocalColumns; valid [R] bool.
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, const at::Tensor& logits,
                                                const at::Tensor& target_col, const at::Tensor& id_col,
                                                const at::Tensor& valid, dist::Communicator* tp) {
    RECORD_FUNCTION("alro::answer_readout_fused", c10::ArrayRef<const c10::IValue>{});
    const int64_t rows = logits.size(0), vs = logits.size(1), m = id_col.size(1);
    const at::ScalarType acc = logits.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
    const at::TensorOptions acc_options = logits.options().dtype(acc);
    at::Tensor lmax = at::empty({rows}, acc_options);
    at::Tensor lsum = at::empty({rows}, acc_options);
    at::Tensor target_raw = at::empty({rows}, acc_options);
    at::Tensor ident = at::empty({rows, m}, logits.options());
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, logits.scalar_type(), "FusedAnswerReadout", [&] {
      using acc_t = at::opmath_type<scalar_t>;
      const scalar_t* xp = logits.data_ptr<scalar_t>();
      const int64_t* tc = target_col.data_ptr<int64_t>();
      const int64_t* ic = id_col.data_ptr<int64_t>();
      acc_t* mxp = lmax.data_ptr<acc_t>();
      acc_t* smp = lsum.data_ptr<acc_t>();
      acc_t* trp = target_raw.data_ptr<acc_t>();
      scalar_t* idp = ident.data_ptr<scalar_t>();
      at::parallel_for(0, rows, fused_math::RowGrain(vs), [&](int64_t begin, int64_t end) {
        ReadoutForwardRows<scalar_t>(xp, vs, tc, ic, m, mxp, smp, trp, idp, begin, end);
      });
    });

    at::Tensor gmax = lmax;
    at::Tensor sums;  // row 0: target logit - gmax, row 1: sum of exp(x - gmax)
    const at::Tensor here = target_col >= 0;
    if (tp->size() == 1) {
      sums = at::stack({(target_raw - gmax).masked_fill(~here, 0.0), lsum});
    } else {
      gmax = lmax.clone();
      tp->AllReduce(gmax, dist::ReduceOp::kMax);
      // exp(lmax - gmax) <= 1; a rank with no finite logit in a row has lsum 0.
      const at::Tensor rescaled = at::where(lsum > 0, lsum * at::exp(lmax - gmax), at::zeros_like(lsum));
      sums = at::stack({(target_raw - gmax).masked_fill(~here, 0.0), rescaled});
      tp->AllReduce(sums, dist::ReduceOp::kSum);
      tp->AllReduce(ident, dist::ReduceOp::kSum);
    }
    const at::Tensor sum_exp = sums[1].contiguous();
    const at::Tensor nll = (at::log(sum_exp) - sums[0]).masked_fill(~valid, 0.0);
    ctx->save_for_backward({logits, gmax, sum_exp, target_col, id_col, valid});
    return {nll, ident};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& logits = saved[0];
    const at::Tensor& gmax = saved[1];
    const at::Tensor& sum_exp = saved[2];
    const at::Tensor& target_col = saved[3];
    const at::Tensor& id_col = saved[4];
    const at::Tensor& valid = saved[5];
    const int64_t rows = logits.size(0), vs = logits.size(1), m = id_col.size(1);
    // Undefined gradients arrive as zeros (the Function materialises them).
    const at::Tensor g_nll = (grads[0].to(gmax.scalar_type()) * valid.to(gmax.scalar_type())).contiguous();
    const at::Tensor g_ident = grads[1].to(logits.scalar_type()).contiguous();
    at::Tensor dx = at::empty_like(logits);
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, logits.scalar_type(), "FusedAnswerReadoutBackward", [&] {
      using acc_t = at::opmath_type<scalar_t>;
      const scalar_t* xp = logits.data_ptr<scalar_t>();
      const acc_t* gm = gmax.data_ptr<acc_t>();
      const acc_t* sm = sum_exp.data_ptr<acc_t>();
      const int64_t* tc = target_col.data_ptr<int64_t>();
      const int64_t* ic = id_col.data_ptr<int64_t>();
      const acc_t* gn = g_nll.data_ptr<acc_t>();
      const scalar_t* gi = g_ident.data_ptr<scalar_t>();
      scalar_t* dxp = dx.data_ptr<scalar_t>();
      at::parallel_for(0, rows, fused_math::RowGrain(vs), [&](int64_t begin, int64_t end) {
        ReadoutBackwardRows<scalar_t>(xp, vs, gm, sm, tc, ic, m, gn, gi, dxp, begin, end);
      });
    });
    return {dx, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

AnswerReadout FusedAnswerReadout(const at::Tensor& local_logits, const at::Tensor& targets,
                                 const at::Tensor& identifier_ids, int64_t vocab_start, dist::Communicator& tp) {
  ALRO_CHECK(local_logits.dim() == 2 && targets.dim() == 1 && identifier_ids.dim() == 2 &&
                 targets.size(0) == local_logits.size(0) && identifier_ids.size(0) == local_logits.size(0),
             "FusedAnswerReadout wants local_logits [R, Vs], targets [R] and identifier_ids [R, m], got ",
             c10::str(local_logits.sizes()), ", ", c10::str(targets.sizes()), " and ",
             c10::str(identifier_ids.sizes()));
  ALRO_CHECK(local_logits.device().is_cpu(), "FusedAnswerReadout is a CPU kernel; logits are on ",
             local_logits.device().str());
  const int64_t shard_size = local_logits.size(1);
  const at::Tensor target_ids = targets.to(at::kLong);
  const at::Tensor target_col = LocalColumns(target_ids, vocab_start, shard_size);
  const at::Tensor id_col = LocalColumns(identifier_ids.to(at::kLong), vocab_start, shard_size);
  const at::Tensor valid = target_ids >= 0;
  const auto outputs = AnswerReadoutFunction::apply(local_logits.contiguous(), target_col, id_col, valid, &tp);
  return {outputs[0], outputs[1]};
}

}  // namespace alro::core
