// tests/foundation/cli_test.cc: the subcommand flag parser.
#include <gtest/gtest.h>

#include <vector>

#include "launch/cli.h"

namespace alro::cli {
namespace {

absl::Status ParseArgs(CommandLine& c, std::vector<std::string> args) {
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return c.Parse(static_cast<int>(argv.size()), argv.data());
}

CommandLine MakeCommand() {
  CommandLine c("alro x DIR", "test");
  c.Flag("config", "default.yaml", "config").Switch("dry-run", "dry").Repeated("set", "override").Positional("DIR", "d");
  return c;
}

TEST(Cli, ParsesAllForms) {
  CommandLine c = MakeCommand();
  ASSERT_TRUE(ParseArgs(c, {"--config=a.yaml", "--set", "a=1", "--set=b=2", "--dry-run", "somewhere"}).ok());
  EXPECT_EQ(c.Get("config"), "a.yaml");
  EXPECT_TRUE(c.GetSwitch("dry-run"));
  EXPECT_EQ(c.GetAll("set"), (std::vector<std::string>{"a=1", "b=2"}));
  EXPECT_EQ(c.GetPositional("DIR"), "somewhere");
}

TEST(Cli, DefaultsAndHelp) {
  CommandLine c = MakeCommand();
  ASSERT_TRUE(ParseArgs(c, {"d"}).ok());
  EXPECT_EQ(c.Get("config"), "default.yaml");
  EXPECT_FALSE(c.GetSwitch("dry-run"));
  CommandLine h = MakeCommand();
  ASSERT_TRUE(ParseArgs(h, {"--help"}).ok());
  EXPECT_TRUE(h.help_requested());
  EXPECT_NE(h.Help().find("--config VALUE"), std::string::npos);
}

TEST(Cli, Errors) {
  CommandLine a = MakeCommand();
  absl::Status s = ParseArgs(a, {"--confg", "x", "d"});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("did you mean --config?"), std::string::npos) << s;
  CommandLine b = MakeCommand();
  EXPECT_FALSE(ParseArgs(b, {}).ok());  // missing positional
  CommandLine c = MakeCommand();
  EXPECT_FALSE(ParseArgs(c, {"d", "extra"}).ok());
  CommandLine d = MakeCommand();
  EXPECT_FALSE(ParseArgs(d, {"d", "--config"}).ok());  // missing value
}

}  // namespace
}  // namespace alro::cli
