// common/status.h: error-handling conventions used across alro.
//
// Every I/O and configuration boundary returns absl::Status or
// absl::StatusOr<T>. A user-facing error says what went wrong, where (file,
// key, record), and what to do about it; the last part is a "HINT:" line:
//
//   return alro::UserError(absl::StatusCode::kNotFound,
//                          absl::StrCat("data.dir: ", dir, " does not exist"),
//                          "run `alro convert` first or fix data.dir");
//
// Internal invariants (programming errors, never user input) use ALRO_CHECK,
// which prints the source file:line and ends the process through the fatal
// handler; the distributed module installs one that aborts every rank.
#pragma once

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace alro {

/// Builds a Status whose message is `what` followed by "\n  HINT: hint".
/// Use it for every error a user can cause and fix.
absl::Status UserError(absl::StatusCode code, absl::string_view what, absl::string_view hint = {});

/// Shorthand for UserError(kInvalidArgument, ...).
absl::Status InvalidArgument(absl::string_view what, absl::string_view hint = {});

/// Returns `status` with `context: ` prepended to its message (same code).
/// Use it when passing an error up through a layer that knows more about where.
absl::Status Annotate(const absl::Status& status, absl::string_view context);

/// A function called by ALRO_CHECK / FatalError before the process ends.
/// The default prints the message and calls std::abort(); the distributed
/// module replaces it with one that aborts every rank (MPI_Abort).
using FatalHandler = void (*)(const std::string& message);

/// Installs `handler` process-wide; returns the previous one.
FatalHandler SetFatalHandler(FatalHandler handler);

/// Reports `message` and ends the job through the installed fatal handler.
/// Use it only where no caller can recover (a failed collective, a broken
/// invariant); user errors travel as Status instead.
[[noreturn]] void FatalError(const std::string& message);

/// Ends the job with `status`'s message if it is not OK (for main()s and
/// places where a Status cannot be returned, such as autograd callbacks).
void CheckOk(const absl::Status& status, const char* file, int line);

}  // namespace alro

#define ALRO_STATUS_CONCAT_INNER_(a, b) a##b
#define ALRO_STATUS_CONCAT_(a, b) ALRO_STATUS_CONCAT_INNER_(a, b)

/// Returns from the enclosing function if `expr` yields a non-OK Status.
#define ALRO_RETURN_IF_ERROR(expr)                   \
  do {                                               \
    ::absl::Status alro_status_ = (expr);            \
    if (!alro_status_.ok()) return alro_status_;     \
  } while (0)

/// `ALRO_ASSIGN_OR_RETURN(auto x, MaybeX());` declares x from an OK StatusOr
/// or returns its error.
#define ALRO_ASSIGN_OR_RETURN(lhs, expr) \
  ALRO_ASSIGN_OR_RETURN_IMPL_(ALRO_STATUS_CONCAT_(alro_statusor_, __LINE__), lhs, expr)
#define ALRO_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()

/// Ends the job (through the fatal handler) if `cond` is false. For
/// invariants of alro's own code, never for checking user input.
#define ALRO_CHECK(cond, ...)                                                         \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      ::alro::FatalError(::absl::StrCat(__FILE__, ":", __LINE__, ": check failed: ", \
                                        #cond, " ", ##__VA_ARGS__));                  \
    }                                                                                 \
  } while (0)

/// Ends the job if `status_expr` is not OK, naming this source line.
#define ALRO_CHECK_OK(status_expr) ::alro::CheckOk((status_expr), __FILE__, __LINE__)
