#include "core/weights/model_preprocessing.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/io/error.h"
#include "core/weights/config_values.h"
#include "core/weights/gguf_file.h"

namespace patchlens {
namespace {

using Json = nlohmann::json;

// Sidecars are a few kB; anything larger is not one.
constexpr std::uintmax_t kMaxSidecarBytes = 1 << 20;

// A sidecar that is present but unusable: the warning's reason.
class SidecarError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::optional<Json> readJson(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return std::nullopt;
  if (std::filesystem::file_size(path, ec) > kMaxSidecarBytes) throw SidecarError("over 1 MB");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw SidecarError("cannot be read");
  std::stringstream text;
  text << in.rdbuf();
  Json j = Json::parse(text.str(), nullptr, false);
  if (j.is_discarded()) throw SidecarError("not valid JSON");
  if (!j.is_object()) throw SidecarError("not a JSON object");
  return j;
}

Normalization normalizationFrom(const Json& mean, const Json& std, const char* what) {
  if (!mean.is_array() || !std.is_array() || mean.size() != 3 || std.size() != 3)
    throw SidecarError(std::string(what) + "mean and " + what + "std are not 3 numbers each");
  Normalization n;
  for (std::size_t i = 0; i < 3; ++i) {
    // what is the keys' prefix: "image_" names image_mean[0], "" names mean[0].
    const std::string index = "[" + std::to_string(i) + "]";
    const std::string meanName = std::string(what) + "mean" + index;
    const std::string stdName = std::string(what) + "std" + index;
    n.mean[i] = normMean(configNumber(mean[i], meanName), meanName);
    n.std[i] = normStd(configNumber(std[i], stdName), stdName);
  }
  // Name it after the preset it equals, else by its numbers.
  for (const char* preset : {"inception", "imagenet", "clip"}) {
    const Normalization p = *Normalization::parse(preset);
    bool same = true;
    for (std::size_t i = 0; i < 3; ++i)
      same &= std::abs(p.mean[i] - n.mean[i]) < 1e-6f && std::abs(p.std[i] - n.std[i]) < 1e-6f;
    if (same) return p;
  }
  std::ostringstream name;
  name.precision(6);
  name << n.mean[0] << "," << n.mean[1] << "," << n.mean[2] << "/" << n.std[0] << "," << n.std[1]
       << "," << n.std[2];
  n.name = name.str();
  return n;
}

int positiveInt(const Json& v, const char* what) {
  return static_cast<int>(exactInteger(v, 1, kMaxImageSide, what));
}

// timm's resolve_data_config on a pretrained_cfg: input_size (C, H, W), interpolation, mean,
// std, crop_pct (default 0.875), crop_mode (center; squash resizes without keeping the ratio).
ModelPreprocessing fromTimm(const Json& cfg) {
  ModelPreprocessing m;
  m.source = "config.json (timm pretrained_cfg)";
  if (cfg.contains("input_size")) {
    const Json& s = cfg["input_size"];
    if (!s.is_array() || s.size() != 3) throw SidecarError("input_size is not [C, H, W]");
    m.height = positiveInt(s[1], "input_size H");
    m.width = positiveInt(s[2], "input_size W");
  }
  if (cfg.contains("interpolation")) {
    const Json& i = cfg["interpolation"];
    const auto interp = i.is_string() ? parseInterpolation(i.get<std::string>()) : std::nullopt;
    if (!interp) throw SidecarError("interpolation is not bicubic, bilinear or nearest");
    m.interpolation = *interp;
  }
  if (cfg.contains("mean") || cfg.contains("std"))
    m.normalization = normalizationFrom(cfg.value("mean", Json()), cfg.value("std", Json()), "");
  double cropPct = 0.875;  // timm's DEFAULT_CROP_PCT
  if (cfg.contains("crop_pct") && !cfg["crop_pct"].is_null()) {
    cropPct = patchlens::cropPct(finiteInRange(cfg["crop_pct"], 0.0, 1.0, "crop_pct"), "crop_pct");
  }
  const std::string mode = cfg.value("crop_mode", std::string("center"));
  if (mode == "squash" && cropPct == 1.0) {
    m.resize = ResizeMode::Squash;
  } else if (mode == "center" || mode == "squash") {
    m.resize = ResizeMode::Crop;
    m.cropPct = cropPct;
  } else {
    throw SidecarError("crop_mode '" + mode + "' is not supported (center or squash)");
  }
  return m;
}

int sizeField(const Json& size, const char* key, const char* what) {
  if (!size.contains(key)) throw SidecarError(std::string(what) + " lacks " + key);
  return positiveInt(size[key], what);
}

// Hugging Face image processors: ViTImageProcessor squashes to size {height, width};
// CLIPImageProcessor resizes the shorter side to size {shortest_edge}, then center-crops
// crop_size. resample is PIL's enum (0 nearest, 2 bilinear, 3 bicubic).
// Siglip2ImageProcessor (SigLIP 2 NaFlex): the whole image, aspect kept, to at most
// max_num_patches patches of patch_size (ResizeMode::MaxPatches), PIL bilinear by default,
// 0.5 / 0.5; the padding to max_num_patches is masked out of attention, so the tokens of the
// image's own patches are those of the image alone.
bool isSiglip2Processor(const Json& j) {
  const std::string type = j.value("image_processor_type", std::string());
  return type.rfind("Siglip2ImageProcessor", 0) == 0 || j.contains("max_num_patches");
}

void readSiglip2Resize(const Json& j, ModelPreprocessing& m) {
  const std::string type = j.value("image_processor_type", std::string("Siglip2ImageProcessor"));
  m.source = "preprocessor_config.json (Hugging Face " + type + ")";
  if (type == "Siglip2ImageProcessorFast") {
    // Its resize is torchvision's on 8-bit tensors, PatchLens' is PIL's (the processor's
    // PIL backend): say so rather than claim the torchvision pixels.
    m.source +=
        "; resized as its PIL backend does (torchvision's resize may differ by one "
        "level in some pixels)";
  }
  if (!j.value("do_resize", true))
    throw SidecarError(
        "do_resize false (the image cut into patches at its own size) is not supported");
  m.resize = ResizeMode::MaxPatches;
  m.maxPatches = static_cast<int>(
      exactInteger(j.value("max_num_patches", Json(256)), 1, 65536, "max_num_patches"));
  m.patchSize =
      static_cast<int>(exactInteger(j.value("patch_size", Json(16)), 1, 1024, "patch_size"));
  m.interpolation = Interpolation::Bilinear;             // the processor's default resample
  m.normalization = *Normalization::parse("inception");  // its default mean and std, 0.5
}

ModelPreprocessing fromHuggingFace(const Json& j) {
  ModelPreprocessing m;
  m.source = "preprocessor_config.json (Hugging Face)";
  const bool doResize = j.value("do_resize", true);
  const bool doCrop = j.value("do_center_crop", false);
  // ToTensor's x / 255 is the only scaling PatchLens does.
  if (!j.value("do_rescale", true)) throw SidecarError("do_rescale false is not supported");
  if (j.contains("rescale_factor") &&
      std::abs(configNumber(j["rescale_factor"], "rescale_factor") - 1.0 / 255) > 1e-12) {
    throw SidecarError("rescale_factor other than 1/255 is not supported");
  }
  if (isSiglip2Processor(j)) {
    readSiglip2Resize(j, m);
  } else if (doResize && j.contains("size")) {
    const Json& size = j["size"];
    std::optional<int> shortest;
    if (size.is_number_integer()) {
      // Older processors: an int is the shorter side when a crop follows, else a square.
      if (doCrop) {
        shortest = positiveInt(size, "size");
      } else {
        m.height = m.width = positiveInt(size, "size");
        m.resize = ResizeMode::Squash;
      }
    } else if (size.is_object() && size.contains("shortest_edge")) {
      shortest = positiveInt(size["shortest_edge"], "size.shortest_edge");
    } else if (size.is_object()) {
      m.height = sizeField(size, "height", "size");
      m.width = sizeField(size, "width", "size");
      m.resize = ResizeMode::Squash;
    } else {
      throw SidecarError("size is neither a number nor an object");
    }
    if (shortest) {
      if (!doCrop)
        throw SidecarError("a shortest_edge resize without a center crop is not supported");
      const Json& crop = j.value("crop_size", Json(*shortest));
      int ch = 0;
      int cw = 0;
      if (crop.is_number_integer()) {
        ch = cw = positiveInt(crop, "crop_size");
      } else if (crop.is_object()) {
        ch = sizeField(crop, "height", "crop_size");
        cw = sizeField(crop, "width", "crop_size");
      } else {
        throw SidecarError("crop_size is neither a number nor an object");
      }
      if (ch > *shortest || cw > *shortest) throw SidecarError("crop_size exceeds the resize");
      m.height = ch;
      m.width = cw;
      m.resize = ResizeMode::Crop;
      // floor(crop / crop_pct) must give the shorter side back exactly.
      m.cropPct = static_cast<double>(std::min(ch, cw)) / (*shortest + 1e-9);
    }
  }
  if (j.contains("resample")) {
    const Json& r = j["resample"];
    if (!r.is_number_integer()) throw SidecarError("resample is not a PIL filter number");
    switch (r.get<int>()) {
      case 0:
        m.interpolation = Interpolation::Nearest;
        break;
      case 2:
        m.interpolation = Interpolation::Bilinear;
        break;
      case 3:
        m.interpolation = Interpolation::Bicubic;
        break;
      default:
        throw SidecarError("resample " + std::to_string(r.get<int>()) +
                           " is not nearest (0), bilinear (2) or bicubic (3)");
    }
  }
  if (!j.value("do_normalize", true)) {
    m.normalization = *Normalization::parse("none");
  } else if (j.contains("image_mean") || j.contains("image_std")) {
    m.normalization =
        normalizationFrom(j.value("image_mean", Json()), j.value("image_std", Json()), "image_");
  }
  return m;
}

// llama.cpp CLIP metadata: clip.vision.image_size, image_mean, image_std.
std::optional<ModelPreprocessing> fromGguf(const GgufFile& g) {
  ModelPreprocessing m;
  m.source = "GGUF metadata (clip.vision.*)";
  bool any = false;
  if (const auto size = g.metaNumber("clip.vision.image_size")) {
    m.height = m.width = imageSide(*size, "clip.vision.image_size");
    any = true;
  }
  const auto mean = g.metaNumbers("clip.vision.image_mean");
  const auto std = g.metaNumbers("clip.vision.image_std");
  if (mean && std) {
    m.normalization = normalizationFrom(Json(*mean), Json(*std), "clip.vision.image_");
    any = true;
  }
  // Gemma 3 (clip.cpp's mtmd_image_preprocessor_fixed_size): the whole image resized to
  // image_size x image_size, no crop, by llama.cpp's own img_tool::resize (its algorithm and
  // rounding vary between llama.cpp versions and are none of PatchLens' filters): refused.
  if (g.metaString("clip.projector_type") == std::optional<std::string>("gemma3")) {
    m.imageRefusal =
        "a Gemma 3 mmproj (clip.projector_type 'gemma3') takes the whole image resized to "
        "clip.vision.image_size by llama.cpp's own resize (img_tool::resize, no crop), which "
        "PatchLens does not reproduce exactly: images are refused; pass the model input as "
        "--tensor X.npy";
    any = true;
  }
  return any ? std::optional<ModelPreprocessing>(m) : std::nullopt;
}

std::string sizeText(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

}  // namespace

PreprocessConfig ModelPreprocessing::applyTo(PreprocessConfig config,
                                             const PreprocessOverrides& given) const {
  if (!given.size && height && width) {
    config.height = *height;
    config.width = *width;
  }
  // Sizing by a patch budget is a resize mode and a size at once: an explicit one of either wins.
  const bool maxPatchesMode = resize == ResizeMode::MaxPatches;
  if (maxPatchesMode) {
    if (!given.resize && !given.size) {
      config.resize = *resize;
      config.maxPatches = maxPatches.value_or(256);
      config.patchSize = patchSize.value_or(0);
    }
  } else if (!given.resize && resize) {
    config.resize = *resize;
  }
  if (!given.cropPct && cropPct) config.cropPct = *cropPct;
  if (!given.interpolation && interpolation) config.interpolation = *interpolation;
  if (!given.normalization && normalization) config.normalization = *normalization;
  config.imageRefusal = imageRefusal;
  return config;
}

std::string ModelPreprocessing::description(const PreprocessOverrides& given) const {
  std::vector<std::string> parts;
  std::vector<std::string> kept;
  const auto add = [&](bool present, bool explicitly, const char* option, std::string text) {
    if (!present) return;
    if (explicitly) {
      kept.push_back(option);
    } else {
      parts.push_back(std::move(text));
    }
  };
  add(height && width, given.size, "img-size",
      height && width ? std::to_string(*width) + " x " + std::to_string(*height) : "");
  if (resize == ResizeMode::MaxPatches) {
    add(true, given.resize || given.size, given.resize ? "resize" : "img-size",
        "max-patches " + std::to_string(maxPatches.value_or(256)) + " of " +
            std::to_string(patchSize.value_or(16)) + " px (the whole image, aspect kept)");
  } else {
    add(resize.has_value(), given.resize, "resize", resize ? resizeModeName(*resize) : "");
  }
  add(cropPct.has_value(), given.cropPct, "crop-pct",
      cropPct ? "crop-pct " + sizeText(std::round(*cropPct * 1e6) / 1e6) : "");
  add(interpolation.has_value(), given.interpolation, "interp",
      interpolation ? interpolationName(*interpolation) : "");
  add(normalization.has_value(), given.normalization, "norm",
      normalization ? "norm " + normalization->name : "");
  std::string s = "preprocessing from " + source + ":";
  for (std::size_t i = 0; i < parts.size(); ++i) s += (i ? ", " : " ") + parts[i];
  if (!kept.empty()) {
    s += std::string(parts.empty() ? " " : "; ") + "explicit options kept:";
    for (std::size_t i = 0; i < kept.size(); ++i) s += (i ? ", --" : " --") + kept[i];
  }
  if (!imageRefusal.empty()) s += "; images refused: " + imageRefusal;
  return s;
}

std::optional<ModelPreprocessing> findModelPreprocessing(const std::string& weightsPath,
                                                         std::vector<std::string>& warnings) {
  const std::filesystem::path dir = std::filesystem::path(weightsPath).parent_path();
  const auto sidecar = [&](const char* name, auto&& convert) -> std::optional<ModelPreprocessing> {
    const std::filesystem::path path = dir / name;
    try {
      const std::optional<Json> j = readJson(path);
      if (!j) return std::nullopt;
      return convert(*j);
    } catch (const SidecarError& e) {
      warnings.push_back(path.string() + ": " + e.what() + "; preprocessing defaults kept");
    } catch (const ConfigValueError& e) {
      warnings.push_back(path.string() + ": " + e.what() + "; preprocessing defaults kept");
    } catch (const Json::exception& e) {
      warnings.push_back(path.string() + ": unexpected value (" + e.what() +
                         "); preprocessing defaults kept");
    }
    return std::nullopt;
  };
  if (auto hf =
          sidecar("preprocessor_config.json", [](const Json& j) { return fromHuggingFace(j); }))
    return hf;
  if (auto timm = sidecar("config.json", [](const Json& j) -> std::optional<ModelPreprocessing> {
        // A Hugging Face model config carries no preprocessing: nothing to say.
        if (!j.contains("pretrained_cfg")) return std::nullopt;
        if (!j["pretrained_cfg"].is_object()) throw SidecarError("pretrained_cfg is not an object");
        return fromTimm(j["pretrained_cfg"]);
      })) {
    return timm;
  }
  try {
    std::ifstream in(weightsPath, std::ios::binary);
    char magic[4] = {};
    if (in.read(magic, 4) && std::string(magic, 4) == "GGUF")
      return fromGguf(GgufFile(weightsPath));
  } catch (const Error&) {
    // A broken GGUF is reported when the weights are loaded.
  } catch (const SidecarError& e) {
    warnings.push_back(weightsPath + ": " + e.what() + "; preprocessing defaults kept");
  } catch (const ConfigValueError& e) {
    warnings.push_back(weightsPath + ": " + e.what() + "; preprocessing defaults kept");
  }
  return std::nullopt;
}

}  // namespace patchlens
