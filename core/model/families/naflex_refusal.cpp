#include "core/model/families/naflex_refusal.h"

#include "core/model/families/hf_siglip2_reader.h"
#include "core/model/families/naflex_reader.h"
#include "core/weights/shape_text.h"

namespace patchlens {
namespace {

// `name` ends with `suffix` at a '.' boundary (or is it).
bool endsWithName(const std::string& name, const std::string& suffix) {
  if (name.size() < suffix.size() ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return false;
  return name.size() == suffix.size() || name[name.size() - suffix.size() - 1] == '.';
}

}  // namespace

std::string naflexRefusal(const TensorSource& source) {
  if (isTimmNaflexLayout(source)) return {};  // naflex_reader runs it
  if (isHfSiglip2Layout(source)) return {};   // hf_siglip2_reader runs it
  for (const TensorInfo& t : source.tensors()) {
    if (endsWithName(t.name, "embeds.proj.weight"))
      return "tensor '" + t.name + "' " + shapeText(t.shape) +
             " is timm's NaFlexVit patch embedding (SigLIP 2 NaFlex, naflexvit.py: patches "
             "flattened (ph, pw, c), the position grid resized per image), which PatchLens runs "
             "only as a Linear at the top level beside a learned embeds.pos_embed";
    if (endsWithName(t.name, "embeddings.patch_embedding.weight") && t.shape.size() == 2)
      return "tensor '" + t.name + "' " + shapeText(t.shape) +
             " is a Linear patch embedding over flattened patches (SigLIP 2 NaFlex, the position "
             "grid resized per image), which PatchLens runs only as Hugging Face's "
             "Siglip2VisionModel / Siglip2Model under vision_model.";
  }
  return {};
}

}  // namespace patchlens
