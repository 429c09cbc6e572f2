#include "core/model/family_tensor_rules.h"

#include <algorithm>
#include <initializer_list>

namespace patchlens {
namespace {

// A rule names a subtree ("head." / "head/": every tensor under it), one tensor ("logit_scale"),
// or, with a leading '*', a last name segment anywhere ("*num_batches_tracked"). Names are
// matched below the family prefix ("vit.", "module.", ...) and, failing that, from the root
// (HF's "classifier.weight" beside "vit.").
struct UnusedRule {
  const char* pattern;
  const char* reason;
};

struct FamilyRules {
  const char* family;  // weight_keys.cpp's family name
  std::initializer_list<UnusedRule> rules;
};

constexpr const char* kHead = "classifier head";
constexpr const char* kMap = "attention-pool (MAP) head, on the pooled output only";
constexpr const char* kText = "text tower";
constexpr const char* kMask = "mask token of masked-image pre-training, not in the forward";

// Read from each family's code: timm vision_transformer.py / deit.py (head, head_dist, fc_norm
// with global_pool='avg', pre_logits of representation_size, attn_pool for global_pool='map',
// Meta DINOv2's mask_token that timm's _convert_dinov2 drops); transformers modeling_vit /
// modeling_deit / modeling_dinov2 / modeling_clip / modeling_siglip; openai/CLIP model.py
// (build_model deletes input_resolution, context_length, vocab_size); torchvision
// vision_transformer.py (heads); vit_jax / big_vision npz (head, pre_logits, MAPHead_0);
// llama.cpp clip.cpp (mm.* projector).
const FamilyRules kFamilyRules[] = {
    {"timm ViT/DeiT/DINOv2",
     {{"head.", kHead},
      {"head_dist.", "distillation classifier head"},
      {"fc_norm.", "norm of the pooled output only (global_pool='avg')"},
      {"pre_logits.", "pre-logits layer of the classifier head"},
      {"attn_pool.", kMap},
      {"mask_token", kMask},
      {"*num_batches_tracked", "BatchNorm step counter"}}},
    {"Hugging Face ViT",
     {{"pooler.", "pooler, on the class token's output only"},
      {"classifier.", kHead},
      {"cls_classifier.", kHead},
      {"distillation_classifier.", "distillation classifier head"},
      {"embeddings.mask_token", kMask},
      {"*position_ids", "index buffer 0..N-1"}}},
    {"Hugging Face CLIP/SigLIP",
     {{"text_model.", kText},
      {"visual_projection.", "projection into the joint image-text space"},
      {"text_projection.", kText},
      {"logit_scale", "contrastive temperature"},
      {"logit_bias", "contrastive bias (SigLIP)"},
      {"vision_model.head.", kMap},
      {"classifier.", kHead},
      {"*position_ids", "index buffer 0..N-1"}}},
    {"OpenAI CLIP",
     {{"visual.proj", "projection into the joint image-text space"},
      {"transformer.", kText},
      {"token_embedding.", kText},
      {"positional_embedding", kText},
      {"ln_final.", kText},
      {"text_projection", kText},
      {"logit_scale", "contrastive temperature"},
      {"input_resolution", "JIT archive metadata"},
      {"context_length", "JIT archive metadata"},
      {"vocab_size", "JIT archive metadata"}}},
    {"torchvision ViT", {{"heads.", kHead}, {"*num_batches_tracked", "BatchNorm step counter"}}},
    {"Google ViT (npz)",
     {{"head/", kHead},
      {"pre_logits/", "pre-logits layer of the classifier head"},
      {"MAPHead_0/", kMap},
      {"params/txt/", kText},  // big_vision SigLIP: the image tower under params/img/
      {"params/t", "contrastive temperature"},
      {"params/b", "contrastive bias (SigLIP)"}}},
    // Gemma 3's projector (clip_graph_siglip after build_vit: 4x4 average pool, RMS norm with
    // soft_emb_norm, input_projection into the language model), named before the llava rule.
    {"llama.cpp CLIP (GGUF)",
     {{"mm.soft_emb_norm.weight",
       "Gemma 3 projector: RMS norm of the pooled tokens, into the language model"},
      {"mm.input_projection.weight",
       "Gemma 3 projector: 4x4 average pool, then this projection into the language model"},
      {"mm.", "multimodal projector into the language model"}}},
    // timm beit.py (global_pool='avg': fc_norm on the mean of the patches; the unilm
    // pre-training files' mask_token), HF modeling_beit.py / modeling_data2vec_vision.py
    // (BeitPooler's layernorm under use_mean_pooling, classifier, embeddings.mask_token).
    {"BEiT",
     {{"head.", kHead},
      {"fc_norm.", "norm of the mean-pooled output only (global_pool='avg')"},
      {"classifier.", kHead},
      {"pooler.", "pooler: norm of the mean-pooled output only (use_mean_pooling)"},
      {"mask_token", kMask},
      {"embeddings.mask_token", kMask},
      {"*relative_position_index",
       "index buffer, recomputed as beit.py's gen_relative_position_index (timm and HF drop it)"}}},
};

bool startsWith(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(0, p.size(), p) == 0;
}

std::vector<std::string> segments(const std::string& name) {
  std::vector<std::string> out(1);
  for (char ch : name) {
    if (ch == '.' || ch == '/') {
      out.emplace_back();
    } else {
      out.back() += ch;
    }
  }
  return out;
}

bool ruleMatches(const std::string& pattern, const std::string& name) {
  if (pattern.front() == '*') return segments(name).back() == pattern.substr(1);
  const char last = pattern.back();
  if (last == '.' || last == '/') return startsWith(name, pattern);
  return name == pattern;
}

// Families PatchLens does not run (issue 20, sections 3-4), told by a name segment of their
// tensors ("rope*": any segment starting with "rope"). The first row that matches names it.
struct Lookalike {
  const char* looksLike;
  const char* why;
  std::initializer_list<const char*> markers;
};

const Lookalike kLookalikes[] = {
    {"a Meta DINOv3 checkpoint",
     "without its stored RoPE periods (rope_embed.periods) PatchLens cannot run it exactly",
     {"storage_tokens", "rope_embed", "bias_mask"}},
    {"a RoPE ViT (timm EVA / RoPE-ViT / DINOv3 port, Perception Encoder)",
     "RoPE position encoding is not run by PatchLens yet",
     {"rope*", "freqs_cos", "freqs_sin"}},
    {"a BEiT / BEiT v2 / data2vec checkpoint",
     "its relative position bias is not in a layout PatchLens reads (timm beit.py, HF "
     "BeitModel / Data2VecVisionModel: families/beit_reader.cpp)",
     {"relative_position_bias_table", "relative_position_bias", "relative_position_index",
      "lambda_1", "lambda_2"}},
    {"a SwiGLU-MLP model (DINOv2 giant, EVA-02, DINOv3 S+/H+/7B)",
     "SwiGLU MLPs are not run by PatchLens yet",
     {"w12", "w1", "w2", "w3", "fc1_g", "fc1_x", "gate_proj", "up_proj", "down_proj"}},
    {"a BEiT / EVA / DeiT-3 original checkpoint",
     "its split attention bias and layer-scale names are not read by PatchLens yet",
     {"q_bias", "v_bias", "gamma_1", "gamma_2"}},
};

bool markerMatches(const std::string& marker, const std::string& segment) {
  if (marker.back() == '*') return startsWith(segment, marker.substr(0, marker.size() - 1));
  return segment == marker;
}

}  // namespace

std::string knownUnusedReason(const std::string& readerFamily, const std::string& prefix,
                              const std::string& name) {
  for (const FamilyRules& f : kFamilyRules) {
    if (readerFamily != f.family) continue;
    for (const UnusedRule& r : f.rules) {
      if ((startsWith(name, prefix) && ruleMatches(r.pattern, name.substr(prefix.size()))) ||
          ruleMatches(r.pattern, name))
        return r.reason;
    }
  }
  return {};
}

std::string lookalikeRefusal(const std::string& readerFamily,
                             const std::vector<std::string>& tensorNames) {
  for (const Lookalike& l : kLookalikes) {
    std::string first;
    std::vector<std::string> seen;  // the distinct marker segments found, in name order
    for (const std::string& name : tensorNames) {
      for (const std::string& seg : segments(name)) {
        const bool hit = std::any_of(l.markers.begin(), l.markers.end(),
                                     [&](const char* m) { return markerMatches(m, seg); });
        if (!hit) continue;
        if (first.empty()) first = name;
        if (std::find(seen.begin(), seen.end(), seg) == seen.end()) seen.push_back(seg);
      }
    }
    if (first.empty()) continue;
    std::string markers;
    for (std::size_t i = 0; i < seen.size() && i < 4; ++i) markers += (i ? ", " : "") + seen[i];
    return "tensor '" + first + "' is not understood by the " + readerFamily +
           " reader: it looks like " + l.looksLike + " (" + markers + "): " + l.why;
  }
  return {};
}

std::vector<UnusedTensors> groupUnused(
    const std::vector<std::pair<std::string, std::string>>& nameAndReason) {
  std::vector<UnusedTensors> groups;
  for (const auto& [name, reason] : nameAndReason) {
    auto it = std::find_if(groups.begin(), groups.end(),
                           [&](const UnusedTensors& g) { return g.reason == reason; });
    if (it == groups.end()) {
      groups.push_back({reason, {}});
      it = groups.end() - 1;
    }
    it->names.push_back(name);
  }
  return groups;
}

}  // namespace patchlens
