// common/torch_compat.h: the single place where LibTorch version differences
// are absorbed. alro builds against Debian's LibTorch 1.13 (CPU) and against
// the LibTorch 2.x that GPU clusters run; code outside this header uses only
// APIs that are the same in both, or the aliases below.
//
// Header-only and free of <torch/torch.h>: it includes the narrow version
// header, so including it costs nothing.
#pragma once

#include <torch/csrc/api/include/torch/version.h>

#include <optional>

#include <c10/util/Optional.h>

/// True when compiling against LibTorch 2.0 or newer.
#define ALRO_TORCH_2 (TORCH_VERSION_MAJOR >= 2)

namespace alro::compat {

/// torch's optional type: c10::optional in 1.13, an alias of std::optional in
/// 2.x. Signatures that pass optionals to torch use this name.
template <typename T>
using Optional = c10::optional<T>;

/// c10::nullopt works in both versions (std::nullopt only in 2.x).
inline constexpr auto kNullopt = c10::nullopt;

/// "1.13.0"-style version string of the LibTorch this binary was built with.
inline const char* TorchVersionString() { return TORCH_VERSION; }

}  // namespace alro::compat
