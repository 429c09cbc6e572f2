#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <stdexcept>
#include <string>

namespace patchlens {

// One set of rules for a model or preprocessing setting, wherever it comes from: a config
// sidecar (config.json, preprocessor_config.json), GGUF metadata or a CLI option. Every
// function returns the value or throws ConfigValueError whose message starts with `what`
// ("num_attention_heads 4.5 is not an integer"), for the caller to prefix with the file.
class ConfigValueError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The text of a number as a message shows it (4294967300, 4.5, 1e-300, nan).
std::string configNumberText(double value);

// A JSON number as a double (a string, bool, array or null is refused by type).
double configNumber(const nlohmann::json& value, const std::string& what);

// An integer in [low, high]: exactly integral (4.5 and 1e300 refused, never truncated).
std::int64_t exactInteger(double value, std::int64_t low, std::int64_t high,
                          const std::string& what);
// The same for a JSON value; a string, bool or array is refused by type.
std::int64_t exactInteger(const nlohmann::json& value, std::int64_t low, std::int64_t high,
                          const std::string& what);

// A finite number in [low, high].
double finiteInRange(double value, double low, double high, const std::string& what);
double finiteInRange(const nlohmann::json& value, double low, double high, const std::string& what);

// The bounds every source shares.
inline constexpr std::int64_t kMaxImageSide = 16384;  // model input H or W
inline constexpr std::int64_t kMaxHeads = 4096;       // attention heads
inline constexpr double kMinCropPct = 0.05;           // resize to at most 20 x the crop
inline constexpr double kMaxLayerNormEps = 0.1;       // real models: 1e-12 .. 1e-5
inline constexpr double kMinNormStd = 1e-6;           // 1 / std stays far from overflow
inline constexpr double kMaxNormStd = 1e6;
inline constexpr double kMaxNormMean = 1e6;

// A size setting of a model config (a width, a depth, a count): an exact integer in [1, 2^30].
std::int64_t positiveSetting(const nlohmann::json& value, const std::string& what);
// config[key] when it is a string, else "" (absent, or not text: the caller's checks say why).
std::string stringSetting(const nlohmann::json& config, const char* key);

int imageSide(double value, const std::string& what);
int headCount(double value, const std::string& what);
// crop_pct in [0.05, 1]: timm's own models use 0.875 .. 1; below 0.05 the resize before the
// crop would be over 20 times the model input.
double cropPct(double value, const std::string& what);
// LayerNorm eps in (0, 0.1]: a negative eps makes sqrt(variance + eps) NaN.
float layerNormEps(double value, const std::string& what);
// Normalization mean: finite, |mean| <= 1e6; std: in [1e-6, 1e6] (a subnormal or zero std
// divides to Inf).
float normMean(double value, const std::string& what);
float normStd(double value, const std::string& what);
// hidden_act / act_layer names the encoder runs: "gelu" ... ; anything else (relu, silu, ...)
// is refused by name, never run as GELU. Returns the name.
std::string checkedActivation(const std::string& name, const std::string& what);

}  // namespace patchlens
