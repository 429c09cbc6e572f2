#pragma once

#include <memory>
#include <string>

#include "core/model/transformer_weights.h"
#include "core/model/vision_transformer.h"
#include "core/weights/tensor_source.h"

namespace patchlens {

// timm's NaFlexVit (naflexvit.py, SigLIP 2 NaFlex and its siblings) as a state dict at the top
// level: embeds.proj.weight a Linear [D, P*P*C] over patches flattened (ph, pw, c),
// embeds.pos_embed a learned [1, gh0, gw0, D] grid. True when the file has that layout (read by
// readTimmNaflex).
bool isTimmNaflexLayout(const TensorSource& source);

// The canonical weights: the Linear's columns permuted into the conv's (c, ph, pw) order (exact),
// the position grid resized to each input's grid as NaFlexEmbeds._apply_learned_pos_embed does
// (F.interpolate(size=grid, pos_embed_interp_mode, align_corners=False, antialias=True) unless
// the grid is the native one), no position row for cls / registers. One image whose patches fill
// the sequence: no padding, no attention mask. What the tensors do not say (heads, activation,
// interpolation mode) comes from timm's config.json beside the file (the registered
// architecture's NaFlexVitCfg, overridden by model_args); anything PatchLens does not run exactly
// (factorized or aspect-preserving position grids, grid_sample, RoPE, qk-norm, ...) is refused
// by name, as is every tensor nothing takes. Throws Error(path, ...).
std::shared_ptr<const TransformerWeights> readTimmNaflex(const TensorSource& source,
                                                         const std::string& path,
                                                         const TransformerLoadOptions& options);

}  // namespace patchlens
