// launch/command_util.cc: shared subcommand plumbing.
#include "launch/command_util.h"

#include <cstdio>

namespace alro::launch {

int ParseOrExit(cli::CommandLine& command_line, int argc, char** argv) {
  const absl::Status status = command_line.Parse(argc, argv);
  if (command_line.help_requested()) {
    std::fputs(command_line.Help().c_str(), stdout);
    return kExitOk;
  }
  if (!status.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(status.message()).c_str());
    return kExitUsage;
  }
  return -1;
}

int ReportStatus(const std::string& command, const absl::Status& status) {
  if (status.ok()) return kExitOk;
  std::fprintf(stderr, "alro %s: %s\n", command.c_str(), std::string(status.message()).c_str());
  return status.code() == absl::StatusCode::kInvalidArgument ? kExitUsage : kExitFailure;
}

}  // namespace alro::launch
