// common/status.cc: UserError formatting and the process-wide fatal handler.
#include "common/status.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>

namespace alro {
namespace {

void DefaultFatalHandler(const std::string& message) {
  std::fprintf(stderr, "FATAL: %s\n", message.c_str());
  std::fflush(stderr);
  std::abort();
}

std::atomic<FatalHandler> g_fatal_handler{&DefaultFatalHandler};

}  // namespace

absl::Status UserError(absl::StatusCode code, absl::string_view what, absl::string_view hint) {
  if (hint.empty()) return absl::Status(code, what);
  return absl::Status(code, absl::StrCat(what, "\n  HINT: ", hint));
}

absl::Status InvalidArgument(absl::string_view what, absl::string_view hint) {
  return UserError(absl::StatusCode::kInvalidArgument, what, hint);
}

absl::Status Annotate(const absl::Status& status, absl::string_view context) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(context, ": ", status.message()));
}

FatalHandler SetFatalHandler(FatalHandler handler) { return g_fatal_handler.exchange(handler); }

void FatalError(const std::string& message) {
  g_fatal_handler.load()(message);
  std::abort();  // a handler must not return; make sure.
}

void CheckOk(const absl::Status& status, const char* file, int line) {
  if (status.ok()) return;
  FatalError(absl::StrCat(file, ":", line, ": ", status.ToString()));
}

}  // namespace alro
