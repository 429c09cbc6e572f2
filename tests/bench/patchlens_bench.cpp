// patchlens-bench: speed of the core stages, with GFLOP/s and % of the measured FMA peak.
// Run: build/release/bin/patchlens-bench  (tests/bench/compare_torch.py adds PyTorch).
#include <benchmark/benchmark.h>
#include <qcustomplot.h>

#include <QApplication>
#include <QElapsedTimer>
#include <QImage>
#include <QPainter>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/analysis/correspondences.h"
#include "core/analysis/embedding_analysis.h"
#include "core/analysis/gradcam.h"
#include "core/analysis/layer_trace.h"
#include "core/analysis/relevance.h"
#include "core/image/image_loader.h"
#include "core/image/model_input_reader.h"
#include "core/image/pil_resampler.h"
#include "core/image/preprocess.h"
#include "core/io/threading.h"
#include "core/model/backward/transformer_backward.h"
#include "core/model/heads/classifier_head.h"
#include "core/model/initializers.h"
#include "core/model/linear_layer.h"
#include "core/model/packed_gemm.h"
#include "core/model/patch_embedding.h"
#include "core/model/pipeline.h"
#include "core/model/position/rope_embedding.h"
#include "core/model/transformer_weights.h"
#include "core/model/vision_transformer.h"
#include "tests/bench/fma_peak.h"
#include "ui/main_window.h"
#include "ui/panels/patch_inspector.h"
#include "ui/session/session.h"
#include "ui/views/image_view.h"

#ifdef PATCHLENS_HAVE_DNNL
#include <omp.h>

#include <dnnl.hpp>
#endif

using namespace patchlens;

namespace {

double g_peakGflops = 0;
double g_peakGflopsAvx2 = 0;

ChwTensor randomInput(int size) {
  ChwTensor t(3, size, size);
  cv::Mat view(1, static_cast<int>(t.data.size()), CV_32F, t.data.data());
  cv::randn(view, 0.0, 1.0);
  return t;
}

// Times every iteration and keeps the fastest: on a machine shared with other work the
// mean carries the interference (preemption, caches flushed by other processes), the best
// iteration shows what the code does on a quiet core. Both are reported.
class BestTime {
 public:
  void start() { m_start = std::chrono::steady_clock::now(); }
  void stop() {
    m_best = std::min(
        m_best, std::chrono::duration<double>(std::chrono::steady_clock::now() - m_start).count());
  }
  double seconds() const { return m_best; }

 private:
  std::chrono::steady_clock::time_point m_start;
  double m_best = std::numeric_limits<double>::infinity();
};

int effectiveThreads(int threads) {
  return threads > 0 ? threads : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

void reportFlops(benchmark::State& state, int tokens, int patchLength, int dim,
                 const BestTime* best = nullptr, int threads = 1) {
  const double flops = 2.0 * tokens * patchLength * dim;
  state.counters["GFLOPs"] = benchmark::Counter(
      flops * 1e-9 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["tokens"] = tokens;
  if (g_peakGflops > 0) {
    state.counters["peak_GFLOPs"] = g_peakGflops;
  }
  if (best && best->seconds() > 0 && std::isfinite(best->seconds())) {
    state.counters["best_ms"] = best->seconds() * 1e3;
    if (g_peakGflops > 0)
      state.counters["best_pct_peak"] =
          100.0 * flops * 1e-9 / best->seconds() / (g_peakGflops * threads);
  }
}

void embed(benchmark::State& state, int size, int patch, int dim, int threads) {
  setComputeThreads(threads);
  const PatchEmbedding layer(
      makeInitializedWeights(Initializer::Xavier, LayerShape{dim, 3, patch}, 0));
  const ChwTensor x = randomInput(size);
  // Steady state, as batch and the GUI run it: the output's storage is reused, so a
  // 2048x2048 input (50 MB of tokens) does not fault in fresh pages on every call.
  Embedding y;
  BestTime best;
  for (auto _ : state) {
    best.start();
    layer.forwardInto(x, y);
    benchmark::DoNotOptimize(y.tokens.data());
    best.stop();
  }
  const int tokens = (size / patch) * (size / patch);
  reportFlops(state, tokens, 3 * patch * patch, dim, &best, effectiveThreads(threads));
  // Time per token, to compare image sizes (the 1.3x rule).
  state.counters["s_per_token"] =
      benchmark::Counter(static_cast<double>(tokens) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// A random ViT-B/16-sized encoder (12 blocks, 768 wide, 12 heads, MLP 3072), built once: every
// case shares its packed weights. Plain: class token + 14 x 14 position table (timm ViT-B/16).
// Dinov3: Meta's DINOv3 ViT-B/16 layout: class + 4 storage tokens, RoPE (periods 100^(2i/32),
// as dinov3's RopePositionEmbedding), LayerScale, LayerNorm eps 1e-5, no position table.
// Dinov2B14: timm's DINOv2 ViT-B/14: patch 14, class token + 37 x 37 position table (518^2),
// LayerScale; the long-sequence cases (518^2, 1036^2) of issue 25.
enum class EncoderLayout { Plain, Dinov3, Dinov2B14 };

std::shared_ptr<const TransformerWeights> randomEncoderWeights(EncoderLayout layout) {
  constexpr int kDim = 768;
  constexpr int kMlp = 3072;
  constexpr int kHeads = 12;
  const bool dinov3 = layout == EncoderLayout::Dinov3;
  const bool dinov2 = layout == EncoderLayout::Dinov2B14;
  const int patch = dinov2 ? 14 : 16;
  const int grid = dinov2 ? 37 : 14;
  cv::RNG rng(15);
  const auto random = [&](int rows, int cols, float scale) {
    RowMatrixF m(rows, cols);
    cv::Mat view(rows, cols, CV_32F, m.data());
    rng.fill(view, cv::RNG::NORMAL, 0.0, scale);
    return m;
  };
  auto w = std::make_shared<TransformerWeights>();
  TransformerConfig& c = w->config;
  c.family = dinov3   ? "random DINOv3 ViT-B/16 layout"
             : dinov2 ? "random DINOv2 ViT-B/14 layout"
                      : "random ViT-B/16";
  c.embedDim = kDim;
  c.depth = 12;
  c.numHeads = kHeads;
  c.mlpDim = kMlp;
  c.classToken = true;
  c.patchSize = patch;
  c.inChannels = 3;
  w->patchEmbedding = std::make_shared<const PatchEmbedding>(
      makeInitializedWeights(Initializer::Xavier, LayerShape{kDim, 3, patch}, 0));
  if (dinov3) {
    c.registerTokens = 4;
    c.layerNormEps = 1e-5f;
    c.layerScale = true;
    c.hasPositionEmbedding = false;
    w->prefixTokens = random(5, kDim, 0.02f);
    RopeEmbedding rope;
    const int quarter = kDim / kHeads / 4;
    for (int k = 0; k < quarter; ++k)
      rope.periods.push_back(std::pow(100.0f, 2.0f * static_cast<float>(k) / (2.0f * quarter)));
    rope.prefixTokens = c.prefixTokens();
    w->rope = std::make_shared<const RopeEmbedding>(std::move(rope));
  } else {
    c.positionPrefixRows = 1;
    c.nativeGridRows = c.nativeGridCols = grid;
    c.resample = PositionResample::TimmBicubic;  // other sizes (forward-final/1024, /1036)
    c.layerScale = dinov2;
    w->prefixTokens = random(1, kDim, 0.02f);
    w->positions = random(1 + grid * grid, kDim, 0.02f);
  }
  const LayerNormWeights norm{VectorF::Ones(kDim), VectorF::Zero(kDim)};
  w->finalNorm = norm;
  const float s = 1.0f / std::sqrt(static_cast<float>(kDim));
  for (int i = 0; i < c.depth; ++i) {
    TransformerBlock b;
    b.norm1 = b.norm2 = norm;
    b.qkv = LinearLayer(random(3 * kDim, kDim, s), VectorF::Zero(3 * kDim));
    b.proj = LinearLayer(random(kDim, kDim, s), VectorF::Zero(kDim));
    b.fc1 = LinearLayer(random(kMlp, kDim, s), VectorF::Zero(kMlp));
    b.fc2 = LinearLayer(random(kDim, kMlp, 0.5f / std::sqrt(static_cast<float>(kMlp))),
                        VectorF::Zero(kDim));
    if (dinov3 || dinov2) {
      b.layerScale1 = VectorF::Constant(kDim, 0.1f);
      b.layerScale2 = VectorF::Constant(kDim, 0.1f);
    }
    w->blocks.push_back(std::move(b));
  }
  return std::shared_ptr<const TransformerWeights>(std::move(w));
}

std::shared_ptr<const TransformerWeights> vitB16Weights() {
  static const std::shared_ptr<const TransformerWeights> weights =
      randomEncoderWeights(EncoderLayout::Plain);
  return weights;
}

const VisionTransformer& vitB16() {
  static const VisionTransformer vit(vitB16Weights());
  return vit;
}

const VisionTransformer& dinov3B16() {
  static const VisionTransformer vit(randomEncoderWeights(EncoderLayout::Dinov3));
  return vit;
}

const VisionTransformer& dinov2B14() {
  static const VisionTransformer vit(randomEncoderWeights(EncoderLayout::Dinov2B14));
  return vit;
}

// The whole encoder on a 224 x 224 input (plain ViT-B/16 or the DINOv3 layout: issue 20 wants it
// <= 1.1x the plain one), the last block's attention kept, as the GUI keeps one layer.
// GFLOPs counts the GEMMs: 24 T D^2 per block (qkv, proj, MLP) + 4 T^2 D (scores, weighted
// sum) + the patch embedding.
void forward(benchmark::State& state, int threads, EncoderLayout layout) {
  setComputeThreads(threads);
  const VisionTransformer& vit = layout == EncoderLayout::Dinov3 ? dinov3B16() : vitB16();
  const ChwTensor x = randomInput(224);
  std::vector<RowMatrixF> kept;
  const AttentionObserver keepLast = [&](int block, const std::vector<RowMatrixF>& heads) {
    if (block == 12) kept = heads;
  };
  for (auto _ : state) {
    TransformerOutput out = vit.forward(x, keepLast);
    benchmark::DoNotOptimize(out.final.data());
  }
  const double t = 196 + vit.config().prefixTokens();
  const double d = 768;
  const double flops = 12 * (24 * t * d * d + 4 * t * t * d) + 2.0 * 196 * 768 * 768;
  state.counters["GFLOPs"] = benchmark::Counter(
      flops * 1e-9 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  if (g_peakGflops > 0) state.counters["peak_GFLOPs"] = g_peakGflops;
}

// patchlens-cli explain on ViT-B/16 with a 1000-class head: the forward with its activations
// kept, the exact backward from the top logit, Grad-CAM and relevance (issue 22: <= 3x the
// forward). The transposed weights are built once, outside the loop, as a session would; the
// trace and the gradients keep their buffers from one image to the next (the reusing overloads).
void explain(benchmark::State& state, int threads) {
  setComputeThreads(threads);
  static const TransformerBackward engine(vitB16Weights());
  ClassifierHead head;
  cv::RNG rng(22);
  head.weight.resize(1000, 768);
  cv::Mat view(1000, 768, CV_32F, head.weight.data());
  rng.fill(view, cv::RNG::NORMAL, 0.0, 0.05);
  head.bias = VectorF::Zero(1000);
  const TransformerConfig& c = engine.config();
  const ChwTensor x = randomInput(224);
  ForwardTrace trace;  // kept across images
  BackwardResult grads;
  for (auto _ : state) {
    engine.forward(x, trace);
    const VectorF logits = head.logits(trace.final, c);
    Eigen::Index k = 0;
    logits.maxCoeff(&k);
    VectorF unit = VectorF::Zero(1000);
    unit[k] = 1.0f;
    RelevanceAccumulator relevance(c.depth);
    engine.backward(
        trace, head.backward(trace.final, c, unit), grads,
        [&](int block, const std::vector<RowMatrixF>& gradHeads,
            const std::vector<RowMatrixF>& heads) { relevance.addBlock(block, gradHeads, heads); });
    const RowMatrixF cam = gradCamMap(trace.blocks.back().normed1, grads.gradLastNormed1,
                                      trace.gridRows, trace.gridCols);
    const RowMatrixF map = relevance.map(true, trace.gridRows, trace.gridCols);
    benchmark::DoNotOptimize(cam.data());
    benchmark::DoNotOptimize(map.data());
  }
}

// The forward as the GUI runs it: every block's attention kept, rollout and mean attention
// distances accumulated per block. The difference to forward/ is what tracing costs.
void trace(benchmark::State& state, int threads) {
  setComputeThreads(threads);
  const VisionTransformer& vit = vitB16();
  const ChwTensor x = randomInput(224);
  for (auto _ : state) {
    LayerTrace t = traceTransformer(vit, x);
    benchmark::DoNotOptimize(t.layers.back().data());
  }
}

// The encoder at any size, final tokens only, A/B in one run: with an observer that ignores
// the heads (every head's [T x T] softmax materialised, as before) and without one (the
// blocked attention). GFLOPs as in forward/ with T = grid + 1.
void forwardFinal(benchmark::State& state, int size, int threads, bool materialise,
                  EncoderLayout layout = EncoderLayout::Plain) {
  setComputeThreads(threads);
  const VisionTransformer& vit = layout == EncoderLayout::Dinov2B14 ? dinov2B14() : vitB16();
  const int patch = vit.config().patchSize;
  const ChwTensor x = randomInput(size);
  AttentionObserver ignore;
  if (materialise) ignore = [](int, const std::vector<RowMatrixF>&) {};
  BestTime best;  // the least disturbed iteration: the host is shared
  for (auto _ : state) {
    best.start();
    TransformerOutput out = vit.forward(x, ignore);
    benchmark::DoNotOptimize(out.final.data());
    best.stop();
  }
  state.counters["best_ms"] = best.seconds() * 1e3;
  const double grid = size / patch;
  const double t = grid * grid + 1;
  const double d = 768;
  const double flops =
      12 * (24 * t * d * d + 4 * t * t * d) + 2.0 * (t - 1) * 768 * (3.0 * patch * patch);
  state.counters["GFLOPs"] = benchmark::Counter(
      flops * 1e-9 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["ms_per_token"] =
      benchmark::Counter(t * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  if (g_peakGflops > 0) state.counters["peak_GFLOPs"] = g_peakGflops;
}

// One encoder linear layer on ViT-B/16's 197 tokens, as the forward calls it (packing x, the
// GEMM, the fused GELU); range = (inputs, outputs, threads, tokens). Separates the GEMMs'
// share of the forward from everything around them; 4,097 tokens is ViT-B/16 at 1024^2.
void BM_LinearLayer(benchmark::State& state) {
  const int inputs = static_cast<int>(state.range(0));
  const int outputs = static_cast<int>(state.range(1));
  setComputeThreads(static_cast<int>(state.range(2)));
  const int rows = static_cast<int>(state.range(3));
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  RowMatrixF weight(outputs, inputs);
  for (Eigen::Index i = 0; i < weight.size(); ++i) weight.data()[i] = normal(rng);
  const VectorF bias = VectorF::Constant(outputs, 0.01f);
  const LinearLayer layer(weight, bias);
  RowMatrixF x(rows, inputs);
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = normal(rng) * 50.0f;
  RowMatrixF out(rows, outputs);
  std::vector<float> scratch;
  const LinearEpilogue epilogue =
      outputs > inputs * 2 ? LinearEpilogue::Gelu : LinearEpilogue::None;
  BestTime best;
  for (auto _ : state) {
    best.start();
    layer.apply(x, out, epilogue, scratch);
    benchmark::DoNotOptimize(out.data());
    best.stop();
  }
  reportFlops(state, rows, inputs, outputs, &best, static_cast<int>(state.range(2)));
}

// The backward's dY W (explain, issue 22: its GEMMs >= 70 % of the peak) on ViT-B/16's 197
// tokens: gradIn [197 x in] = gradOut [197 x out] W through LinearLayer::applyTransposed;
// range = (inputs, outputs, threads).
void BM_LinearBackward(benchmark::State& state) {
  const int inputs = static_cast<int>(state.range(0));
  const int outputs = static_cast<int>(state.range(1));
  setComputeThreads(static_cast<int>(state.range(2)));
  const int rows = 197;
  std::mt19937 rng(22);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  RowMatrixF weight(outputs, inputs);
  for (Eigen::Index i = 0; i < weight.size(); ++i) weight.data()[i] = normal(rng);
  const LinearLayer layer(weight, VectorF::Zero(outputs));
  RowMatrixF gradOut(rows, outputs);
  for (Eigen::Index i = 0; i < gradOut.size(); ++i) gradOut.data()[i] = normal(rng);
  RowMatrixF gradIn;
  std::vector<float> scratch;
  BestTime best;
  for (auto _ : state) {
    best.start();
    layer.applyTransposed(gradOut, gradIn, scratch);
    benchmark::DoNotOptimize(gradIn.data());
    best.stop();
  }
  reportFlops(state, rows, inputs, outputs, &best, static_cast<int>(state.range(2)));
}

// The kernel alone on the 224/16/768 shapes (X already packed), one thread: what the embed
// adds on top of it is the im2col and the threading.
void BM_PackedGemm(benchmark::State& state) {
  // range(0) = 1: the AVX2 kernel (what a CPU without AVX-512 runs, and the portable package
  // there), its % of peak against the AVX2 FMA peak measured the same way.
  const bool avx2 = state.range(0) == 1;
  if (!PackedGemm::available() ||
      (avx2 && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")))) {
    state.SkipWithError("no packed kernel for this CPU");
    return;
  }
  const int rows = 196;
  const int depth = 768;
  const int dim = 768;
  const PatchWeights w = makeInitializedWeights(Initializer::Xavier, LayerShape{dim, 3, 16}, 0);
  const PackedGemm::Kernel kernel = avx2 ? PackedGemm::Kernel::Avx2 : *PackedGemm::hostKernel();
  const PackedGemm gemm(w.weight, w.bias, GemmBlocking::choose(CpuCaches::host(), depth, kernel),
                        kernel);
  std::vector<float> packed(gemm.packedRowsSize(rows), 0.5f);
  std::vector<float> out(static_cast<std::size_t>(rows) * dim);
  BestTime best;
  for (auto _ : state) {
    best.start();
    gemm.multiply(packed.data(), rows, out.data(), dim, 0, gemm.panels());
    benchmark::DoNotOptimize(out.data());
    best.stop();
  }
  reportFlops(state, rows, depth, dim, &best, 1);
  const double peak = avx2 ? g_peakGflopsAvx2 : g_peakGflops;
  if (peak > 0 && best.seconds() > 0) {
    state.counters["peak_GFLOPs"] = peak;
    state.counters["best_pct_peak"] =
        100.0 * 2.0 * rows * depth * dim * 1e-9 / best.seconds() / peak;
  }
  state.SetLabel(std::string(avx2 ? "AVX2 kernel, " : "") + gemm.blocking().describe());
}

// The kernel alone on one encoder linear layer of ViT-B/16 (197 tokens; range = (inputs,
// outputs, 1 for the AVX2 kernel)), X already packed, called as LinearLayer calls it on one
// thread: row blocks of at most 1 MB of packed X (a last micro-row of 1-3 tokens joining the
// block before it), one call per (block, 32-output panel). % of peak against the FMA peak of
// the kernel's width measured in the same run.
void BM_PackedGemmLayer(benchmark::State& state) {
  const int depth = static_cast<int>(state.range(0));
  const int outputs = static_cast<int>(state.range(1));
  const bool avx2 = state.range(2) == 1;
  if (!PackedGemm::available() ||
      (avx2 && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")))) {
    state.SkipWithError("no packed kernel for this CPU");
    return;
  }
  const PackedGemm::Kernel kernel = avx2 ? PackedGemm::Kernel::Avx2 : *PackedGemm::hostKernel();
  const int rows = 197;
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  RowMatrixF weight(outputs, depth);
  for (Eigen::Index i = 0; i < weight.size(); ++i) weight.data()[i] = normal(rng);
  const VectorF bias = VectorF::Constant(outputs, 0.01f);
  const PackedGemm gemm(weight, bias, GemmBlocking::choose(CpuCaches::host(), depth, kernel),
                        kernel);
  std::vector<float> packed(gemm.packedRowsSize(rows));
  for (float& v : packed) v = normal(rng) * 50.0f;
  std::vector<float> out(static_cast<std::size_t>(rows) * static_cast<std::size_t>(outputs));
  constexpr int kTile = PackedGemm::kTileRows;
  const int blockTiles = std::clamp(
      static_cast<int>((std::size_t{1} << 20) / (static_cast<std::size_t>(kTile) * sizeof(float) *
                                                 static_cast<std::size_t>(depth))),
      1, 14);
  const int tiles = (rows + kTile - 1) / kTile;
  int blocks = (tiles + blockTiles - 1) / blockTiles;
  if (blocks > 1 && rows % kTile > 0 && rows % kTile <= 3 && tiles % blockTiles == 1) --blocks;
  BestTime best;
  for (auto _ : state) {
    best.start();
    for (int b = 0; b < blocks; ++b) {
      const int first = b * blockTiles * kTile;
      const int count = b + 1 == blocks ? rows - first : std::min(blockTiles * kTile, rows - first);
      for (int p = 0; p < gemm.panels(); ++p)
        gemm.multiply(
            packed.data() + static_cast<std::size_t>(first) * static_cast<std::size_t>(depth),
            count, out.data() + static_cast<std::size_t>(first) * static_cast<std::size_t>(outputs),
            static_cast<std::size_t>(outputs), p, p + 1);
    }
    benchmark::DoNotOptimize(out.data());
    best.stop();
  }
  reportFlops(state, rows, depth, outputs, &best, 1);
  const double peak = avx2 ? g_peakGflopsAvx2 : g_peakGflops;
  if (peak > 0 && best.seconds() > 0) {
    state.counters["peak_GFLOPs"] = peak;
    state.counters["best_GFLOPs"] = 2.0 * rows * depth * outputs * 1e-9 / best.seconds();
    state.counters["best_pct_peak"] =
        100.0 * 2.0 * rows * depth * outputs * 1e-9 / best.seconds() / peak;
  }
  state.SetLabel(std::string(avx2 ? "AVX2 kernel, " : "") + gemm.blocking().describe());
}

#ifdef PATCHLENS_HAVE_DNNL
// oneDNN's matmul on the same GEMM (Y = X W^T + b, 196 x 768 x 768, row-major X and W, as
// PyTorch hands them over) as an anchor for the packed kernel; range(0) = threads.
void BM_DnnlMatmul(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  omp_set_num_threads(threads);
  const dnnl::memory::dim rows = 196;
  const dnnl::memory::dim depth = 768;
  const dnnl::memory::dim dim = 768;
  using tag = dnnl::memory::format_tag;
  using dt = dnnl::memory::data_type;
  const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const dnnl::memory::desc src({rows, depth}, dt::f32, tag::ab);
  const dnnl::memory::desc weights({depth, dim}, dt::f32, tag::ba);  // W [dim x depth] row-major
  const dnnl::memory::desc bias({1, dim}, dt::f32, tag::ab);
  const dnnl::memory::desc dst({rows, dim}, dt::f32, tag::ab);
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, weights, bias, dst), engine);
  const PatchWeights w = makeInitializedWeights(Initializer::Xavier, LayerShape{768, 3, 16}, 0);
  std::vector<float> x(static_cast<std::size_t>(rows * depth), 0.5f);
  std::vector<float> wt(w.weight.data(), w.weight.data() + w.weight.size());
  std::vector<float> b(static_cast<std::size_t>(dim), 0.0f);
  std::vector<float> y(static_cast<std::size_t>(rows * dim));
  dnnl::memory srcMem(src, engine, x.data());
  dnnl::memory weightMem(weights, engine, wt.data());
  dnnl::memory biasMem(bias, engine, b.data());
  dnnl::memory dstMem(dst, engine, y.data());
  const dnnl::matmul matmul(pd);
  const std::unordered_map<int, dnnl::memory> args = {{DNNL_ARG_SRC, srcMem},
                                                      {DNNL_ARG_WEIGHTS, weightMem},
                                                      {DNNL_ARG_BIAS, biasMem},
                                                      {DNNL_ARG_DST, dstMem}};
  BestTime best;
  for (auto _ : state) {
    best.start();
    matmul.execute(stream, args);
    stream.wait();
    best.stop();
  }
  reportFlops(state, static_cast<int>(rows), static_cast<int>(depth), static_cast<int>(dim), &best,
              threads);
  state.SetLabel(pd.impl_info_str());
}
#endif

// `source` scaled to `size` and written as a JPEG of `quality` under `out` (once per run).
std::string writeScaledJpeg(const char* source, const std::string& out, cv::Size size,
                            int quality) {
  const cv::Mat sample = cv::imread(source, cv::IMREAD_COLOR);
  cv::Mat scaled;
  cv::resize(sample, scaled, size, 0, 0, cv::INTER_CUBIC);
  cv::imwrite(out, scaled, {cv::IMWRITE_JPEG_QUALITY, quality});
  return out;
}

// A 4000x3000 JPEG (12 MP) made from the bundled sample.
const std::string& bigJpegPath() {
  static const std::string path =
      writeScaledJpeg(PATCHLENS_SOURCE_DIR "/resources/sample.png", "/tmp/patchlens-bench-12mp.jpg",
                      cv::Size(4000, 3000), 92);
  return path;
}

// File -> model input, exact; range(0) = 1: the fused path batch takes (ModelInputReader:
// cropped, banded decode + region resize), 0: loadImage + preprocess (the whole image).
void BM_Preprocess12mpJpeg(benchmark::State& state) {
  setComputeThreads(0);
  const std::string& path = bigJpegPath();
  ModelInputReader reader;
  PreprocessResult r;
  BestTime best;
  for (auto _ : state) {
    best.start();
    if (state.range(0) == 1) {
      reader.read(path, ImageLoadOptions{}, PreprocessConfig{}, r);
    } else {
      const LoadedImage image = loadImage(path);
      r = preprocess(image.rgb, PreprocessConfig{});
    }
    benchmark::DoNotOptimize(r.tensor.data.data());
    best.stop();
  }
  state.counters["best_ms"] = best.seconds() * 1e3;
}

// A 640 x 480 JPEG (quality 90, 4:2:0) as in compare_batch.py.
const std::string& vgaJpegPath() {
  static const std::string path =
      writeScaledJpeg(PATCHLENS_SOURCE_DIR "/tests/data/chelsea.png",
                      "/tmp/patchlens-bench-640x480.jpg", cv::Size(640, 480), 90);
  return path;
}

// What a batch worker does per image, one thread: file -> model input -> embedding;
// range(0) = 1 the fused reader, 0 loadImage + preprocess.
void BM_BatchImage(benchmark::State& state) {
  setComputeThreads(1);
  const std::string& path = vgaJpegPath();
  const PatchEmbedding layer(
      makeInitializedWeights(Initializer::Xavier, LayerShape{768, 3, 16}, 0));
  ModelInputReader reader;
  PreprocessResult r;
  Embedding y;
  BestTime best;
  for (auto _ : state) {
    best.start();
    if (state.range(0) == 1) {
      reader.read(path, ImageLoadOptions{}, PreprocessConfig{}, r);
    } else {
      const LoadedImage image = loadImage(path);
      r = preprocess(image.rgb, PreprocessConfig{});
    }
    layer.forwardInto(r.tensor, y);
    benchmark::DoNotOptimize(y.tokens.data());
    best.stop();
  }
  state.counters["best_ms"] = best.seconds() * 1e3;
}

void BM_Decode12mpJpeg(benchmark::State& state) {
  setComputeThreads(0);
  for (auto _ : state) {
    LoadedImage image = loadImage(bigJpegPath());
    benchmark::DoNotOptimize(image.rgb.data);
  }
}

// The exact PIL-compatible resize alone: 4000x3000 -> 330x248 bicubic, threads as given.
void BM_Resize12mp(benchmark::State& state) {
  setComputeThreads(static_cast<int>(state.range(0)));
  const LoadedImage image = loadImage(bigJpegPath());
  for (auto _ : state) {
    cv::Mat out = resizeLikePil(image.rgb, 330, 248, Interpolation::Bicubic);
    benchmark::DoNotOptimize(out.data);
  }
}

// File -> embedding; range(0) = 1 decodes the JPEG at reduced scale (--fast-decode), 0 is
// exact: both through ModelInputReader (the fused decode + resize, as batch runs it).
void BM_Pipeline12mpJpeg(benchmark::State& state) {
  setComputeThreads(0);
  const std::string& path = bigJpegPath();
  const PatchEmbedding layer(
      makeInitializedWeights(Initializer::Xavier, LayerShape{768, 3, 16}, 0));
  PipelineConfig config;
  config.fastDecode = state.range(0) == 1;
  ModelInputReader reader;
  PreprocessResult r;
  Embedding y;
  BestTime best;
  for (auto _ : state) {
    best.start();
    reader.read(path, config.loadOptions(), config.preprocess, r);
    layer.forwardInto(r.tensor, y);
    benchmark::DoNotOptimize(y.tokens.data());
    best.stop();
  }
  state.counters["best_ms"] = best.seconds() * 1e3;
}

// PCA of a ViT-B embedding (the GUI's PCA->RGB overlay), one thread.
void BM_TokenPca(benchmark::State& state) {
  setComputeThreads(1);
  const PatchEmbedding layer(
      makeInitializedWeights(Initializer::Xavier, LayerShape{768, 3, 16}, 0));
  const Embedding y = layer.forward(randomInput(224));
  for (auto _ : state) {
    PcaResult pca = tokenPca(y.tokens, 3);
    benchmark::DoNotOptimize(pca.projections.data());
  }
}

// Mutual nearest neighbours of two images' patch tokens (issue 23): one GEMM of the
// normalised tokens and the row / column argmax. 196 = 224^2 / 16^2; 1369 = 518^2 / 14^2.
void BM_CompareMatches(benchmark::State& state) {
  setComputeThreads(0);
  const auto n = static_cast<Eigen::Index>(state.range(0));
  std::mt19937 rng(23);
  std::normal_distribution<float> normal;
  RowMatrixF a(n, 768);
  RowMatrixF b(n, 768);
  for (Eigen::Index i = 0; i < a.size(); ++i) a.data()[i] = normal(rng);
  for (Eigen::Index i = 0; i < b.size(); ++i) b.data()[i] = 0.5f * a.data()[i] + normal(rng);
  BestTime best;  // the least disturbed run: the host is shared
  for (auto _ : state) {
    best.start();
    std::vector<PatchMatch> matches = mutualNearestNeighbours(a, b);
    benchmark::DoNotOptimize(matches.data());
    best.stop();
  }
  state.counters["best_ms"] = best.seconds() * 1e3;
}

void BM_FmaPeak(benchmark::State& state) {
  for (auto _ : state) {
    state.PauseTiming();
    state.ResumeTiming();
  }
  state.counters["peak_GFLOPs"] = g_peakGflops;
  state.counters["peak_avx2_GFLOPs"] = g_peakGflopsAvx2;
}

// The desktop window with the sample-sized test image loaded, for the render cases (made
// on first use: the other cases do not pay for it).
patchlens::MainWindow& renderWindow() {
  static patchlens::MainWindow* window = [] {
    auto* w = new patchlens::MainWindow(nullptr, patchlens::MainWindow::SettingsMode::Ephemeral);
    w->resize(1500, 950);
    w->show();
    w->openImage(QStringLiteral(PATCHLENS_SOURCE_DIR "/tests/data/chelsea.png"));
    QElapsedTimer timer;
    timer.start();
    while ((w->session()->isBusy() || !w->session()->hasResult()) && timer.elapsed() < 60000) {
      QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 50);
    }
    QCoreApplication::processEvents();
    return w;
  }();
  return *window;
}

// Channel change -> the overlay recomputed (map, range, colours) and the image view
// painted into an image of its size through its one paint path.
void BM_RenderChannelOverlay(benchmark::State& state) {
  patchlens::MainWindow& window = renderWindow();
  patchlens::Session& session = *window.session();
  if (!session.hasResult()) {
    state.SkipWithError("no image loaded");
    return;
  }
  session.setOverlay(patchlens::OverlayKind::Channel);
  patchlens::ImageView& view = *window.imageView();
  QImage target(view.size(), QImage::Format_ARGB32_Premultiplied);
  const int dim = session.result()->embedDim();
  for (auto _ : state) {
    session.setChannel((session.channel() + 1) % dim);
    QPainter painter(&target);
    view.paint(painter, QRectF(target.rect()));
    painter.end();
    benchmark::DoNotOptimize(target.constBits());
  }
  state.counters["view_px"] = static_cast<double>(target.width()) * target.height();
}

// Select a patch -> the inspector's content rebuilt (pixels, tile, plot, stats, top
// channels) and the whole inspector painted into an image of its size.
void BM_RenderInspector(benchmark::State& state) {
  patchlens::MainWindow& window = renderWindow();
  patchlens::Session& session = *window.session();
  if (!session.hasResult()) {
    state.SkipWithError("no image loaded");
    return;
  }
  patchlens::PatchInspector& inspector = *window.inspector();
  QImage target(inspector.size(), QImage::Format_ARGB32_Premultiplied);
  const patchlens::GridSize grid = session.result()->embedding.grid;
  int i = 0;
  for (auto _ : state) {
    ++i;
    session.setSelection({(i * 7) % grid.rows, (i * 5) % grid.cols});
    // The token plot replots from the event loop (a queued replot): do it here.
    inspector.plot()->replot(QCustomPlot::rpImmediateRefresh);
    inspector.render(&target);
    benchmark::DoNotOptimize(target.constBits());
  }
  state.counters["inspector_px"] = static_cast<double>(target.width()) * target.height();
}

}  // namespace

BENCHMARK(BM_FmaPeak)->Name("peak/fma-fp32/threads:1")->Iterations(1);
BENCHMARK_CAPTURE(embed, 224_1, 224, 16, 768, 1)
    ->Name("embed/224/p16/d768/threads:1")
    ->Unit(benchmark::kMillisecond)
    ->MinTime(1.0);
BENCHMARK_CAPTURE(embed, 224_2, 224, 16, 768, 2)
    ->Name("embed/224/p16/d768/threads:2")
    ->Unit(benchmark::kMillisecond)
    ->MinTime(1.0)
    ->UseRealTime();
BENCHMARK_CAPTURE(embed, 384, 384, 16, 768, 0)
    ->Name("embed/384/p16/d768")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(embed, 224_d1024, 224, 16, 1024, 0)
    ->Name("embed/224/p16/d1024")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(embed, 1024, 1024, 16, 768, 0)
    ->Name("embed/1024/p16/d768")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(embed, 2048_1, 2048, 16, 768, 1)
    ->Name("embed/2048/p16/d768/threads:1")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(embed, 2048, 2048, 16, 768, 0)
    ->Name("embed/2048/p16/d768")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(forward, vit_b16_1, 1, EncoderLayout::Plain)
    ->Name("forward/vit-b16/224/threads:1")
    ->Unit(benchmark::kMillisecond)
    ->MinWarmUpTime(0.5)
    ->UseRealTime();
BENCHMARK_CAPTURE(forward, vit_b16_2, 2, EncoderLayout::Plain)
    ->Name("forward/vit-b16/224/threads:2")
    ->Unit(benchmark::kMillisecond)
    ->MinWarmUpTime(0.5)
    ->UseRealTime();
BENCHMARK_CAPTURE(forward, dinov3_b16_1, 1, EncoderLayout::Dinov3)
    ->Name("forward/dinov3-b16/224/threads:1")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(forward, dinov3_b16_2, 2, EncoderLayout::Dinov3)
    ->Name("forward/dinov3-b16/224/threads:2")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(forwardFinal, 224_blocked_1, 224, 1, false)
    ->Name("forward-final/vit-b16/224/threads:1/blocked")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(forwardFinal, 224_blocked, 224, 2, false)
    ->Name("forward-final/vit-b16/224/threads:2/blocked")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(forwardFinal, 224_materialised, 224, 2, true)
    ->Name("forward-final/vit-b16/224/threads:2/materialised")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(forwardFinal, 1024_blocked, 1024, 2, false)
    ->Name("forward-final/vit-b16/1024/threads:2/blocked")
    ->Unit(benchmark::kMillisecond)
    ->Iterations(2)
    ->UseRealTime();
BENCHMARK_CAPTURE(forwardFinal, 1024_materialised, 1024, 2, true)
    ->Name("forward-final/vit-b16/1024/threads:2/materialised")
    ->Unit(benchmark::kMillisecond)
    ->Iterations(2)
    ->UseRealTime();
BENCHMARK_CAPTURE(forwardFinal, dinov2_518, 518, 2, false, EncoderLayout::Dinov2B14)
    ->Name("forward-final/dinov2-b14/518/threads:2/blocked")
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3)
    ->UseRealTime();
BENCHMARK_CAPTURE(forwardFinal, dinov2_1036, 1036, 2, false, EncoderLayout::Dinov2B14)
    ->Name("forward-final/dinov2-b14/1036/threads:2/blocked")
    ->Unit(benchmark::kMillisecond)
    ->Iterations(2)
    ->UseRealTime();
BENCHMARK_CAPTURE(explain, vit_b16_1, 1)
    ->Name("explain/vit-b16/224/threads:1")
    ->Unit(benchmark::kMillisecond)
    ->MinWarmUpTime(0.5)
    ->MinTime(1.5)
    ->UseRealTime();
BENCHMARK_CAPTURE(explain, vit_b16_2, 2)
    ->Name("explain/vit-b16/224/threads:2")
    ->Unit(benchmark::kMillisecond)
    ->MinWarmUpTime(0.5)
    ->MinTime(1.5)
    ->UseRealTime();
BENCHMARK_CAPTURE(trace, vit_b16_2, 2)
    ->Name("trace/vit-b16/224/threads:2")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_LinearLayer)
    ->Name("linear/197x768x2304/threads:1")
    ->Args({768, 2304, 1, 197})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_LinearLayer)
    ->Name("linear/197x768x3072-gelu/threads:1")
    ->Args({768, 3072, 1, 197})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_LinearLayer)
    ->Name("linear/197x3072x768/threads:1")
    ->Args({3072, 768, 1, 197})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_LinearLayer)
    ->Name("linear/197x768x768/threads:1")
    ->Args({768, 768, 1, 197})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_LinearLayer)
    ->Name("linear/197x768x3072-gelu/threads:2")
    ->Args({768, 3072, 2, 197})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK(BM_LinearLayer)
    ->Name("linear/4097x768x2304/threads:1")
    ->Args({768, 2304, 1, 4097})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LinearLayer)
    ->Name("linear/4097x768x3072-gelu/threads:1")
    ->Args({768, 3072, 1, 4097})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LinearLayer)
    ->Name("linear/4097x3072x768/threads:1")
    ->Args({3072, 768, 1, 4097})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LinearBackward)
    ->Name("linear-backward/197x2304x768/threads:1")
    ->Args({768, 2304, 1})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_LinearBackward)
    ->Name("linear-backward/197x3072x768/threads:1")
    ->Args({768, 3072, 1})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_LinearBackward)
    ->Name("linear-backward/197x768x3072/threads:1")
    ->Args({3072, 768, 1})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_LinearBackward)
    ->Name("linear-backward/197x768x768/threads:1")
    ->Args({768, 768, 1})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_PackedGemm)
    ->Name("gemm/packed-avx2/196x768x768/threads:1")
    ->Arg(1)
    ->MinTime(1.0)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PackedGemmLayer)
    ->Name("gemm/packed-avx2/197x768x2304/threads:1")
    ->Args({768, 2304, 1})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_PackedGemmLayer)
    ->Name("gemm/packed-avx2/197x768x768/threads:1")
    ->Args({768, 768, 1})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_PackedGemmLayer)
    ->Name("gemm/packed-avx2/197x768x3072/threads:1")
    ->Args({768, 3072, 1})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_PackedGemmLayer)
    ->Name("gemm/packed-avx2/197x3072x768/threads:1")
    ->Args({3072, 768, 1})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_PackedGemm)
    ->Name("gemm/packed/196x768x768/threads:1")
    ->Arg(0)
    ->Unit(benchmark::kMillisecond)
    ->MinTime(1.0);
#ifdef PATCHLENS_HAVE_DNNL
BENCHMARK(BM_DnnlMatmul)
    ->Name("gemm/dnnl/196x768x768/threads:1")
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->MinTime(1.0)
    ->UseRealTime();
BENCHMARK(BM_DnnlMatmul)
    ->Name("gemm/dnnl/196x768x768/threads:2")
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->MinTime(1.0)
    ->UseRealTime();
#endif
BENCHMARK(BM_TokenPca)->Name("analysis/pca/196x768")->Unit(benchmark::kMillisecond);
// Runs as compare/matches/196 and compare/matches/1369.
BENCHMARK(BM_CompareMatches)
    ->Name("compare/matches")
    ->Arg(196)
    ->Arg(1369)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Preprocess12mpJpeg)
    ->Name("preprocess/12mp-jpeg")
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_Preprocess12mpJpeg)
    ->Name("preprocess/12mp-jpeg-whole-image")
    ->Arg(0)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_BatchImage)
    ->Name("batch-image/640x480-jpeg/threads:1")
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_BatchImage)
    ->Name("batch-image/640x480-jpeg-whole-image/threads:1")
    ->Arg(0)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_Decode12mpJpeg)
    ->Name("decode/12mp-jpeg")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_Resize12mp)
    ->Name("resize/12mp-bicubic/threads:1")
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_Resize12mp)
    ->Name("resize/12mp-bicubic/threads:2")
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_Pipeline12mpJpeg)
    ->Name("pipeline/12mp-jpeg-fast-decode")
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_Pipeline12mpJpeg)
    ->Name("pipeline/12mp-jpeg")
    ->Arg(0)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_RenderChannelOverlay)
    ->Name("render/channel-overlay")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_RenderInspector)
    ->Name("render/inspector")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  // The render/ cases draw widgets: an application on the offscreen platform (no display).
  if (!qEnvironmentVariableIsSet("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
  int qtArgc = 1;
  QApplication app(qtArgc, argv);
  g_peakGflops = patchlens::bench::measureFmaPeakGflops(0.5);
  g_peakGflopsAvx2 = patchlens::bench::measureFmaPeakGflopsAvx2(0.3);
  benchmark::AddCustomContext("fma_peak_avx2_gflops_per_core", std::to_string(g_peakGflopsAvx2));
  std::fprintf(stderr, "measured FP32 FMA peak: %.1f GFLOP/s per core\n", g_peakGflops);
  benchmark::AddCustomContext("fma_peak_gflops_per_core", std::to_string(g_peakGflops));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
