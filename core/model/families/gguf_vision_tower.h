#pragma once

#include <string>

namespace patchlens {

class GgufFile;

// The vision tower a llama.cpp mmproj file holds, told by its projector type (clip.cpp picks its
// graph by clip.vision.projector_type, else clip.projector_type; absent means "mlp").
struct GgufVisionTower {
  std::string family;         // "llama.cpp CLIP (GGUF)" or "llama.cpp Gemma 3 SigLIP (GGUF)"
  std::string projectorType;  // as stored; empty when absent
  bool gemma3 = false;
};

// llava's CLIP towers ('mlp', 'mlp_norm', 'ldp', 'ldpv2', or no projector type) and Gemma 3's
// SigLIP tower ('gemma3': clip_graph_siglip, build_vit then the projector, which the encoder does
// not run); any other projector type (Qwen2-VL / 2.5-VL windowed attention and M-RoPE, Pixtral's
// 2-D RoPE, MiniCPM-V's resampler, ...) is refused by name, as are clip.use_silu and, for Gemma 3,
// any clip.* metadata key not in the list clip.cpp and its converter use for it. Throws Error.
GgufVisionTower ggufVisionTower(const GgufFile& gguf, const std::string& path);

}  // namespace patchlens
