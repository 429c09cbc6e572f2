#include "app/cli/forward_command.h"

#include <charconv>
#include <chrono>
#include <cmath>
#include <iomanip>

#include "core/io/error.h"
#include "core/model/initializers.h"
#include "core/model/nonfinite.h"
#include "core/model/patch_embedding.h"
#include "core/model/qkv_features.h"
#include "core/model/resource_plan.h"
#include "core/weights/npy_array.h"
#include "core/weights/npz_writer.h"

namespace patchlens::cli {
namespace {

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

TransformerLoadOptions loadOptions(const CommandLine& cl) {
  TransformerLoadOptions options;
  options.heads = cl.heads;
  options.patch = cl.config.weights.file;
  options.maxMemoryBytes = cl.config.maxMemoryBytes;
  return options;
}

// --layer as a tokens index 0..depth, or depth + 1 for "final".
int layerIndex(const std::string& text, int depth) {
  if (text == "final") return depth + 1;
  int value = -1;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || value < 0 || value > depth) {
    throw UsageError("--layer needs 0.." + std::to_string(depth) + " or 'final' (the model has " +
                     std::to_string(depth) + " blocks), got '" + text + "'");
  }
  return value;
}

std::vector<std::int64_t> shapeOf(const RowMatrixF& m) {
  return {m.rows(), m.cols()};
}

// NaN/Inf in the arrays forward writes: refused, or with --allow-nonfinite one warning line
// naming the count and the first array (in layer order) that holds them.
void checkFinite(const CommandLine& cl, const TransformerOutput& r, int layer, int depth,
                 const std::string& file, std::ostream& err) {
  std::vector<std::pair<std::string, const RowMatrixF*>> arrays;
  arrays.emplace_back("patch_embedding", &r.patchEmbedding);
  for (std::size_t l = 0; l < r.tokens.size(); ++l)
    arrays.emplace_back("tokens_" + std::to_string(l), &r.tokens[l]);
  arrays.emplace_back("final", &r.final);
  std::int64_t total = 0;
  std::string first;
  if (countNonFinite(r.patchEmbedding) == 0 && r.firstNonFiniteLayer >= 0)  // layers not kept
    first =
        r.firstNonFiniteLayer > depth ? "final" : "tokens_" + std::to_string(r.firstNonFiniteLayer);
  for (std::size_t i = 0; i < arrays.size(); ++i) {
    const bool written = layer < 0 || (layer > depth ? arrays[i].first == "final"
                                                     : i == static_cast<std::size_t>(layer) + 1);
    const std::int64_t bad = countNonFinite(*arrays[i].second);
    if (bad > 0 && first.empty()) first = arrays[i].first;
    if (written) total += bad;
  }
  if (total == 0) return;  // e.g. --layer 0 written, NaN only in later layers
  const std::string what = std::to_string(total) + " non-finite values (NaN/Inf) in the output" +
                           ", first appearing in " + first;
  if (!cl.allowNonFinite) throw Error(file, what + "; --allow-nonfinite writes them anyway");
  err << "patchlens-cli: warning: " << printable(file) << ": " << what << "\n";
}

}  // namespace

void checkForwardPlan(const CommandLine& cl, const VisionTransformer& vit,
                      const PreprocessConfig& input) {
  const TransformerConfig& c = vit.config();
  const GridSize grid =
      PatchEmbedding::gridFor(input.height, input.width, c.patchSize, RemainderPolicy::Crop);
  ResourcePlan plan = forwardPlan(c, grid.rows, grid.cols, cl.attention, !cl.layer.empty(),
                                  /*observedAttention=*/cl.attention);
  plan.inputBytes = modelInputBytes(input);
  if (cl.layer.empty()) plan.outputHint = cl.attention ? "--layer L, no --attention" : "--layer L";
  if (cl.qkv) {
    // q, k, v of every block (or of --layer L's), written as each block runs: one block's copy
    // held at a time.
    plan.outputBytes += qkvBytes(c, plan.tokens, cl.layer.empty() ? c.depth : 1);
    plan.activationBytes += qkvBytes(c, plan.tokens, 1);
    if (cl.layer.empty()) plan.outputHint = "--qkv --layer L";
  }
  checkResourcePlan(plan, {cl.config.maxMemoryBytes, cl.config.maxOutputBytes},
                    cl.config.weights.source);
}

void checkForwardOutput(const CommandLine& cl) {
  if (cl.qkv && !endsWith(cl.output, ".npz"))
    throw UsageError("--qkv writes q_L, k_L, v_L [H, T, dh] beside the tokens: -o OUT.npz");
  if (cl.qkv && cl.layer == "final")
    throw UsageError("--qkv --layer L needs a block L = 1..depth (final is no block)");
  if (cl.qkv) {
    if (parseInitializer(cl.config.weights.source))
      throw UsageError("forward needs a checkpoint with transformer blocks: --weights FILE");
    return;
  }
  if (cl.layer.empty() && !endsWith(cl.output, ".npz"))
    throw UsageError("forward writes -o OUT.npz (or -o OUT.npy with --layer L)");
  if (!cl.layer.empty() && !endsWith(cl.output, ".npy"))
    throw UsageError("--layer writes one [T, D] array: -o OUT.npy");
  if (parseInitializer(cl.config.weights.source))
    throw UsageError("forward needs a checkpoint with transformer blocks: --weights FILE");
}

VisionTransformer loadTransformer(const CommandLine& cl) {
  const std::string& path = cl.config.weights.source;
  std::string whyNot;
  std::optional<VisionTransformer> vit = VisionTransformer::load(path, loadOptions(cl), &whyNot);
  if (!vit) throw Error(path, "only a patch embedding, no transformer to run: " + whyNot);
  return std::move(*vit);
}

void runForward(const CommandLine& cl, const VisionTransformer& vit, const ChwTensor& input,
                const std::string& inputName, std::ostream& out, std::ostream& err) {
  const auto start = std::chrono::steady_clock::now();
  const TransformerConfig& c = vit.config();
  const int layer = cl.layer.empty() ? -1 : layerIndex(cl.layer, c.depth);
  if (cl.qkv && layer == 0)
    throw UsageError("--qkv --layer L needs a block L = 1..depth (tokens_0 is no block's)");
  PreprocessConfig shape;
  shape.height = input.height;
  shape.width = input.width;
  shape.channels = input.channels;
  checkForwardPlan(cl, vit, shape);  // again: a --tensor input is sized only here
  std::optional<NpzWriter> npz;
  if (layer < 0 || cl.qkv) npz.emplace(cl.output);
  AttentionObserver observer;
  if (npz && cl.attention) {
    observer = [&](int block, const std::vector<RowMatrixF>& heads) {
      std::vector<const float*> parts;
      for (const RowMatrixF& h : heads) parts.push_back(h.data());
      const std::int64_t tokens = heads.front().rows();
      npz->add("attention_" + std::to_string(block),
               {static_cast<std::int64_t>(heads.size()), tokens, tokens}, parts);
    };
  }
  QkvObserver qkvObserver;
  if (cl.qkv) {
    qkvObserver = [&](int block, const RowMatrixF& qkv) {
      if (layer >= 0 && block != layer) return;
      const std::int64_t tokens = qkv.rows();
      const std::int64_t heads = c.numHeads;
      const std::int64_t headDim = c.headDim();
      const std::pair<const char*, TokenSource> parts[] = {
          {"q_", TokenSource::Queries}, {"k_", TokenSource::Keys}, {"v_", TokenSource::Values}};
      for (const auto& [prefix, source] : parts) {
        const RowMatrixF h = qkvHeads(qkv, source, c.numHeads);
        if (!cl.allowNonFinite && countNonFinite(h) > 0) {
          throw Error(cl.config.weights.source,
                      std::to_string(countNonFinite(h)) +
                          " non-finite values (NaN/Inf) in the output, first appearing in " +
                          prefix + std::to_string(block) +
                          "; --allow-nonfinite writes them anyway");
        }
        npz->add(prefix + std::to_string(block), {heads, tokens, headDim}, h.data());
      }
    };
  }
  TransformerOutput result;
  try {
    result = vit.forward(input, observer, layer < 0 ? KeptLayers{} : KeptLayers::only(layer),
                         qkvObserver);
  } catch (const Error& e) {
    if (!e.file().empty()) throw;
    throw Error(inputName, e.reason());
  }
  checkFinite(cl, result, layer, c.depth, cl.config.weights.source, err);
  const RowMatrixF* single = nullptr;
  if (npz && layer >= 0) {  // --qkv --layer L: tokens_L beside q_L, k_L, v_L
    const RowMatrixF& tokens = result.tokens[static_cast<std::size_t>(layer)];
    npz->add("tokens_" + std::to_string(layer), shapeOf(tokens), tokens.data());
    npz->commit();
  } else if (npz) {
    npz->add("patch_embedding", shapeOf(result.patchEmbedding), result.patchEmbedding.data());
    for (std::size_t l = 0; l < result.tokens.size(); ++l)
      npz->add("tokens_" + std::to_string(l), shapeOf(result.tokens[l]), result.tokens[l].data());
    npz->add("final", shapeOf(result.final), result.final.data());
    npz->commit();
  } else {
    single = layer > c.depth ? &result.final : &result.tokens[static_cast<std::size_t>(layer)];
    writeNpy(cl.output, shapeOf(*single), single->data());
  }
  const auto tokens = result.final.rows();
  out << "wrote " << cl.output << ": ";
  if (cl.qkv && layer >= 0) {
    out << "tokens_" << layer << " [" << tokens << ", " << c.embedDim << "], q_" << layer << ", k_"
        << layer << ", v_" << layer << " [" << c.numHeads << ", " << tokens << ", " << c.headDim()
        << "]";
  } else if (single) {
    out << (layer > c.depth ? "final" : "tokens_" + std::to_string(layer)) << " float32 [" << tokens
        << ", " << c.embedDim << "]";
  } else {
    out << "patch_embedding, tokens_0.." << c.depth << ", final [" << tokens << ", " << c.embedDim
        << "]" << (cl.attention ? ", attention_1.." + std::to_string(c.depth) : "")
        << (cl.qkv
                ? ", q_L, k_L, v_L [" + std::to_string(c.numHeads) + ", " + std::to_string(tokens) +
                      ", " + std::to_string(c.headDim()) + "] L = 1.." + std::to_string(c.depth)
                : "");
  }
  out << " (" << c.family << ", " << result.gridRows << " x " << result.gridCols << " grid + "
      << c.prefixTokens() << (c.prefixTokens() == 1 ? " prefix token, " : " prefix tokens, ")
      << c.numHeads << " heads"
      << (c.headsGuessed ? " guessed from the width; --heads N to set" : "") << ", " << std::fixed
      << std::setprecision(1)
      << std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count()
      << " ms)\n";
}

void describeTransformer(const CommandLine& cl, const std::string& path, std::ostream& out) {
  std::string whyNot;
  try {
    // From the headers: no block tensor is converted, so a model too large to load is still
    // described.
    TransformerLoadOptions options = loadOptions(cl);
    options.shapesOnly = true;
    const std::optional<VisionTransformer> vit = VisionTransformer::load(path, options, &whyNot);
    if (!vit) {
      out << "transformer: none, only a patch embedding (" << whyNot << ")\n";
      return;
    }
    const TransformerConfig& c = vit->config();
    out << "transformer: " << c.family << ", depth " << c.depth << ", " << c.numHeads << " heads ("
        << c.headsSource << (c.headsGuessed ? "; a guess, --heads N to set" : "") << "), width "
        << c.embedDim << ", MLP width " << c.mlpDim << ", " << activationName(c.activation)
        << ", LayerNorm eps " << c.layerNormEps << "\n";
    out << "tokens: ";
    const auto names = c.prefixTokenNames();
    if (names.empty()) out << "no prefix tokens";
    for (std::size_t i = 0; i < names.size(); ++i) out << (i ? ", " : "") << names[i];
    out << " (" << c.prefixTokens() << " prefix), then the patches in row-major order\n";
    if (!c.hasPositionEmbedding) out << "position embedding: none\n";
    if (c.hasPositionEmbedding) {
      out << "position embedding: absolute learned, ";
      if (c.nativeGridRows > 0) {
        out << c.nativeGridRows << " x " << c.nativeGridCols << " grid";
      } else {
        out << "a non-square grid";
      }
      out << " (from " << c.nativeGridSource << "), on " << c.positionPrefixRows << " prefix token"
          << (c.positionPrefixRows == 1 ? "" : "s") << " and the patches; other grids: "
          << (c.resample == PositionResample::TimmBicubic ? "timm bicubic resampling"
              : c.resample == PositionResample::NaflexBicubic
                  ? "resized per image (bicubic, antialias)"
              : c.resample == PositionResample::NaflexBilinear
                  ? "resized per image (bilinear, antialias)"
              : c.resample == PositionResample::HfScaleFactor
                  ? "HF interpolate_pos_encoding"
                  : "refused, as the family's code does")
          << "\n";
    }
    if (!c.relativePositionBias.empty())
      out << "relative position bias: " << c.relativePositionBias << "\n";
    for (const UnusedTensors& u : c.unusedTensors) {
      out << "unused by the encoder: ";
      for (std::size_t i = 0; i < u.names.size() && i < 8; ++i)
        out << (i ? ", " : "") << printable(u.names[i]);
      if (u.names.size() > 8) out << " and " << u.names.size() - 8 << " more";
      out << " (" << u.reason << ")\n";
    }
  } catch (const Error& e) {
    out << "transformer: not usable: " << e.reason() << "\n";
  }
}

}  // namespace patchlens::cli
