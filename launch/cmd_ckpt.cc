// launch/cmd_ckpt.cc: `alro ckpt`: inspect, reshard or export a checkpoint.
#include "launch/command_util.h"
#include "launch/commands.h"

namespace alro::launch {

int RunCkpt(int argc, char** argv) {
  cli::CommandLine command_line("alro ckpt inspect|reshard|export DIR", "inspect, reshard or export a checkpoint.");
  if (int code = ParseOrExit(command_line, argc, argv); code >= 0) return code;
  return NotImplemented("ckpt");
}

}  // namespace alro::launch
