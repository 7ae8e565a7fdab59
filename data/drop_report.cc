// data/drop_report.cc: the dropped-data tally.
#include "data/drop_report.h"

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace alro::data {

DropReport::DropReport(std::string subject, size_t examples_per_reason)
    : subject_(std::move(subject)), examples_per_reason_(examples_per_reason) {}

DropReport::DropReport(const DropReport& other) {
  std::lock_guard<std::mutex> lock(other.mu_);
  subject_ = other.subject_;
  examples_per_reason_ = other.examples_per_reason_;
  reasons_ = other.reasons_;
}

DropReport& DropReport::operator=(const DropReport& other) {
  if (this == &other) return *this;
  std::map<std::string, Reason> copy;
  std::string subject;
  size_t per_reason;
  {
    std::lock_guard<std::mutex> lock(other.mu_);
    copy = other.reasons_;
    subject = other.subject_;
    per_reason = other.examples_per_reason_;
  }
  std::lock_guard<std::mutex> lock(mu_);
  reasons_ = std::move(copy);
  subject_ = std::move(subject);
  examples_per_reason_ = per_reason;
  return *this;
}

void DropReport::Add(absl::string_view reason, absl::string_view where, absl::string_view detail, int64_t count) {
  std::lock_guard<std::mutex> lock(mu_);
  Reason& r = reasons_[std::string(reason)];
  r.count += count;
  if (r.examples.size() < examples_per_reason_) {
    r.examples.push_back(absl::StrCat(where, ": ", detail));
  } else {
    ++r.more;
  }
}

void DropReport::AddCount(absl::string_view reason, int64_t count, absl::string_view explanation) {
  if (count <= 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  Reason& r = reasons_[std::string(reason)];
  r.count += count;
  if (r.examples.size() < examples_per_reason_) {
    r.examples.push_back(std::string(explanation));
  } else {
    ++r.more;
  }
}

void DropReport::AddUnlisted(absl::string_view reason, int64_t count) {
  if (count <= 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  Reason& r = reasons_[std::string(reason)];
  r.count += count;
  r.more += count;
}

void DropReport::Merge(const DropReport& other) {
  if (this == &other) return;
  std::map<std::string, Reason> theirs;
  {
    std::lock_guard<std::mutex> lock(other.mu_);
    theirs = other.reasons_;
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [name, t] : theirs) {
    Reason& r = reasons_[name];
    r.count += t.count;
    for (const std::string& e : t.examples) {
      if (r.examples.size() < examples_per_reason_) {
        r.examples.push_back(e);
      } else {
        ++r.more;
      }
    }
    r.more += t.more;
  }
}

std::string DropReport::Serialize() const {
  std::lock_guard<std::mutex> lock(mu_);
  nlohmann::json reasons = nlohmann::json::object();
  for (const auto& [name, r] : reasons_) {
    reasons[name] = {{"count", r.count}, {"examples", r.examples}, {"more", r.more}};
  }
  return nlohmann::json{{"subject", subject_}, {"examples_per_reason", examples_per_reason_}, {"reasons", reasons}}
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

absl::StatusOr<DropReport> DropReport::Deserialize(const std::string& text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("reasons")) {
    return absl::DataLossError("a serialized drop report is malformed");
  }
  DropReport out(j.value("subject", std::string("items")), j.value("examples_per_reason", kDefaultExamplesPerReason));
  for (const auto& [name, r] : j["reasons"].items()) {
    Reason& reason = out.reasons_[name];
    reason.count = r.value("count", int64_t{0});
    reason.examples = r.value("examples", std::vector<std::string>{});
    reason.more = r.value("more", int64_t{0});
  }
  return out;
}

int64_t DropReport::total() const {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t sum = 0;
  for (const auto& [name, r] : reasons_) sum += r.count;
  return sum;
}

int64_t DropReport::count(absl::string_view reason) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = reasons_.find(std::string(reason));
  return it == reasons_.end() ? 0 : it->second.count;
}

std::map<std::string, int64_t> DropReport::counts() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, int64_t> out;
  for (const auto& [name, r] : reasons_) out[name] = r.count;
  return out;
}

std::string DropReport::Summary() const {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t sum = 0;
  for (const auto& [name, r] : reasons_) sum += r.count;
  if (sum == 0) return absl::StrCat("no ", subject_, " dropped");
  std::string out = absl::StrCat(sum, " ", subject_, " dropped:");
  for (const auto& [name, r] : reasons_) {
    absl::StrAppend(&out, "\n  ", r.count, " ", name);
    for (const std::string& e : r.examples) absl::StrAppend(&out, "\n      e.g. ", e);
    if (r.more > 0) absl::StrAppend(&out, "\n      ... and ", r.more, " more");
  }
  return out;
}

}  // namespace alro::data
