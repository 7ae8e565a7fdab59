// launch/cmd_rank.cc: `alro rank`: rank candidates for JSONL requests.
#include "launch/command_util.h"
#include "launch/commands.h"

namespace alro::launch {

int RunRank(int argc, char** argv) {
  cli::CommandLine command_line("alro rank --checkpoint DIR --input requests.jsonl", "rank candidates for JSONL requests.");
  if (int code = ParseOrExit(command_line, argc, argv); code >= 0) return code;
  return NotImplemented("rank");
}

}  // namespace alro::launch
