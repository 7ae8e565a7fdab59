// launch/cmd_convert.cc: `alro convert`: convert rating logs to record shards.
#include "launch/command_util.h"
#include "launch/commands.h"

namespace alro::launch {

int RunConvert(int argc, char** argv) {
  cli::CommandLine command_line("alro convert --format FORMAT --input PATH --output DIR", "convert rating logs to record shards.");
  if (int code = ParseOrExit(command_line, argc, argv); code >= 0) return code;
  return NotImplemented("convert");
}

}  // namespace alro::launch
