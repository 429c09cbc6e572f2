#include "core/model/families/dinov3_reader.h"

#include <cmath>

#include "core/io/error.h"
#include "core/model/families/family_tensors.h"
#include "core/model/families/timm_config.h"
#include "core/model/position/rope_embedding.h"
#include "core/weights/shape_text.h"
#include "core/weights/weight_loader.h"

namespace patchlens {

using Shape = FamilyTensors::Shape;

bool isTimmDinov3Port(const TensorSource& source, const std::string& path,
                      const std::string& prefix) {
  if (!source.find(prefix + "blocks.0.gamma_1") || source.find(prefix + "pos_embed") ||
      source.find(prefix + "rope.freqs"))
    return false;
  const nlohmann::json config = readTimmConfig(path);
  return config.contains("architecture") && config["architecture"].is_string() &&
         config["architecture"].get<std::string>().find("_dinov3") != std::string::npos;
}

bool isDinov3Layout(const TensorSource& source, const std::string& prefix) {
  // The stored periods are what make the file runnable: storage tokens alone (or a bias_mask)
  // are left to the lookalike refusal, which names them.
  return source.find(prefix + "rope_embed.periods") != nullptr;
}

void refuseTimmEvaLayout(const TensorSource& source, const std::string& path,
                         const std::string& prefix) {
  for (const char* name :
       {"blocks.0.gamma_1", "blocks.0.attn.q_bias", "blocks.0.attn.q_proj.weight",
        "blocks.0.mlp.fc1_g.weight", "rope.freqs"}) {
    if (source.find(prefix + name))
      throw Error(path, "tensor '" + prefix + name +
                            "' is not understood by the timm ViT/DeiT/DINOv2 reader: it is timm's "
                            "EVA layout (EVA-02, RoPE-ViT, timm's DINOv3 port: RoPE not stored "
                            "in the file), which PatchLens runs only with timm's config.json "
                            "beside the file naming its eva.py architecture");
  }
}

std::shared_ptr<const TransformerWeights> readDinov3(const TensorSource& source,
                                                     const std::string& path,
                                                     const std::string& prefix,
                                                     const TransformerLoadOptions& options) {
  // Meta's names, or timm's port (eva.py checkpoint_filter_fn: reg_token, gamma_1/2,
  // q_bias/v_bias with k fixed at 0, periods not stored: recomputed as timm does).
  const bool timm = isTimmDinov3Port(source, path, prefix);
  FamilyTensors r(source, path, prefix, "DINOv3 layout");
  r.setShapesOnly(options.shapesOnly);
  TransformerWeights w;
  TransformerConfig& c = w.config;
  const std::int64_t d = r.readWidthAndDepth(c, "a DINOv3 file");
  // SwiGLUFFN (S+/H+/7B): silu(w1 x) * w2 x, then w3. timm's port (swiglu_align_to=8: timm's
  // SwiGLU, scale_mlp off so no mlp.norm) names them fc1_g (silu), fc1_x and fc2; timm's
  // packed GluMlp fc1 [2M, D] is refused by its shape against fc2.
  const bool timmSwiglu = timm && r.has("blocks.0.mlp.fc1_g.weight");
  const bool swiglu = timmSwiglu || r.has("blocks.0.mlp.w1.weight");
  const std::string mlpIn = timmSwiglu ? "mlp.fc1_g" : swiglu ? "mlp.w1" : "mlp.fc1";
  const std::string mlpGate = timmSwiglu ? "mlp.fc1_x" : "mlp.w2";
  const std::string mlpOut = swiglu && !timmSwiglu ? "mlp.w3" : "mlp.fc2";
  // ffn_bias=False (nn.Linear(bias=False)) is decided once, from block 1: then every MLP bias
  // must be there or every one absent.
  const bool ffnBias = r.has("blocks.0." + mlpIn + ".bias");
  if (r.has("cls_norm.weight"))
    r.fail("cls_norm.weight", "is an untied cls/storage norm, which PatchLens does not run");

  RopeEmbedding rope;
  if (timm) {
    // RotaryEmbeddingDinoV3._compute_periods: temperature 100 ** (2 i / (head dim / 2)) in
    // float32; the head count must be known (config.json model_args.num_heads or --heads).
    const nlohmann::json config = readTimmConfig(path);
    int heads = options.heads;
    c.headsSource = "--heads";
    if (heads <= 0 && config.contains("model_args") && config["model_args"].is_object() &&
        config["model_args"].contains("num_heads") &&
        config["model_args"]["num_heads"].is_number_integer()) {
      heads = config["model_args"]["num_heads"].get<int>();
      c.headsSource = "config.json model_args.num_heads";
    }
    if (heads <= 0 || d % heads != 0 || (d / heads) % 4 != 0)
      throw Error(path,
                  "timm's DINOv3 port needs its head count (RoPE depends on it): "
                  "config.json model_args.num_heads or --heads N dividing the width " +
                      std::to_string(d) + " into head dims divisible by 4");
    c.numHeads = heads;
    const int quarter = static_cast<int>(d / heads) / 4;
    for (int k = 0; k < quarter; ++k) {
      const float exponent = 2.0f * static_cast<float>(k) / static_cast<float>(2 * quarter);
      rope.periods.push_back(std::pow(100.0f, exponent));
    }
  } else {
    // RoPE: the periods as stored (recomputing them from base 100 differs from the bfloat16
    // values by ~2e-3); Meta's hub models all use normalize_coords "separate". Head dim = 4 x
    // periods fixes the heads.
    const Shape periodsShape = r.shape("rope_embed.periods");
    if (periodsShape.size() != 1 || periodsShape[0] <= 0)
      r.fail("rope_embed.periods", "is " + shapeText(periodsShape) + ", expected [head dim / 4]");
    rope.periods = r.read("rope_embed.periods", periodsShape);
    for (float p : rope.periods) {
      if (!(p > 0.0f) && !r.shapesOnly()) r.fail("rope_embed.periods", "holds a period <= 0");
    }
    const int headDim = rope.headDim();
    if (d % headDim != 0)
      r.fail("rope_embed.periods", "gives head dim " + std::to_string(headDim) +
                                       ", which does not divide the width " + std::to_string(d));
    c.numHeads = static_cast<int>(d / headDim);
    c.headsSource =
        "rope_embed.periods: head dim = 4 x " + std::to_string(rope.periods.size()) + " periods";
    if (options.heads > 0 && options.heads != c.numHeads) {
      throw Error(path, "--heads " + std::to_string(options.heads) + " disagrees with the " +
                            std::to_string(c.numHeads) +
                            " heads rope_embed.periods fixes (head dim " + std::to_string(headDim) +
                            ")");
    }
  }

  // Token order (prepare_tokens_with_masks): cls, storage tokens, patches. cls_token +
  // 0 * mask_token is cls_token for finite values; mask_token is otherwise unused at inference.
  c.classToken = true;
  std::vector<float> prefixRows = r.read("cls_token", {d});
  const std::string storageName = timm ? "reg_token" : "storage_tokens";
  if (r.has(storageName)) {
    const Shape s = r.shape(storageName);
    const std::int64_t n = s.size() == 3 ? s[1] : -1;
    if (n < 0) r.fail(storageName, "is " + shapeText(s) + ", expected [1, R, D]");
    const std::vector<float> storage = r.read(storageName, {n, d});
    prefixRows.insert(prefixRows.end(), storage.begin(), storage.end());
    c.registerTokens = static_cast<int>(n);
  }
  if (r.has("mask_token")) r.read("mask_token", {d});
  for (const char* unused : {"local_cls_norm.weight", "local_cls_norm.bias"}) {
    if (r.has(unused)) r.markUsed(unused);  // training-only (local crops), never used at eval
  }
  w.prefixTokens = Eigen::Map<const RowMatrixF>(prefixRows.data(), 1 + c.registerTokens, d);
  rope.prefixTokens = c.prefixTokens();
  c.family = timm ? "timm DINOv3 port (" + std::to_string(c.registerTokens) + " registers, RoPE" +
                        (swiglu ? ", SwiGLU)" : ")")
                  : "Meta DINOv3 (" + std::to_string(c.registerTokens) + " storage tokens, RoPE" +
                        (swiglu ? ", SwiGLU)" : ")");

  // layernormbf16 = nn.LayerNorm(eps=1e-5) in every hub ViT; nn.GELU (erf).
  c.layerNormEps = 1e-5f;
  c.activation = swiglu ? Activation::SwiGlu : Activation::Gelu;
  c.finalNorm = true;
  c.hasPositionEmbedding = false;
  const std::string ls1 = timm ? "gamma_1" : "ls1.gamma", ls2 = timm ? "gamma_2" : "ls2.gamma";
  c.layerScale = r.has("blocks.0." + ls1);
  w.finalNorm = r.layerNorm("norm", d);

  w.blocks.resize(static_cast<std::size_t>(c.depth));
  for (int i = 0; i < c.depth; ++i) {
    r.setContext("block " + std::to_string(i + 1) + " of " + std::to_string(c.depth));
    const std::string p = "blocks." + std::to_string(i) + ".";
    TransformerBlock& blk = w.blocks[static_cast<std::size_t>(i)];
    blk.norm1 = r.layerNorm(p + "norm1", d);
    const RowMatrixF qkvWeight = r.matrix(p + "attn.qkv.weight", 3 * d, d);
    VectorF qkvBias = VectorF::Zero(3 * d);
    if (timm && r.has(p + "attn.q_bias")) {  // timm: cat(q_bias, k_bias = 0, v_bias)
      qkvBias.head(d) = r.vector(p + "attn.q_bias", d);
      qkvBias.tail(d) = r.vector(p + "attn.v_bias", d);
    } else if (!timm && r.has(p + "attn.qkv.bias")) {
      qkvBias = r.vector(p + "attn.qkv.bias", 3 * d);
      // LinearKMaskedBias: bias * bias_mask (init_weights_vit's [1, 0, 1] zeroes the k bias).
      if (r.has(p + "attn.qkv.bias_mask"))
        qkvBias = qkvBias.cwiseProduct(r.vector(p + "attn.qkv.bias_mask", 3 * d));
    }
    blk.qkv = r.linear(qkvWeight, qkvBias, 3 * d, d);
    blk.proj =
        r.linear(r.matrix(p + "attn.proj.weight", d, d), r.vector(p + "attn.proj.bias", d), d, d);
    blk.norm2 = r.layerNorm(p + "norm2", d);
    const std::string in = p + mlpIn;
    const std::string out = p + mlpOut;
    const Shape fc1 = r.shape(in + ".weight");
    if (fc1.size() != 2 || fc1[1] != d)
      r.fail(in + ".weight", "is " + shapeText(fc1) + ", expected [M, " + std::to_string(d) + "]");
    const std::int64_t m = fc1[0];
    const auto layer = [&](const std::string& stem, std::int64_t rows, std::int64_t cols) {
      const RowMatrixF weight = r.matrix(stem + ".weight", rows, cols);
      return r.linear(weight,
                      ffnBias ? r.vector(stem + ".bias", rows) : VectorF(VectorF::Zero(rows)), rows,
                      cols);
    };
    blk.fc1 = layer(in, m, d);
    if (swiglu) blk.fc1Gate = layer(p + mlpGate, m, d);
    blk.fc2 = layer(out, d, m);
    if (c.layerScale) {
      blk.layerScale1 = r.vector(p + ls1, d);
      blk.layerScale2 = r.vector(p + ls2, d);
    }
    if (i == 0) c.mlpDim = static_cast<int>(m);
    if (m != c.mlpDim) r.fail(in + ".weight", "has another MLP width than block 1");
  }
  r.setContext({});

  r.finishWithPatchEmbedding(w, options.patch);
  w.rope = std::make_shared<const RopeEmbedding>(std::move(rope));
  return std::make_shared<const TransformerWeights>(std::move(w));
}

}  // namespace patchlens
