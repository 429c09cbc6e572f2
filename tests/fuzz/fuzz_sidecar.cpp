// libFuzzer target: the config sidecars beside a checkpoint (timm config.json with its
// pretrained_cfg, Hugging Face preprocessor_config.json) through findModelPreprocessing, and
// every number in the JSON through the one validator (config_values.h). The first byte picks
// the file name; the rest is its content. Never a crash, never an exception out of
// findModelPreprocessing, and whatever it accepts is in range.
#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/weights/config_values.h"
#include "core/weights/model_preprocessing.h"

namespace {

// Never destroyed, so that the exit handler can still read it.
const std::filesystem::path& folder() {
  static const std::filesystem::path* dir = [] {
    auto* d = new std::filesystem::path(std::filesystem::temp_directory_path() /
                                        ("patchlens-fuzz-sidecar-" + std::to_string(::getpid())));
    std::filesystem::create_directories(*d);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(folder(), ec);
    });
    return d;
  }();
  return *dir;
}

void validateAll(const nlohmann::json& j, int depth) {
  if (depth > 16) return;
  if (j.is_number()) {
    const std::string what = "value";
    try {
      (void)patchlens::exactInteger(j, 1, patchlens::kMaxHeads, what);
    } catch (const patchlens::ConfigValueError&) {
    }
    try {
      const double v = patchlens::configNumber(j, what);
      try {
        if (!(patchlens::cropPct(v, what) > 0)) std::abort();
      } catch (const patchlens::ConfigValueError&) {
      }
      try {
        if (!(patchlens::layerNormEps(v, what) > 0)) std::abort();
      } catch (const patchlens::ConfigValueError&) {
      }
      try {
        if (!std::isfinite(1.0f / patchlens::normStd(v, what))) std::abort();
      } catch (const patchlens::ConfigValueError&) {
      }
    } catch (const patchlens::ConfigValueError&) {
    }
  } else if (j.is_string()) {
    try {
      (void)patchlens::checkedActivation(j.get<std::string>(), "hidden_act");
    } catch (const patchlens::ConfigValueError&) {
    }
  } else if (j.is_structured()) {
    for (const auto& item : j) validateAll(item, depth + 1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const bool hf = data[0] & 1;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::filesystem::path dir = folder();
  std::filesystem::remove(dir / "config.json");
  std::filesystem::remove(dir / "preprocessor_config.json");
  {
    std::ofstream out(dir / (hf ? "preprocessor_config.json" : "config.json"), std::ios::binary);
    out << text;
  }
  std::vector<std::string> warnings;
  const auto m = patchlens::findModelPreprocessing((dir / "model.safetensors").string(), warnings);
  if (m) {
    if (m->height && (*m->height < 1 || *m->height > patchlens::kMaxImageSide)) std::abort();
    if (m->width && (*m->width < 1 || *m->width > patchlens::kMaxImageSide)) std::abort();
    if (m->cropPct && !(*m->cropPct > 0 && *m->cropPct <= 1)) std::abort();
    if (m->normalization) {
      for (int c = 0; c < 3; ++c) {
        if (!std::isfinite(m->normalization->mean[c]) || !(m->normalization->std[c] >= 1e-6f))
          std::abort();
      }
    }
    (void)m->description();
  }
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_discarded()) validateAll(j, 0);
  return 0;
}
