#include "core/weights/config_values.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

namespace patchlens {
namespace {

std::string range(double low, double high) {
  // Appended, not "[" + text: GCC 12's -Wrestrict misfires on operator+(const char*, string&&).
  std::string text = "[";
  text += configNumberText(low);
  text += ", ";
  text += configNumberText(high);
  text += "]";
  return text;
}

}  // namespace

double configNumber(const nlohmann::json& value, const std::string& what) {
  if (value.is_boolean() || !value.is_number()) throw ConfigValueError(what + " is not a number");
  if (value.is_number_unsigned()) return static_cast<double>(value.get<std::uint64_t>());
  if (value.is_number_integer()) return static_cast<double>(value.get<std::int64_t>());
  return value.get<double>();
}

std::string configNumberText(double value) {
  std::ostringstream s;
  s.precision(std::abs(value) < 1e15 && value == std::floor(value) ? 17 : 6);
  s << value;
  return s.str();
}

std::int64_t exactInteger(double value, std::int64_t low, std::int64_t high,
                          const std::string& what) {
  if (!std::isfinite(value) || value != std::floor(value))
    throw ConfigValueError(what + " " + configNumberText(value) + " is not an integer");
  if (value < static_cast<double>(low) || value > static_cast<double>(high)) {
    throw ConfigValueError(what + " " + configNumberText(value) + " is not from " +
                           std::to_string(low) + " to " + std::to_string(high));
  }
  return static_cast<std::int64_t>(value);
}

std::int64_t exactInteger(const nlohmann::json& value, std::int64_t low, std::int64_t high,
                          const std::string& what) {
  // A 64-bit JSON integer is compared as an integer: 2^63 + 1 must not round into range.
  if (value.is_number_unsigned()) {
    const std::uint64_t v = value.get<std::uint64_t>();
    if (high >= 0 && v > static_cast<std::uint64_t>(high)) {
      throw ConfigValueError(what + " " + std::to_string(v) + " is not from " +
                             std::to_string(low) + " to " + std::to_string(high));
    }
  }
  return exactInteger(configNumber(value, what), low, high, what);
}

double finiteInRange(double value, double low, double high, const std::string& what) {
  if (!std::isfinite(value))
    throw ConfigValueError(what + " " + configNumberText(value) + " is not a finite number");
  if (value < low || value > high)
    throw ConfigValueError(what + " " + configNumberText(value) + " is not in " + range(low, high));
  return value;
}

double finiteInRange(const nlohmann::json& value, double low, double high,
                     const std::string& what) {
  return finiteInRange(configNumber(value, what), low, high, what);
}

std::int64_t positiveSetting(const nlohmann::json& value, const std::string& what) {
  return exactInteger(value, 1, std::int64_t{1} << 30, what);
}

std::string stringSetting(const nlohmann::json& config, const char* key) {
  return config.contains(key) && config[key].is_string() ? config[key].get<std::string>()
                                                         : std::string();
}

int imageSide(double value, const std::string& what) {
  return static_cast<int>(exactInteger(value, 1, kMaxImageSide, what));
}

int headCount(double value, const std::string& what) {
  return static_cast<int>(exactInteger(value, 1, kMaxHeads, what));
}

double cropPct(double value, const std::string& what) {
  return finiteInRange(value, kMinCropPct, 1.0, what);
}

float layerNormEps(double value, const std::string& what) {
  if (std::isfinite(value) && !(value > 0))
    throw ConfigValueError(what + " " + configNumberText(value) + " is not positive");
  // The float the encoder uses must stay positive too (1e-60 rounds to 0).
  finiteInRange(value, std::numeric_limits<float>::min(), kMaxLayerNormEps, what);
  return static_cast<float>(value);
}

float normMean(double value, const std::string& what) {
  return static_cast<float>(finiteInRange(value, -kMaxNormMean, kMaxNormMean, what));
}

float normStd(double value, const std::string& what) {
  if (std::isfinite(value) && !(value > 0))
    throw ConfigValueError(what + " " + configNumberText(value) + " is not positive");
  return static_cast<float>(finiteInRange(value, kMinNormStd, kMaxNormStd, what));
}

std::string checkedActivation(const std::string& name, const std::string& what) {
  for (const char* known : {"gelu", "gelu_new_erf", "quick_gelu", "quickgelu", "gelu_pytorch_tanh",
                            "gelu_new", "gelu_tanh"}) {
    if (name == known) return name;
  }
  std::string shown;
  for (const char c : name.substr(0, 40)) shown += (c >= 0x20 && c < 0x7f) ? c : '?';
  throw ConfigValueError(what + " '" + shown +
                         "' is not an activation the encoder runs (gelu, gelu_pytorch_tanh, "
                         "gelu_new, quick_gelu)");
}

}  // namespace patchlens
