#pragma once

#include <string>

#include "core/weights/tensor_source.h"

namespace patchlens {

// SigLIP 2 NaFlex layouts PatchLens does not run (timm's top-level Linear layout with a learned
// grid is read by naflex_reader, Hugging Face's Siglip2VisionModel / Siglip2Model under
// vision_model. by hf_siglip2_reader): timm's NaFlexVit otherwise (naflexvit.py: embeds.proj,
// a Linear over patches flattened (ph, pw, c) or a conv, embeds.pos_embed [1, H, W, D] resized per
// image) and HF's Linear patch embedding under another prefix (embeddings.patch_embedding a
// Linear [D, C * P * P], its position table resized per image). One sentence naming the tensor
// that tells it, or empty: read before the patch-embedding families, which would otherwise take
// a [1, H, W, D] position table for the only 4-D tensor or a Linear for a conv.
std::string naflexRefusal(const TensorSource& source);

}  // namespace patchlens
