// launch/cmd_eval.cc: `alro eval`: ranking metrics of a checkpoint on a data split.
#include "launch/command_util.h"
#include "launch/commands.h"

namespace alro::launch {

int RunEval(int argc, char** argv) {
  cli::CommandLine command_line("alro eval --config X.yaml --checkpoint DIR", "ranking metrics of a checkpoint on a data split.");
  if (int code = ParseOrExit(command_line, argc, argv); code >= 0) return code;
  return NotImplemented("eval");
}

}  // namespace alro::launch
