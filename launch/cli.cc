// launch/cli.cc: implementation of the subcommand flag parser.
#include "launch/cli.h"

#include <algorithm>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace alro::cli {

CommandLine::CommandLine(std::string usage, std::string summary)
    : usage_(std::move(usage)), summary_(std::move(summary)) {}

CommandLine& CommandLine::Flag(const std::string& name, const std::string& default_value, const std::string& help) {
  specs_[name] = {Spec::kValue, default_value, help};
  order_.push_back(name);
  return *this;
}

CommandLine& CommandLine::Switch(const std::string& name, const std::string& help) {
  specs_[name] = {Spec::kSwitch, "", help};
  order_.push_back(name);
  return *this;
}

CommandLine& CommandLine::Repeated(const std::string& name, const std::string& help) {
  specs_[name] = {Spec::kRepeated, "", help};
  order_.push_back(name);
  return *this;
}

CommandLine& CommandLine::Positional(const std::string& name, const std::string& help) {
  positional_specs_.emplace_back(name, help);
  return *this;
}

absl::Status CommandLine::Parse(int argc, char** argv) {
  size_t next_positional = 0;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      help_ = true;
      return absl::OkStatus();
    }
    if (arg.rfind("--", 0) != 0 || arg == "--") {
      if (next_positional >= positional_specs_.size()) {
        return InvalidArgument(absl::StrCat("unexpected argument '", arg, "'"), absl::StrCat("usage: ", usage_));
      }
      positionals_[positional_specs_[next_positional++].first] = arg;
      continue;
    }
    std::string name = arg.substr(2);
    std::string value;
    bool has_value = false;
    if (const size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    auto it = specs_.find(name);
    if (it == specs_.end()) {
      std::string guess;
      size_t best = 3;
      for (const auto& [known, spec] : specs_) {
        size_t common = 0;  // cheap similarity: shared prefix plus length difference
        while (common < known.size() && common < name.size() && known[common] == name[common]) ++common;
        const size_t distance = std::max(known.size(), name.size()) - common;
        if (distance < best) {
          best = distance;
          guess = known;
        }
      }
      return InvalidArgument(absl::StrCat("unknown flag --", name),
                             guess.empty() ? "see --help for the flags" : absl::StrCat("did you mean --", guess, "?"));
    }
    if (it->second.kind == Spec::kSwitch) {
      if (has_value && value != "true" && value != "false") {
        return InvalidArgument(absl::StrCat("--", name, " takes no value (or =true/=false)"));
      }
      values_[name] = {has_value ? value : "true"};
      continue;
    }
    if (!has_value) {
      if (i + 1 >= argc) return InvalidArgument(absl::StrCat("--", name, " needs a value"), "see --help");
      value = argv[++i];
    }
    if (it->second.kind == Spec::kRepeated) values_[name].push_back(value);
    else values_[name] = {value};
  }
  if (next_positional < positional_specs_.size()) {
    return InvalidArgument(absl::StrCat("missing argument ", positional_specs_[next_positional].first),
                           absl::StrCat("usage: ", usage_));
  }
  return absl::OkStatus();
}

std::string CommandLine::Help() const {
  std::ostringstream out;
  out << "usage: " << usage_ << "\n\n" << summary_ << "\n";
  if (!positional_specs_.empty()) {
    out << "\narguments:\n";
    for (const auto& [name, help] : positional_specs_) out << "  " << name << "\n      " << help << "\n";
  }
  out << "\nflags:\n";
  for (const std::string& name : order_) {
    const Spec& spec = specs_.at(name);
    out << "  --" << name;
    if (spec.kind == Spec::kValue) out << " VALUE";
    if (spec.kind == Spec::kRepeated) out << " VALUE (repeatable)";
    out << "\n      " << spec.help;
    if (spec.kind == Spec::kValue && !spec.default_value.empty()) out << " (default: " << spec.default_value << ")";
    out << "\n";
  }
  out << "  --help\n      show this help\n";
  return out.str();
}

std::string CommandLine::Get(const std::string& name) const {
  auto it = values_.find(name);
  if (it != values_.end() && !it->second.empty()) return it->second.back();
  auto spec = specs_.find(name);
  return spec == specs_.end() ? "" : spec->second.default_value;
}

bool CommandLine::Has(const std::string& name) const { return values_.count(name) > 0; }

bool CommandLine::GetSwitch(const std::string& name) const { return Get(name) == "true"; }

absl::StatusOr<int64_t> CommandLine::GetInt(const std::string& name) const {
  int64_t v;
  if (!absl::SimpleAtoi(Get(name), &v)) {
    return InvalidArgument(absl::StrCat("--", name, " must be an integer, got '", Get(name), "'"));
  }
  return v;
}

absl::StatusOr<double> CommandLine::GetDouble(const std::string& name) const {
  double v;
  if (!absl::SimpleAtod(Get(name), &v)) {
    return InvalidArgument(absl::StrCat("--", name, " must be a number, got '", Get(name), "'"));
  }
  return v;
}

std::vector<std::string> CommandLine::GetAll(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

std::string CommandLine::GetPositional(const std::string& name) const {
  auto it = positionals_.find(name);
  return it == positionals_.end() ? "" : it->second;
}

}  // namespace alro::cli
