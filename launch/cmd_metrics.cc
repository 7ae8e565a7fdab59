// launch/cmd_metrics.cc: `alro metrics`: ranking metrics of a rankings JSONL file.
#include "launch/command_util.h"
#include "launch/commands.h"

namespace alro::launch {

int RunMetrics(int argc, char** argv) {
  cli::CommandLine command_line("alro metrics --input rankings.jsonl", "ranking metrics of a rankings JSONL file.");
  if (int code = ParseOrExit(command_line, argc, argv); code >= 0) return code;
  return NotImplemented("metrics");
}

}  // namespace alro::launch
