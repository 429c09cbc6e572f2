#include "core/weights/weight_keys.h"

#include <algorithm>

#include "core/io/error.h"
#include "core/weights/shape_text.h"

namespace patchlens {
namespace {

// The names each family gives its patch embedding and companions (design.md, "Weight files").
struct Family {
  const char* name;
  const char* weight;
  const char* bias;
  const char* positionEmbedding;
  const char* classToken;
  const char* distillationToken;
  KernelLayout layout;
};

constexpr Family kFamilies[] = {
    {"timm ViT/DeiT/DINOv2", "patch_embed.proj.weight", "patch_embed.proj.bias", "pos_embed",
     "cls_token", "dist_token", KernelLayout::Oihw},
    {"Hugging Face ViT", "embeddings.patch_embeddings.projection.weight",
     "embeddings.patch_embeddings.projection.bias", "embeddings.position_embeddings",
     "embeddings.cls_token", "embeddings.distillation_token", KernelLayout::Oihw},
    {"torchvision ViT", "conv_proj.weight", "conv_proj.bias", "encoder.pos_embedding",
     "class_token", "", KernelLayout::Oihw},
    {"OpenAI CLIP", "visual.conv1.weight", "visual.conv1.bias", "visual.positional_embedding",
     "visual.class_embedding", "", KernelLayout::Oihw},
    {"Hugging Face CLIP/SigLIP", "vision_model.embeddings.patch_embedding.weight",
     "vision_model.embeddings.patch_embedding.bias",
     "vision_model.embeddings.position_embedding.weight", "vision_model.embeddings.class_embedding",
     "", KernelLayout::Oihw},
    {"llama.cpp CLIP (GGUF)", "v.patch_embd.weight", "v.patch_embd.bias", "v.position_embd.weight",
     "v.class_embd", "", KernelLayout::Oihw},
    {"Google ViT (npz)", "embedding/kernel", "embedding/bias",
     "Transformer/posembed_input/pos_embedding", "cls", "", KernelLayout::Hwio},
};

struct Candidate {
  const Family* family;
  std::string prefix;  // "", "vit.", "module.", "opt/target/", ...
  std::string name;
};

// name is suffix itself or suffix under a prefix that ends at a '.' or '/' boundary.
bool matchesSuffix(const std::string& name, const std::string& suffix, std::string& prefix) {
  if (name.size() < suffix.size() ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return false;
  }
  prefix = name.substr(0, name.size() - suffix.size());
  return prefix.empty() || prefix.back() == '.' || prefix.back() == '/';
}

std::string listed(const std::vector<std::string>& items) {
  std::string s;
  const std::size_t shown = std::min<std::size_t>(items.size(), 12);
  for (std::size_t i = 0; i < shown; ++i) s += (i ? ", " : "") + items[i];
  if (items.size() > shown) s += ", ... (" + std::to_string(items.size() - shown) + " more)";
  return s;
}

const TensorInfo* findTensor(const std::vector<TensorInfo>& tensors, const std::string& name) {
  const auto it = std::find_if(tensors.begin(), tensors.end(),
                               [&](const TensorInfo& t) { return t.name == name; });
  return it == tensors.end() ? nullptr : &*it;
}

std::vector<std::string> fourDimensional(const std::vector<TensorInfo>& tensors) {
  std::vector<std::string> out;
  for (const TensorInfo& t : tensors) {
    if (t.shape.size() == 4) out.push_back("'" + t.name + "' " + shapeText(t.shape));
  }
  return out;
}

std::string knownNames() {
  std::string s;
  for (const Family& f : kFamilies) s += std::string(s.empty() ? "" : ", ") + f.weight;
  return s;
}

WeightKeys fromFamily(const std::vector<TensorInfo>& tensors, const Candidate& c) {
  WeightKeys k;
  k.family = c.family->name;
  k.weight = c.name;
  k.layout = c.family->layout;
  const auto companion = [&](const char* suffix) {
    if (!*suffix) return std::string();
    const std::string name = c.prefix + suffix;
    return findTensor(tensors, name) ? name : std::string();
  };
  k.bias = companion(c.family->bias);
  k.positionEmbedding = companion(c.family->positionEmbedding);
  k.classToken = companion(c.family->classToken);
  k.extraPrefixTokens = companion(c.family->distillationToken).empty() ? 0 : 1;
  return k;
}

// A bias stored beside a weight of any name: "stem.weight" -> "stem.bias", "x/kernel" -> "x/bias".
std::string siblingBias(const std::vector<TensorInfo>& tensors, const std::string& weight) {
  for (const char* suffix : {"weight", "kernel"}) {
    std::string prefix;
    if (matchesSuffix(weight, suffix, prefix)) {
      const std::string bias = prefix + "bias";
      if (findTensor(tensors, bias)) return bias;
    }
  }
  return {};
}

WeightKeys generic(const std::vector<TensorInfo>& tensors, const std::string& weight,
                   std::string family) {
  WeightKeys k;
  k.family = std::move(family);
  k.weight = weight;
  // Flax and TF name convolution weights "kernel" and store them HWIO.
  std::string prefix;
  k.layout = matchesSuffix(weight, "kernel", prefix) ? KernelLayout::Hwio : KernelLayout::Oihw;
  k.bias = siblingBias(tensors, weight);
  return k;
}

}  // namespace

WeightKeys resolveWeightKeys(const std::vector<TensorInfo>& tensors,
                             const WeightLoadOptions& options, const std::string& file) {
  std::vector<Candidate> candidates;
  for (const TensorInfo& t : tensors) {
    for (const Family& f : kFamilies) {
      std::string prefix;
      if (matchesSuffix(t.name, f.weight, prefix)) candidates.push_back({&f, prefix, t.name});
    }
  }

  WeightKeys keys;
  if (!options.key.empty()) {
    if (!findTensor(tensors, options.key)) {
      const auto four = fourDimensional(tensors);
      throw Error(file, "no tensor named '" + options.key + "' (--key)" +
                            (four.empty() ? std::string() : "; 4-D tensors: " + listed(four)));
    }
    const auto known = std::find_if(candidates.begin(), candidates.end(),
                                    [&](const Candidate& c) { return c.name == options.key; });
    if (known != candidates.end()) {
      keys = fromFamily(tensors, *known);
      keys.why = "named by --key; laid out like " + keys.family;
    } else {
      keys = generic(tensors, options.key, "explicit --key");
      keys.why = std::string("named by --key; read as ") +
                 (keys.layout == KernelLayout::Hwio ? "HWIO (a 'kernel')" : "OIHW [D, C, P, P]");
    }
  } else if (candidates.size() == 1) {
    keys = fromFamily(tensors, candidates.front());
    keys.why = "'" + keys.weight + "' is the " + keys.family + " patch-embedding weight";
  } else if (candidates.size() > 1) {
    std::vector<std::string> names;
    for (const Candidate& c : candidates)
      names.push_back("'" + c.name + "' (" + c.family->name + ")");
    throw Error(file, "ambiguous: " + std::to_string(candidates.size()) +
                          " patch-embedding weights: " + listed(names) +
                          "; choose one with --key NAME");
  } else {
    // timm's NaFlexVit: its only 4-D tensor is the position grid, its patch embedding a Linear.
    if (const TensorInfo* naflex = findTensor(tensors, "embeds.proj.weight");
        naflex && naflex->shape.size() == 2)
      throw Error(file, "tensor 'embeds.proj.weight' " + shapeText(naflex->shape) +
                            " is timm's NaFlexVit Linear patch embedding (patches flattened "
                            "(ph, pw, c)), no conv: only the whole model runs (forward)");
    std::vector<const TensorInfo*> four;
    for (const TensorInfo& t : tensors) {
      if (t.shape.size() == 4) four.push_back(&t);
    }
    if (four.empty()) {
      throw Error(file, "no patch-embedding weight: none of the known names (" + knownNames() +
                            ") and no 4-D tensor among " + std::to_string(tensors.size()) +
                            " tensors; name it with --key NAME");
    }
    if (four.size() > 1) {
      throw Error(file, "ambiguous: no known patch-embedding name and " +
                            std::to_string(four.size()) + " 4-D tensors: " +
                            listed(fourDimensional(tensors)) + "; choose one with --key NAME");
    }
    keys = generic(tensors, four.front()->name, "the only 4-D tensor");
    keys.why = "'" + keys.weight + "' is the only 4-D tensor (no known family name)";
  }

  if (!options.biasKey.empty()) {
    if (!findTensor(tensors, options.biasKey))
      throw Error(file, "no tensor named '" + options.biasKey + "' (--bias-key)");
    keys.bias = options.biasKey;
  }
  return keys;
}

}  // namespace patchlens
