// launch/cmd_data.cc: `alro data inspect|verify DIR`: describe a converted
// data set (counts per split, rating histogram, list lengths, one rendered
// prompt) or check every CRC and the manifest (data/inspect.h).
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "config/config_io.h"
#include "data/inspect.h"
#include "launch/command_util.h"
#include "launch/commands.h"

namespace alro::launch {

int RunData(int argc, char** argv) {
  cli::CommandLine cl("alro data inspect|verify DIR", "inspect or verify a converted data set.");
  cl.Positional("action", "inspect (describe the data set) or verify (check every CRC and the manifest)")
      .Positional("dir", "the data set directory written by `alro convert`")
      .Flag("config", "", "inspect: render the sample prompt with this job config's prompt section");
  if (int code = ParseOrExit(cl, argc, argv); code >= 0) return code;
  const std::string action = cl.GetPositional("action");
  const std::string dir = cl.GetPositional("dir");
  if (action == "verify") {
    absl::StatusOr<data::VerifyResult> result = data::VerifyDataset(dir);
    if (!result.ok()) return ReportStatus("data verify", result.status());
    std::printf("%s: %s\n", dir.c_str(), result->Summary().c_str());
    return result->ok() ? kExitOk : kExitFailure;
  }
  if (action == "inspect") {
    config::PromptConfig prompt;
    if (cl.Has("config")) {
      absl::StatusOr<config::Config> config = config::LoadConfig(cl.Get("config"));
      if (!config.ok()) return ReportStatus("data inspect", config.status());
      prompt = config->prompt;
    }
    absl::StatusOr<std::string> text = data::InspectDataset(dir, prompt);
    if (!text.ok()) return ReportStatus("data inspect", text.status());
    std::fputs(text->c_str(), stdout);
    return kExitOk;
  }
  return ReportStatus("data", InvalidArgument(absl::StrCat("unknown action '", action, "'"),
                                              "use `alro data inspect DIR` or `alro data verify DIR`"));
}

}  // namespace alro::launch
