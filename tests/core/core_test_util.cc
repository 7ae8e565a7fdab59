// tests/core/core_test_util.cc: helpers shared by core_tests.
#include "tests/core/core_test_util.h"

#include <cstdlib>
#include <cstring>

#include <ATen/CPUGeneratorImpl.h>

#include "common/status.h"

namespace alro::core::testing {

config::ModelConfig SmallTestModel() {
  config::ModelConfig m;
  m.preset = "custom";
  m.vocab_size = 251;
  m.hidden_size = 64;
  m.intermediate_size = 96;
  m.num_layers = 2;
  m.num_heads = 8;
  m.num_kv_heads = 4;
  m.max_seq_len = 64;
  m.init_std = 0.1;
  m.rms_norm_eps = 1e-5;
  m.seed = 1234;
  return m;
}

void EnableLoraOnEveryProjection(config::ModelConfig* m) {
  m->lora.enabled = true;
  m->lora.rank = 4;
  m->lora.alpha = 8.0;
  m->lora.targets = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
}

dist::ProcessGrid WorldGrid(int64_t tensor_parallel) {
  absl::StatusOr<dist::ProcessGrid> grid = dist::ProcessGrid::Create(MPI_COMM_WORLD, tensor_parallel);
  ALRO_CHECK_OK(grid.status());
  return std::move(grid).value();
}

at::Tensor FullLogits(Decoder& model, const at::Tensor& hidden) {
  const at::Tensor local = model.LocalLogits(hidden).detach();
  const int64_t last = local.dim() - 1;
  return model.grid().tp().AllGather(local.contiguous(), last).narrow(last, 0, model.config().vocab_size);
}

at::Tensor RandomTokens(int64_t batch, int64_t length, int64_t vocab, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  return at::randint(vocab, {batch, length}, gen, at::TensorOptions().dtype(at::kLong));
}

void RandomizeParameters(Decoder& model, const std::string& substring, double std, uint64_t seed) {
  at::NoGradGuard no_grad;
  for (const ShardedParameter& p : model.ShardedParameters()) {
    if (p.name.find(substring) == std::string::npos) continue;
    at::Generator gen = at::detail::createCPUGenerator(seed + std::hash<std::string>()(p.name));
    const at::Tensor full = at::normal(0.0, std, p.global_shape, gen);
    if (p.split_dim < 0) {
      p.tensor.copy_(full);
    } else {
      const int64_t n = p.valid_length();
      p.tensor.narrow(p.split_dim, 0, n).copy_(full.narrow(p.split_dim, p.offset, n));
    }
  }
}

std::string SharedTempDir() {
  constexpr int kMaxPath = 256;
  char path[kMaxPath] = {0};
  if (WorldRank() == 0) {
    std::strncpy(path, "/tmp/alro_core_test_XXXXXX", kMaxPath - 1);
    ALRO_CHECK(mkdtemp(path) != nullptr, "mkdtemp failed");
  }
  MPI_Bcast(path, kMaxPath, MPI_CHAR, 0, MPI_COMM_WORLD);
  return path;
}

double MaxAbsDiff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

}  // namespace alro::core::testing
