// data/converters/json_fields.h: lenient typed access to fields of a parsed
// JSON row (absent or mistyped fields read as "missing", never throw).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace alro::data {

/// The string at `key`; numbers are printed; "" when absent or another type.
std::string JsonString(const nlohmann::json& row, const char* key);
/// The number at `key` (or a numeric string); false when missing.
bool JsonNumber(const nlohmann::json& row, const char* key, double* value);
/// The integer at `key` (or an integral number/string); false when missing.
bool JsonInteger(const nlohmann::json& row, const char* key, int64_t* value);
/// The strings at `key`: a string, an array of strings, or nested arrays of
/// strings (flattened in order, duplicates removed).
std::vector<std::string> JsonStrings(const nlohmann::json& row, const char* key);

}  // namespace alro::data
