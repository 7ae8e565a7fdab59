// core/identifier_logits.cc: identifier logits across vocabulary shards.
#include "core/identifier_logits.h"

#include "common/status.h"
#include "core/decoder.h"
#include "distributed/tensor_parallel.h"

namespace alro::core {

at::Tensor IdentifierLogits(const at::Tensor& local_logits, const at::Tensor& identifier_ids, int64_t vocab_start,
                            dist::Communicator& tp) {
  ALRO_CHECK(local_logits.dim() == 2 && identifier_ids.dim() == 2 && local_logits.size(0) == identifier_ids.size(0),
             "IdentifierLogits wants local_logits [N, Vs] and identifier_ids [N, m]");
  const at::Tensor ids = identifier_ids.to(at::kLong);
  const at::Tensor local = ids - vocab_start;
  const at::Tensor mine = (local >= 0).logical_and(local < local_logits.size(1));
  const at::Tensor picked = local_logits.gather(1, at::where(mine, local, at::zeros_like(local)));
  // where (not a product) keeps -inf padding columns of other ranks' ids out.
  const at::Tensor partial = at::where(mine, picked, at::zeros_like(picked));
  return dist::ReduceFromTensorParallelRegion(partial, tp);
}

at::Tensor SlotIdentifierLogits(Decoder& model, const at::Tensor& hidden, const at::Tensor& answer_positions,
                                const at::Tensor& identifier_ids) {
  const int64_t b = hidden.size(0), h = hidden.size(2);
  const int64_t slots = answer_positions.size(1), m = identifier_ids.size(1);
  ALRO_CHECK(answer_positions.size(0) == b && identifier_ids.size(0) == b,
             "answer_positions [B, K] and identifier_ids [B, m] must match hidden's batch");
  const at::Tensor rows = (answer_positions.to(at::kLong) - 1).clamp_min(0);  // [B, K]
  const at::Tensor at_slots = hidden.gather(1, rows.unsqueeze(-1).expand({b, slots, h}));  // [B, K, H]
  const at::Tensor local = model.LocalLogits(at_slots.reshape({b * slots, h}));
  // Every slot k of list b scores the same m identifiers of list b.
  const at::Tensor ids = identifier_ids.to(at::kLong).unsqueeze(1).expand({b, slots, m}).reshape({b * slots, m});
  return IdentifierLogits(local, ids, model.vocab_start(), model.grid().tp()).view({b, slots, m});
}

}  // namespace alro::core
