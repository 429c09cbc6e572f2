#include "core/model/families/gguf_vision_tower.h"

#include <algorithm>
#include <iterator>

#include "core/io/error.h"
#include "core/weights/gguf_file.h"

namespace patchlens {
namespace {

// clip-impl.h PROJECTOR_TYPE_NAMES whose graph is build_llava: a CLIP ViT, then the projector.
constexpr const char* kLlavaProjectors[] = {"mlp", "mlp_norm", "ldp", "ldpv2"};

// What convert_hf_to_gguf.py's MmprojModel and Gemma3VisionModel write under clip.* (and what
// clip.cpp's load_hparams reads for PROJECTOR_TYPE_GEMMA3).
constexpr const char* kGemma3Keys[] = {"clip.has_vision_encoder",
                                       "clip.has_text_encoder",
                                       "clip.has_audio_encoder",
                                       "clip.has_llava_projector",
                                       "clip.projector_type",
                                       "clip.vision.projector_type",
                                       "clip.use_gelu",
                                       "clip.use_silu",
                                       "clip.vision.image_size",
                                       "clip.vision.patch_size",
                                       "clip.vision.embedding_length",
                                       "clip.vision.feed_forward_length",
                                       "clip.vision.projection_dim",
                                       "clip.vision.block_count",
                                       "clip.vision.attention.head_count",
                                       "clip.vision.attention.layer_norm_epsilon",
                                       "clip.vision.image_mean",
                                       "clip.vision.image_std",
                                       "clip.vision.projector.scale_factor"};

bool listed(const std::string& value, const auto& list) {
  return std::any_of(std::begin(list), std::end(list),
                     [&](const char* item) { return value == item; });
}

}  // namespace

GgufVisionTower ggufVisionTower(const GgufFile& gguf, const std::string& path) {
  GgufVisionTower tower;
  tower.family = "llama.cpp CLIP (GGUF)";
  for (const char* key : {"clip.vision.projector_type", "clip.projector_type"}) {
    if (!gguf.metadata().contains(key)) continue;
    const auto type = gguf.metaString(key);
    if (!type) throw Error(path, std::string("GGUF metadata ") + key + " is not a string");
    tower.projectorType = *type;
    break;
  }
  if (const auto silu = gguf.metaNumber("clip.use_silu"); silu && *silu != 0)
    throw Error(path,
                "GGUF metadata clip.use_silu: a SiLU MLP in the vision tower is not run by "
                "PatchLens");
  if (tower.projectorType.empty() || listed(tower.projectorType, kLlavaProjectors)) return tower;
  if (tower.projectorType != "gemma3")
    throw Error(path, "GGUF clip.projector_type '" + tower.projectorType +
                          "' is not run by PatchLens (only llava's CLIP towers: 'mlp', "
                          "'mlp_norm', 'ldp', 'ldpv2', and Gemma 3's SigLIP tower: 'gemma3')");
  for (const auto& entry : gguf.metadata()) {
    const std::string& key = entry.first;
    if (key.rfind("clip.", 0) == 0 && !listed(key, kGemma3Keys))
      throw Error(path, "GGUF metadata key '" + key +
                            "' is not one PatchLens reads for a Gemma 3 mmproj "
                            "(clip.projector_type 'gemma3')");
  }
  // Gemma3VisionModel writes use_gelu true: SigLIP's gelu_pytorch_tanh, clip.cpp's ggml_gelu.
  if (const auto gelu = gguf.metaNumber("clip.use_gelu"); !gelu || *gelu == 0)
    throw Error(path,
                "GGUF metadata clip.use_gelu is not true in a Gemma 3 mmproj, whose SigLIP tower "
                "runs GELU (tanh)");
  tower.family = "llama.cpp Gemma 3 SigLIP (GGUF)";
  tower.gemma3 = true;
  return tower;
}

}  // namespace patchlens
