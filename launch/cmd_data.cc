// launch/cmd_data.cc: `alro data`: inspect or verify a converted data set.
#include "launch/command_util.h"
#include "launch/commands.h"

namespace alro::launch {

int RunData(int argc, char** argv) {
  cli::CommandLine command_line("alro data inspect|verify DIR", "inspect or verify a converted data set.");
  if (int code = ParseOrExit(command_line, argc, argv); code >= 0) return code;
  return NotImplemented("data");
}

}  // namespace alro::launch
