// data/converters/json_fields.cc: lenient JSON field access.
#include "data/converters/json_fields.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/numbers.h"

namespace alro::data {
namespace {

void Collect(const nlohmann::json& v, std::vector<std::string>* out) {
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (!s.empty() && std::find(out->begin(), out->end(), s) == out->end()) out->push_back(s);
  } else if (v.is_array()) {
    for (const nlohmann::json& e : v) Collect(e, out);
  }
}

}  // namespace

std::string JsonString(const nlohmann::json& row, const char* key) {
  auto it = row.find(key);
  if (it == row.end()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
  if (it->is_number()) return it->dump();
  return "";
}

bool JsonNumber(const nlohmann::json& row, const char* key, double* value) {
  auto it = row.find(key);
  if (it == row.end()) return false;
  if (it->is_number()) {
    *value = it->get<double>();
  } else if (!it->is_string() || !absl::SimpleAtod(it->get<std::string>(), value)) {
    return false;
  }
  return std::isfinite(*value);
}

bool JsonInteger(const nlohmann::json& row, const char* key, int64_t* value) {
  auto it = row.find(key);
  if (it == row.end()) return false;
  if (it->is_number_integer()) {
    *value = it->get<int64_t>();
    return true;
  }
  double d = 0;
  if (!JsonNumber(row, key, &d) || d != std::floor(d)) return false;
  *value = static_cast<int64_t>(d);
  return true;
}

std::vector<std::string> JsonStrings(const nlohmann::json& row, const char* key) {
  std::vector<std::string> out;
  auto it = row.find(key);
  if (it != row.end()) Collect(*it, &out);
  return out;
}

}  // namespace alro::data
