// launch/cli.h: a small command-line parser for alro's subcommands.
//
// Each subcommand declares its flags with a help line; the parser accepts
// "--name value", "--name=value", boolean "--name", repeated flags (--set)
// and positional arguments, and writes --help from the declarations.
// Unknown flags are an error with a did-you-mean.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace alro::cli {

/// The declared flags and positionals of one subcommand, and, after Parse(),
/// their values.
class CommandLine {
 public:
  /// `usage` is e.g. "alro data inspect DIR"; `summary` is one sentence.
  CommandLine(std::string usage, std::string summary);

  /// A flag that takes a value; `default_value` is used when it is absent.
  CommandLine& Flag(const std::string& name, const std::string& default_value, const std::string& help);
  /// A flag without a value ("--dry-run").
  CommandLine& Switch(const std::string& name, const std::string& help);
  /// A flag that may be given many times (--set a=1 --set b=2).
  CommandLine& Repeated(const std::string& name, const std::string& help);
  /// A required positional argument.
  CommandLine& Positional(const std::string& name, const std::string& help);

  /// Parses argv[0..argc) (argv[0] is the first argument after the subcommand).
  absl::Status Parse(int argc, char** argv);
  /// True if --help or -h was given; the caller prints Help() and exits 0.
  bool help_requested() const { return help_; }
  /// The usage text.
  std::string Help() const;

  std::string Get(const std::string& name) const;
  bool Has(const std::string& name) const;  ///< given explicitly on the command line
  bool GetSwitch(const std::string& name) const;
  absl::StatusOr<int64_t> GetInt(const std::string& name) const;
  absl::StatusOr<double> GetDouble(const std::string& name) const;
  std::vector<std::string> GetAll(const std::string& name) const;
  std::string GetPositional(const std::string& name) const;

 private:
  struct Spec {
    enum Kind { kValue, kSwitch, kRepeated } kind;
    std::string default_value;
    std::string help;
  };
  std::string usage_;
  std::string summary_;
  std::vector<std::string> order_;
  std::map<std::string, Spec> specs_;
  std::vector<std::pair<std::string, std::string>> positional_specs_;
  std::map<std::string, std::vector<std::string>> values_;
  std::map<std::string, std::string> positionals_;
  bool help_ = false;
};

}  // namespace alro::cli
