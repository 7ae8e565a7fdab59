// launch/command_util.h: what every subcommand does the same way: parse its
// flags (printing --help) and turn the Status of its work into an exit code
// (`return ReportStatus("eval", Eval(command_line, argc, argv));`).
#pragma once

#include <string>

#include "absl/status/status.h"
#include "launch/cli.h"

namespace alro::launch {

/// Exit codes shared by all subcommands.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;      ///< the work failed (bad data, I/O)
inline constexpr int kExitUsage = 2;        ///< bad flags or configuration

/// Parses the command line. Returns -1 to continue, or the exit code to
/// return now (0 after printing --help, kExitUsage after a parse error).
int ParseOrExit(cli::CommandLine& command_line, int argc, char** argv);

/// Prints "alro <command>: <message>" for a non-OK status and returns the
/// exit code (kExitUsage for invalid arguments, else kExitFailure).
int ReportStatus(const std::string& command, const absl::Status& status);

}  // namespace alro::launch
