#include "core/model/families/beit_reader.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "core/io/error.h"
#include "core/model/families/family_tensors.h"
#include "core/model/families/timm_config.h"
#include "core/model/family_tensor_rules.h"
#include "core/model/position/relative_position_bias.h"
#include "core/weights/config_values.h"
#include "core/weights/shape_text.h"
#include "core/weights/weight_loader.h"

namespace patchlens {
namespace {

using Shape = FamilyTensors::Shape;

constexpr const char* kTimm = "timm ViT/DeiT/DINOv2";
constexpr const char* kHf = "Hugging Face ViT";

// One naming of the same model: timm beit.py or HF modeling_beit.py (convert_beit_unilm_to_
// pytorch.py's renames: norm1 -> layernorm_before, gamma_1 -> lambda_1, qkv split into
// query / key / value with q_bias / v_bias as their biases, ...).
struct BeitNames {
  bool hf;
  std::string blockStem, norm1, norm2, proj, fc1, fc2, ls1, ls2;
  std::string blockBias, sharedBias;  // stems of relative_position_bias_table / _index
  std::string cls, pos, finalNorm, patch;
};

BeitNames namesFor(bool hf) {
  if (hf) {
    return {true,
            "encoder.layer.",
            "layernorm_before",
            "layernorm_after",
            "attention.output.dense",
            "intermediate.dense",
            "output.dense",
            "lambda_1",
            "lambda_2",
            "attention.attention.relative_position_bias.",
            "encoder.relative_position_bias.",
            "embeddings.cls_token",
            "embeddings.position_embeddings",
            "layernorm",
            "embeddings.patch_embeddings.projection"};
  }
  return {false,           "blocks.",   "norm1",     "norm2",   "attn.proj",
          "mlp.fc1",       "mlp.fc2",   "gamma_1",   "gamma_2", "attn.",
          "rel_pos_bias.", "cls_token", "pos_embed", "norm",    "patch_embed.proj"};
}

// The [(2 Wh - 1)(2 Ww - 1) + 3, heads] table under stem, its stored index (if any) checked
// against beit.py's gen_relative_position_index.
std::shared_ptr<const RelativePositionBias> readBias(FamilyTensors& r, const std::string& stem,
                                                     int windowRows, int windowCols, int heads) {
  const std::string table = stem + "relative_position_bias_table";
  if (!r.has(table)) return nullptr;
  auto bias = std::make_shared<RelativePositionBias>();
  bias->windowRows = windowRows;
  bias->windowCols = windowCols;
  bias->table = r.matrix(table, RelativePositionBias::tableRows(windowRows, windowCols), heads);
  // The stored index (int64: unilm and older HF files) is dropped as timm's checkpoint_filter_fn
  // and HF's loader drop it, and recomputed (relativePositionIndex); its shape must be this
  // window's. Known unused (family_tensor_rules.cpp), so `info` lists it.
  const std::string indexName = stem + "relative_position_index";
  if (r.has(indexName)) {
    const std::int64_t n = 1 + static_cast<std::int64_t>(windowRows) * windowCols;
    const Shape s = r.shape(indexName);
    if (s != Shape{n, n})
      r.fail(indexName, "is " + shapeText(s) + ", but the table's " + std::to_string(windowRows) +
                            "x" + std::to_string(windowCols) + " window has an index of " +
                            shapeText({n, n}));
  }
  return bias;
}

// The image size a config.json names (timm model_args.img_size or pretrained_cfg.input_size,
// HF image_size), as rows x cols in pixels; 0 x 0 when none.
std::pair<int, int> configImageSize(const nlohmann::json& config, bool hf,
                                    const std::string& path) {
  const auto side = [&](const nlohmann::json& v, const std::string& what) {
    try {
      return imageSide(configNumber(v, what), what);
    } catch (const ConfigValueError& e) {
      throw Error(path, std::string("config.json: ") + e.what());
    }
  };
  const auto pair = [&](const nlohmann::json& v, const std::string& what) -> std::pair<int, int> {
    if (v.is_array() && v.size() == 2) return {side(v[0], what), side(v[1], what)};
    if (v.is_array() && v.size() == 3) return {side(v[1], what), side(v[2], what)};  // C, H, W
    const int s = side(v, what);
    return {s, s};
  };
  if (hf && config.contains("image_size")) return pair(config["image_size"], "image_size");
  if (!hf && config.contains("model_args") && config["model_args"].is_object() &&
      config["model_args"].contains("img_size"))
    return pair(config["model_args"]["img_size"], "model_args.img_size");
  if (!hf && config.contains("pretrained_cfg") && config["pretrained_cfg"].is_object() &&
      config["pretrained_cfg"].contains("input_size"))
    return pair(config["pretrained_cfg"]["input_size"], "pretrained_cfg.input_size");
  return {0, 0};
}

}  // namespace

bool isBeitLayout(const TensorSource& source, const std::string& keysFamily,
                  const std::string& prefix) {
  if (keysFamily != kTimm && keysFamily != kHf) return false;
  const BeitNames n = namesFor(keysFamily == kHf);
  // BEiT's k projection has no bias (timm: qkv without bias, q_bias / v_bias beside it): a ViT
  // with a k bias and a table is another model, left to the lookalike refusal.
  const std::string kBias = n.hf ? "attention.attention.key.bias" : "attn.qkv.bias";
  if (source.find(prefix + n.blockStem + "0." + kBias)) return false;
  return source.find(prefix + n.blockStem + "0." + n.blockBias + "relative_position_bias_table") ||
         source.find(prefix + n.sharedBias + "relative_position_bias_table");
}

std::shared_ptr<const TransformerWeights> readBeit(const TensorSource& source,
                                                   const std::string& path,
                                                   const std::string& keysFamily,
                                                   const std::string& prefix,
                                                   const TransformerLoadOptions& options) {
  const BeitNames n = namesFor(keysFamily == kHf);
  FamilyTensors r(source, path, prefix, "BEiT layout");
  r.setShapesOnly(options.shapesOnly);
  TransformerWeights w;
  TransformerConfig& c = w.config;
  const Shape patchShape = r.shape(n.patch + ".weight");
  if (patchShape.size() != 4) r.fail(n.patch + ".weight", "is not a 4-D kernel");
  const std::int64_t d = patchShape[0];
  c.embedDim = static_cast<int>(d);
  c.depth = r.countBlocks(n.blockStem);
  if (c.depth == 0) r.fail(n.blockStem + "0.", "is missing: a BEiT file with no blocks");
  const std::string first = n.blockStem + "0.";
  if (r.has(first + "mlp.fc1_g.weight"))
    r.fail(first + "mlp.fc1_g.weight", "is timm's SwiGLU BEiT MLP, which PatchLens does not run");

  // Heads: the table's columns (either table), which --heads and config.json must agree with.
  const std::string blockTable = first + n.blockBias + "relative_position_bias_table";
  const std::string sharedTable = n.sharedBias + "relative_position_bias_table";
  const std::string table = r.has(blockTable) ? blockTable : sharedTable;
  const Shape tableShape = r.shape(table);
  if (tableShape.size() != 2 || tableShape[0] < 4 || tableShape[1] <= 0 || d % tableShape[1] != 0)
    r.fail(table, "is " + shapeText(tableShape) + ", expected [distances, heads dividing " +
                      std::to_string(d) + "]");
  c.numHeads = static_cast<int>(tableShape[1]);
  c.headsSource = table + ": [distances, heads]";
  const nlohmann::json config = readTimmConfig(path);
  const nlohmann::json* headsKey = nullptr;
  if (n.hf && config.contains("num_attention_heads")) headsKey = &config["num_attention_heads"];
  if (!n.hf && config.contains("model_args") && config["model_args"].is_object() &&
      config["model_args"].contains("num_heads"))
    headsKey = &config["model_args"]["num_heads"];
  const bool optionDisagrees = options.heads > 0 && options.heads != c.numHeads;
  const bool configDisagrees =
      headsKey && !(headsKey->is_number_integer() && headsKey->get<int>() == c.numHeads);
  if (optionDisagrees || configDisagrees)
    throw Error(path, std::string(optionDisagrees ? "--heads" : "config.json's head count") +
                          " disagrees with the " + std::to_string(c.numHeads) +
                          " heads of the relative position bias table '" + prefix + table + "'");

  // The window the tables were trained for: config.json's image size, else a square table.
  const int patchRows = static_cast<int>(patchShape[2]),
            patchCols = static_cast<int>(patchShape[3]);
  auto [imageRows, imageCols] = configImageSize(config, n.hf, path);
  int windowRows = imageRows / std::max(patchRows, 1),
      windowCols = imageCols / std::max(patchCols, 1);
  c.nativeGridSource = "config.json image size";
  if (windowRows <= 0 || windowCols <= 0) {
    const double side = (std::sqrt(static_cast<double>(tableShape[0] - 3)) + 1.0) / 2.0;
    windowRows = windowCols =
        static_cast<int>(std::min(std::lround(side), 1L << 20));  // no overflow
    c.nativeGridSource = "a square relative position bias table";
  }
  if (windowRows <= 0 || RelativePositionBias::tableRows(windowRows, windowCols) != tableShape[0])
    r.fail(table, "has " + std::to_string(tableShape[0]) + " rows, which fit no " +
                      (c.nativeGridSource == "a square relative position bias table"
                           ? "square window (a config.json beside the file naming the image "
                             "size decides a non-square one)"
                           : std::to_string(windowRows) + "x" + std::to_string(windowCols) +
                                 " window ((2 Wh - 1)(2 Ww - 1) + 3)"));
  c.nativeGridRows = windowRows;
  c.nativeGridCols = windowCols;

  // Token order: cls, then the patches; pos_embed (use_abs_pos_emb) on cls + patches.
  c.classToken = true;
  w.prefixTokens = r.matrix(n.cls, 1, d);
  const std::int64_t patches = static_cast<std::int64_t>(windowRows) * windowCols;
  c.hasPositionEmbedding = r.has(n.pos);
  if (c.hasPositionEmbedding) {
    w.positions = r.matrix(n.pos, 1 + patches, d);
    c.positionPrefixRows = 1;
    c.resample = PositionResample::None;  // another grid is refused by the bias anyway
  }
  for (const char* mask : {"mask_token", "embeddings.mask_token"}) {
    if (r.has(mask)) r.read(mask, {d});  // masked-image pre-training only
  }

  // timm: LayerNorm eps 1e-6, nn.GELU; HF: config.json layer_norm_eps (BeitConfig: 1e-12),
  // hidden_act.
  c.layerNormEps = n.hf ? 1e-12f : 1e-6f;
  c.activation = Activation::Gelu;
  try {
    if (n.hf && config.contains("layer_norm_eps"))
      c.layerNormEps =
          layerNormEps(configNumber(config["layer_norm_eps"], "layer_norm_eps"), "layer_norm_eps");
    if (n.hf && config.contains("hidden_act")) {
      const std::string act =
          config["hidden_act"].is_string() ? config["hidden_act"].get<std::string>() : "?";
      if (act != "gelu") throw ConfigValueError("hidden_act '" + act + "' is not BEiT's gelu");
    }
  } catch (const ConfigValueError& e) {
    throw Error(path, std::string("config.json: ") + e.what());
  }
  c.finalNorm = r.has(n.finalNorm + ".weight");  // Identity under mean pooling (fc_norm)
  if (c.finalNorm) w.finalNorm = r.layerNorm(n.finalNorm, d);
  c.layerScale = r.has(first + n.ls1);

  w.sharedRelativeBias = readBias(r, n.sharedBias, windowRows, windowCols, c.numHeads);
  w.blocks.resize(static_cast<std::size_t>(c.depth));
  for (int i = 0; i < c.depth; ++i) {
    r.setContext("block " + std::to_string(i + 1) + " of " + std::to_string(c.depth));
    const std::string p = n.blockStem + std::to_string(i) + ".";
    TransformerBlock& blk = w.blocks[static_cast<std::size_t>(i)];
    blk.norm1 = r.layerNorm(p + n.norm1, d);
    RowMatrixF qkvWeight;
    VectorF qkvBias = VectorF::Zero(3 * d);  // the k bias is fixed at 0 in both namings
    if (n.hf) {
      const std::string a = p + "attention.attention.";
      if (!r.shapesOnly()) qkvWeight.resize(3 * d, d);
      const char* const parts[3] = {"query.weight", "key.weight", "value.weight"};
      for (int k = 0; k < 3; ++k) {
        const RowMatrixF part = r.matrix(a + parts[k], d, d);  // empty in shapes-only mode
        if (!r.shapesOnly()) qkvWeight.middleRows(k * d, d) = part;
      }
      if (r.has(a + "query.bias")) qkvBias.head(d) = r.vector(a + "query.bias", d);
      if (r.has(a + "value.bias")) qkvBias.tail(d) = r.vector(a + "value.bias", d);
    } else {
      qkvWeight = r.matrix(p + "attn.qkv.weight", 3 * d, d);
      if (r.has(p + "attn.q_bias")) {  // qkv_bias=True: cat(q_bias, k_bias = 0, v_bias)
        qkvBias.head(d) = r.vector(p + "attn.q_bias", d);
        qkvBias.tail(d) = r.vector(p + "attn.v_bias", d);
      }
    }
    blk.qkv = r.linear(qkvWeight, qkvBias, 3 * d, d);
    blk.proj =
        r.linear(r.matrix(p + n.proj + ".weight", d, d), r.vector(p + n.proj + ".bias", d), d, d);
    blk.norm2 = r.layerNorm(p + n.norm2, d);
    const Shape fc1 = r.shape(p + n.fc1 + ".weight");
    if (fc1.size() != 2 || fc1[1] != d)
      r.fail(p + n.fc1 + ".weight",
             "is " + shapeText(fc1) + ", expected [M, " + std::to_string(d) + "]");
    const std::int64_t m = fc1[0];
    blk.fc1 =
        r.linear(r.matrix(p + n.fc1 + ".weight", m, d), r.vector(p + n.fc1 + ".bias", m), m, d);
    blk.fc2 =
        r.linear(r.matrix(p + n.fc2 + ".weight", d, m), r.vector(p + n.fc2 + ".bias", d), d, m);
    if (c.layerScale) {
      blk.layerScale1 = r.vector(p + n.ls1, d);
      blk.layerScale2 = r.vector(p + n.ls2, d);
    }
    blk.relativeBias = readBias(r, p + n.blockBias, windowRows, windowCols, c.numHeads);
    if (i == 0) c.mlpDim = static_cast<int>(m);
    if (m != c.mlpDim) r.fail(p + n.fc1 + ".weight", "has another MLP width than block 1");
    if ((blk.relativeBias != nullptr) != (w.blocks[0].relativeBias != nullptr))
      r.fail(p + n.blockBias + "relative_position_bias_table",
             "is in some blocks only (use_rel_pos_bias is all blocks or none)");
  }
  r.setContext({});

  const bool perBlock = w.blocks[0].relativeBias != nullptr;
  const bool shared = w.sharedRelativeBias != nullptr;
  c.relativePositionBias = std::string(perBlock ? "per block" : "") +
                           (perBlock && shared ? " + " : "") + (shared ? "shared" : "") + ", " +
                           std::to_string(windowRows) + "x" + std::to_string(windowCols) +
                           " grid (other grids refused)";
  const std::string model =
      n.hf ? (prefix.rfind("data2vec_vision.", 0) == 0 ? "HF Data2VecVisionModel" : "HF BeitModel")
           : "timm BEiT";
  c.family = model + " (relative position bias" + (shared && !perBlock ? ", shared)" : ")");

  PatchWeights patch = loadPatchWeights(path, options.patch);
  r.markUsed(n.patch + ".weight");
  if (r.has(n.patch + ".bias")) r.markUsed(n.patch + ".bias");
  // Every tensor: consumed, or on the BEiT known-unused list (the head, fc_norm / pooler of
  // mean pooling, ...), else refused by name.
  std::vector<std::pair<std::string, std::string>> unused;
  for (const TensorInfo& t : source.tensors()) {
    if (r.isUsed(t.name)) continue;
    const std::string reason = knownUnusedReason("BEiT", prefix, t.name);
    if (reason.empty())
      throw Error(path, "tensor '" + t.name +
                            "' is not understood by the BEiT reader (timm beit.py, HF BeitModel / "
                            "Data2VecVisionModel names)");
    unused.emplace_back(t.name, reason);
  }
  c.unusedTensors = groupUnused(unused);
  c.patchSize = patch.patchSize;
  c.inChannels = patch.inChannels;
  if (patchRows != patchCols || patch.patchSize != patchRows)
    r.fail(n.patch + ".weight", "is no square patch kernel");
  w.patchEmbedding = std::make_shared<const PatchEmbedding>(std::move(patch));
  w.shapesOnly = options.shapesOnly;
  return std::make_shared<const TransformerWeights>(std::move(w));
}

}  // namespace patchlens
