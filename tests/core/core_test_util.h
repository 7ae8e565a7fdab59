// tests/core/core_test_util.h: shared helpers of core_tests: small model
// shapes, grids over MPI_COMM_WORLD, full-vocabulary logits for comparisons,
// and a temporary directory every rank agrees on.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "config/config.h"
#include "core/decoder.h"
#include "distributed/process_grid.h"
#include "tests/support/mpi_world.h"

namespace alro::core::testing {

/// A model small enough for 4 oversubscribed ranks that still splits at
/// tp 1, 2 and 4: 8 query heads, 4 key/value heads (GQA groups of 2), and a
/// vocabulary of 251 so tp 2 and 4 pad it.
config::ModelConfig SmallTestModel();

/// Turns on LoRA (rank 4, alpha 8) on every projection of `m`: the adapter
/// setup the LoRA, tensor-parallel and bf16 tests share.
void EnableLoraOnEveryProjection(config::ModelConfig* m);

/// MPI world size / rank (tests/support/mpi_world.h).
using ::alro::testing::WorldRank;
using ::alro::testing::WorldSize;

/// A grid over MPI_COMM_WORLD with the given tensor-parallel size.
dist::ProcessGrid WorldGrid(int64_t tensor_parallel);

/// The full-vocabulary logits [..., vocab_size] of `hidden`: the tp shards of
/// LocalLogits gathered, padding dropped (for comparisons only).
at::Tensor FullLogits(Decoder& model, const at::Tensor& hidden);

/// Deterministic random tokens [batch, length] in [0, vocab).
at::Tensor RandomTokens(int64_t batch, int64_t length, int64_t vocab, uint64_t seed);

/// Sets every parameter whose name contains `substring` to this rank's slice
/// of a full tensor drawn from N(0, std) with `seed` (same on every tp size).
void RandomizeParameters(Decoder& model, const std::string& substring, double std, uint64_t seed);

/// A fresh directory created by world rank 0 and broadcast to all ranks.
std::string SharedTempDir();

/// max |a - b|.
double MaxAbsDiff(const at::Tensor& a, const at::Tensor& b);

}  // namespace alro::core::testing
