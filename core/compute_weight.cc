// core/compute_weight.cc: the cast-once table and its autograd function.
#include "core/compute_weight.h"

#include <atomic>
#include <mutex>
#include <unordered_map>

#include <c10/core/InferenceMode.h>
#include <c10/util/intrusive_ptr.h>
#include <torch/csrc/autograd/custom_function.h>

namespace alro::core {
namespace {

std::atomic<int64_t> g_casts{0};
std::atomic<bool> g_caching{true};

// One master's copy. The weak reference tells a live master from a freed one
// whose address was reused.
struct Entry {
  c10::weak_intrusive_ptr<c10::TensorImpl> master;
  const void* data = nullptr;
  int64_t version = -1;
  at::Tensor copy;  // detached, in the compute dtype
};

struct Table {
  std::mutex mu;
  std::unordered_map<const c10::TensorImpl*, Entry> entries;
};

Table& GetTable() {
  static Table* table = new Table();  // never destroyed: used until exit
  return *table;
}

// The cached copy travels as a non-tensor argument so that autograd does not
// treat it as an input (it has no graph; the master, or route, is the input).
struct CachedCopy {
  at::Tensor tensor;
};

// Identity in value from the master to its cached cast; backward casts the
// gradient to the master's dtype, as the autograd of `master.to(dtype)` does.
class UseCachedCast : public torch::autograd::Function<UseCachedCast> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& master, CachedCopy copy) {
    ctx->saved_data["dtype"] = master.scalar_type();
    // A new tensor object over the cached storage: autograd attaches this
    // call's node to it, never to the shared copy. Nothing writes to the
    // cached storage (a recast allocates anew), so saved copies stay valid.
    return copy.tensor.detach();
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const at::ScalarType dtype = ctx->saved_data["dtype"].toScalarType();
    const at::Tensor& grad = grad_outputs[0];
    return {grad.defined() ? grad.to(dtype) : at::Tensor(), at::Tensor()};
  }
};

// The copy of `master` in `dtype`, cast now if the table has none or a stale
// one.
at::Tensor CachedCast(const at::Tensor& master, at::ScalarType dtype) {
  Table& table = GetTable();
  const c10::TensorImpl* impl = master.unsafeGetTensorImpl();
  const void* data = master.data_ptr();
  const int64_t version = master._version();
  std::lock_guard<std::mutex> lock(table.mu);
  auto it = table.entries.find(impl);
  if (it != table.entries.end() && !it->second.master.expired() && it->second.data == data &&
      it->second.version == version && it->second.copy.scalar_type() == dtype) {
    return it->second.copy;
  }
  // A miss: first use, a changed master, or a new model (whose predecessors'
  // copies are dropped here, so a freed model's copies do not linger).
  for (auto e = table.entries.begin(); e != table.entries.end();) {
    e = e->second.master.expired() ? table.entries.erase(e) : std::next(e);
  }
  at::Tensor copy;
  {
    at::NoGradGuard no_grad;
    // A fresh tensor, never an in-place refill: graphs still alive (a
    // backward after an optimizer step) keep the copy they were built on.
    copy = master.detach().to(dtype);
  }
  g_casts.fetch_add(1, std::memory_order_relaxed);
  table.entries.insert_or_assign(
      impl, Entry{c10::weak_intrusive_ptr<c10::TensorImpl>(master.getIntrusivePtr()), data, version, copy});
  return copy;
}

}  // namespace

at::Tensor ComputeWeight(const at::Tensor& master, at::ScalarType dtype, const at::Tensor& route) {
  const at::Tensor& source = route.defined() ? route : master;
  if (master.scalar_type() == dtype) return source;
  // Tensors made under InferenceMode cannot enter autograd later, and
  // inference tensors have no version counter: cast per use there.
  if (!g_caching.load(std::memory_order_relaxed) || c10::InferenceMode::is_enabled() || master.is_inference()) {
    g_casts.fetch_add(1, std::memory_order_relaxed);
    return source.to(dtype);
  }
  const at::Tensor copy = CachedCast(master, dtype);
  if (!source.requires_grad() || !at::GradMode::is_enabled()) return copy.detach();
  return UseCachedCast::apply(source, CachedCopy{copy});
}

int64_t ComputeWeightCasts() { return g_casts.load(std::memory_order_relaxed); }

void SetComputeWeightCaching(bool enabled) { g_caching.store(enabled, std::memory_order_relaxed); }

}  // namespace alro::core
