#pragma once

#include <QElapsedTimer>
#include <QImage>
#include <QObject>
#include <QPromise>
#include <QString>
#include <QStringList>
#include <QThreadPool>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>

#include "core/analysis/embedding_analysis.h"
#include "core/analysis/foreground_pca.h"
#include "core/analysis/layer_trace.h"
#include "core/model/patch_embedding.h"
#include "core/model/pipeline.h"
#include "core/model/qkv_features.h"
#include "ui/base/colormap.h"

namespace patchlens {

// What the central image view colours the patches by.
enum class OverlayKind {
  None,
  Channel,
  Norm,
  Mean,
  Argmax,
  Pca,
  Similarity,
  Attention,
  Rollout,
  GradCam,    // the explained class's Grad-CAM (ExplainSession)
  Relevance,  // its Chefer et al. relevance
};

QString overlayKindKey(OverlayKind kind);  // "channel", "norm", ... (settings, command line)
std::optional<OverlayKind> parseOverlayKind(const QString& key);
QString scaleModeKey(ScaleMode mode);
std::optional<ScaleMode> parseScaleMode(const QString& key);

class VisionTransformer;
class ExplainSession;

// A patch position in the grid.
struct PatchPos {
  int row = 0;
  int col = 0;
  bool operator==(const PatchPos&) const = default;
};

// One finished computation: everything the views show for one image + config. Immutable
// once published, shared between the views by pointer. A computation publishes two: the
// embedding as soon as it is ready, then a copy completed with the PCA and display image.
struct ComputeResult {
  // How long each stage of the worker took (patchlens --measure prints them).
  struct Timings {
    double decodeMs = 0.0;      // 0 when the decoded image was reused
    double preprocessMs = 0.0;  // weights (when not cached) + resize / crop / normalise
    double embedMs = 0.0;
    double analysisMs = 0.0;  // norms, means, argmax, model input image
    double pcaMs = 0.0;       // PCA + display-sized original, after the first result is on screen
    double transformerMs = 0.0;  // the encoder's forward with rollout and distances
    double layersMs = 0.0;       // every layer's norms, means, argmax and PCA
  };

  QString imagePath;
  QString imageFormat;
  QStringList warnings;
  // The decoded original itself is not part of the result (the session keeps it while it
  // can be reused, and drops it when another image is opened).
  int decodeMinSide = 0;  // the reduced-decode bound it was decoded with (0: every pixel)
  // A first look at a large JPEG from a reduced decode, on screen while the exact decode
  // (the result that follows) runs on the other core. Approximate: never exported as exact.
  bool preview = false;
  int previewReduction = 1;  // the preview was decoded at 1/2, 1/4 or 1/8 scale
  QSize sourceSize;          // the decoded original's size: the pixel coordinates of sourceRect()
  // For display only: the original shrunk to at most kDisplayMaxSide pixels per side (a
  // 12 MP photo would cost 48 MB as RGB32); drawn into QRect(QPoint(), sourceSize). Null in
  // the first result of a new image: it follows with the PCA.
  QImage original;
  QImage input;  // the model input, 8-bit, as the model sees it before normalising
  PreprocessGeometry geometry;
  PipelineConfig config;                        // as used, preprocess adjusted to the weights
  std::shared_ptr<const PatchEmbedding> layer;  // packed once, reused while the choice is unchanged
  std::shared_ptr<const PatchWeights> weights;  // layer->weights()
  ChwTensor tensor;                             // normalised model input
  Embedding embedding;
  VectorF norms;
  VectorF means;
  Eigen::VectorXi argmax;
  PcaResult pca;  // empty in the first result of a computation: the PCA follows
  RowMatrixF pcaRgb;
  ValueRange global;
  Timings timings;
  double computeMs = 0.0;
  // The whole encoder when the weight file holds one (null: a patch embedding only, why in
  // noTransformer). The fields above (embedding, norms, PCA, ...) are those of layer
  // `layerIndex` of the trace (0 = the patch embedding), so every token view follows the
  // session's current layer by reading the result of that layer.
  std::shared_ptr<const VisionTransformer> model;
  std::shared_ptr<const LayerTrace> trace;
  QString noTransformer;
  int layerIndex = 0;
  // What the token fields hold at a block's layer (issue 21): its output tokens, or its
  // queries, keys or values (heads side by side) as the layer controls' source chose.
  TokenSource source = TokenSource::Tokens;
  // The source's prefix rows [P x D] (cls, registers) for q/k/v; empty for Tokens (the
  // trace's prefixTokensAt(layer) then).
  RowMatrixF sourcePrefix;

  int patchSize() const { return weights ? weights->patchSize : 0; }
  int embedDim() const { return embedding.embedDim(); }
  int tokens() const { return embedding.grid.tokens(); }
  bool hasPca() const { return pcaRgb.rows() > 0; }
  // The patch's box in model-input pixels.
  QRect inputRect(PatchPos pos) const;
  // The patch's box in original-image pixels.
  QRectF sourceRect(PatchPos pos) const;
  // The whole model input's box in original-image pixels (the crop box).
  QRectF sourceInputBox() const;
};

// The colour-coded map the image view shows, with how it is coloured.
struct OverlayMap {
  OverlayKind kind = OverlayKind::None;
  VectorF values;  // [N] scalar maps
  bool isRgb = false;
  ColormapId colormap = ColormapId::Viridis;
  ValueRange range;
  bool integerValues = false;  // argmax: channel indices
  QString label;               // "channel 5", "L2 norm", ...
  // The label without the colour-scale caption: what one patch's value is ("attention rollout
  // through 12 blocks from cls", "Keys, block 6 · L2 norm"), as the hover tooltip names it.
  QString quantity;
  QImage image;  // rows x cols, one pixel per patch
  bool empty() const { return image.isNull(); }
};

// The application state: image, config, weights, embedding, selection, channel and overlay.
// Decode and compute run on a worker thread; a generation counter drops superseded results.
class Session : public QObject {
  Q_OBJECT

 public:
  // The longest side of ComputeResult::original.
  static constexpr int kDisplayMaxSide = 2048;
  // The most values (N x D of the embedding, D x C x P x P of initialised weights) the
  // viewer computes: beyond it the views would need gigabytes; the CLI has no such limit.
  static constexpr qint64 kMaxValues = qint64{1} << 24;

  explicit Session(QObject* parent = nullptr);
  ~Session() override;

  // Asynchronous requests; the outcome arrives as resultChanged() or errorOccurred().
  void openImage(const QString& path);
  void setConfig(const PipelineConfig& config);
  // Returns what the checkpoint's own preprocessing changed ("preprocessing from config.json
  // (timm pretrained_cfg): ...") and any sidecar warnings, for the status bar; empty if none.
  // Without an image yet the weights are checked on the bundled sample, unless
  // checkOnSample is false (an image follows: nothing is computed for the sample).
  QString openWeights(const QString& path, bool checkOnSample = true);
  void reload();

  const std::shared_ptr<const ComputeResult>& result() const { return m_result; }
  bool hasResult() const { return m_result != nullptr; }
  const PipelineConfig& config() const { return m_config; }
  bool isBusy() const { return m_busy; }
  // The image being opened (not yet shown), empty when none.
  QString pendingImage() const { return m_pendingImage; }
  QString lastError() const { return m_lastError; }
  // The user dismissed the error (the banner's close button): it is no longer pending.
  void dismissError() { m_lastError.clear(); }
  // True when the weights come from a file (which fixes D, P and C).
  bool weightsFromFile() const;

  std::optional<PatchPos> selection() const { return m_selection; }
  int selectedToken() const;
  void setSelection(PatchPos pos);
  void clearSelection();
  void moveSelection(int dRow, int dCol);

  int channel() const { return m_channel; }
  void setChannel(int channel);

  OverlayKind overlay() const { return m_overlay; }
  void setOverlay(OverlayKind kind);
  // nullopt = automatic (diverging for signed maps, viridis otherwise).
  std::optional<ColormapId> colormapChoice() const { return m_colormapChoice; }
  void setColormapChoice(std::optional<ColormapId> choice);
  std::optional<ScaleMode> scaleChoice() const { return m_scaleChoice; }
  void setScaleChoice(std::optional<ScaleMode> choice);
  double opacity() const { return m_opacity; }
  void setOpacity(double opacity);

  // Layers of the transformer (issue 12). Layer 0 is the patch embedding; with a
  // transformer, 1 = input to block 1, 1 + l = block l, layerCount() - 1 = final norm.
  bool hasTransformer() const { return m_result && m_result->trace; }
  // Why the layer controls are disabled (no transformer), empty when they are not.
  QString noTransformerReason() const;
  int layer() const { return m_layer; }
  int layerCount() const;
  QString layerName(int layer) const;
  // Shows layer `layer` in every token view: swaps in that layer's precomputed result.
  void setLayer(int layer);
  // The result of the patch embedding (layer 0), whatever layer is shown: the views of the
  // patch embedding itself (filters, reconstruction) read this one.
  std::shared_ptr<const ComputeResult> baseResult() const;
  // The attention query: a prefix token chosen in the strip (index into the prefix tokens),
  // else the selected patch, else cls (or the centre patch without prefix tokens).
  std::optional<int> prefixQuery() const { return m_prefixQuery; }
  void setPrefixQuery(std::optional<int> prefixIndex);
  int queryToken() const;  // in [0, T); -1 without a transformer
  QString queryName() const;
  // How the views name patch `patch` (0..N-1, row-major): "patch 105", and at a transformer
  // layer with prefix tokens also its row of tokens_L ("patch 105 = tokens_L row 106"), which
  // counts the class token first. For a q/k/v result the source's own row: "key of patch 105 =
  // k_6 token 106" (forward --qkv's k_L [H, T, dh]).
  QString patchTokenName(int patch) const;
  // What a row of the shown result is: "token" / "tokens", or "query", "key", "value" (and
  // their plurals) when the token views show a block's q, k or v.
  QString rowNoun(bool plural) const;
  // The rollout's query: a chosen prefix token, else cls, else the selected patch.
  int rolloutToken() const;
  int head() const { return m_head; }  // -1: the mean over heads
  void setHead(int head);
  // `patchlens --heads N`: the attention heads of the weight file's transformer, overriding
  // its metadata, sidecar and the guess from the width (0: no override). Reloads the image.
  int headsOverride() const { return m_headsOverride; }
  void setHeadsOverride(int heads);
  // The DINOv2 PCA dock's foreground step (threshold, flip) and whether it is on: the export
  // dialog draws `pca --foreground T` with the settings on screen.
  ForegroundPcaOptions foregroundPca() const { return m_foregroundPca; }
  bool foregroundPcaEnabled() const { return m_foregroundPcaEnabled; }
  void setForegroundPca(const ForegroundPcaOptions& options, bool enabled) {
    m_foregroundPca = options;
    m_foregroundPcaEnabled = enabled;
  }
  // The Attention dock's mass threshold (DINO's per-head masks; nullopt: the maps): the export
  // dialog lists `attention-mask:L:T` with it.
  std::optional<float> attentionMass() const { return m_attentionMass; }
  void setAttentionMass(std::optional<float> threshold) { m_attentionMass = threshold; }
  // The block whose attention the current layer shows (1..depth), 0 without a transformer.
  int currentBlock() const;
  // That block's heads, null while they are recomputed (models too large to keep them all).
  const std::vector<RowMatrixF>* currentAttention() const;

  ColormapId colormapFor(OverlayKind kind) const;
  ScaleMode scaleFor(OverlayKind kind) const;
  // The current overlay (cached until the result, channel, selection or style change).
  const OverlayMap& overlayMap() const;
  // The colour-coded map of `values` as the current style would draw it.
  ValueRange rangeFor(const Eigen::Ref<const VectorF>& values, ScaleMode mode) const;
  // A one-line description for the status bar.
  QString statusText() const;
  // The feature source of every token view (issue 21): tokens, or the block's queries, keys
  // or values. Applies at a block's output (layers "Block 1".."Block L"); elsewhere the views
  // show tokens (sourceApplies() false). A q/k/v result is computed on the pool (a forward
  // keeping that block's q | k | v, then the PCA) and swapped in when ready.
  TokenSource tokenSource() const { return m_source; }
  void setTokenSource(TokenSource source);
  bool sourceApplies() const;
  bool isSourcePending() const { return m_sourcePending.has_value(); }
  // "Keys, block 6" for a q/k/v result, else the layer's name ("Block 6", "Final norm").
  QString sourceLayerName() const;
  // The classifier's prediction and the Grad-CAM / relevance of the selected class (issue 22).
  ExplainSession* explain() const { return m_explain; }

 signals:
  void resultChanged();
  void configChanged();
  void selectionChanged();
  void channelChanged(int channel);
  void overlayChanged();
  void busyChanged(bool busy);
  void errorOccurred(const QString& message);
  void layerChanged(int layer);
  // The query, head or the attention on hand changed (the attention views redraw).
  void attentionChanged();
  void tokenSourceChanged();

 private:
  struct Job;
  struct Outcome;
  void submit(Job job);
  // The worker: runs on m_pool, reads only `job`, stops early when `latest` moves on. Adds
  // one outcome when the embedding is ready and a second with the PCA (or one on failure).
  static void compute(QPromise<Outcome>& promise, const Job& job,
                      const std::atomic<quint64>& latest);
  // From a decoded image to the first result: weights (unless `layer` is given), model
  // input, embedding, per-token maps. Shared by the preview and the exact result.
  static void embedStage(ComputeResult& result, const Job& job,
                         std::shared_ptr<const PatchEmbedding> layer, const cv::Mat& source,
                         const std::function<void()>& checkpoint, const QElapsedTimer& total);
  void finish(const Outcome& outcome);
  void setBusy(bool busy);
  void invalidateOverlay();
  // Runs the encoder on the worker and completes `full` with its layers (trace, per-layer
  // results). Leaves the result as it is when the weights hold no transformer.
  // The layer on screen gets its PCA first and is handed to `early` (every layer's tokens and
  // maps, the other layers' PCA still to come), so that it is on screen before the rest.
  using LayerResults = std::vector<std::shared_ptr<const ComputeResult>>;
  static void transformerStage(const std::shared_ptr<ComputeResult>& full, const Job& job,
                               LayerResults* layers, const std::function<void()>& checkpoint,
                               const std::function<void(const LayerResults&)>& early);
  void requestAttention(int block);
  // Swaps m_result (a layer's tokens) for its q/k/v result when the source asks for one:
  // from the cache, else requested from the pool.
  void applyTokenSource();

  PipelineConfig m_config;           // requested (what the panels show)
  PipelineConfig m_committedConfig;  // what produced m_result; restored on an error
  std::shared_ptr<const ComputeResult> m_result;
  std::optional<PatchPos> m_selection;
  int m_channel = 0;
  OverlayKind m_overlay = OverlayKind::Channel;
  std::optional<ColormapId> m_colormapChoice;
  std::optional<ScaleMode> m_scaleChoice;
  double m_opacity = 0.6;
  bool m_busy = false;
  QString m_lastError;
  // The image of the latest open request until its outcome arrives: a config change in the
  // meantime computes it (not the image on screen), so the open is not lost.
  QString m_pendingImage;
  // The decoded pixels of the image on screen (shared with the worker, never written), so a
  // config change need not decode again. Released when another image is opened: a 12 MP
  // photo is 36 MB, and the old and new one together would pass the memory budget.
  cv::Mat m_decoded;

  // The latest generation; the worker checks it between stages and gives up when stale.
  std::shared_ptr<std::atomic<quint64>> m_generation = std::make_shared<std::atomic<quint64>>(0);
  std::shared_ptr<const PatchEmbedding> m_cachedLayer;
  QString m_cachedWeightsKey;
  mutable std::optional<OverlayMap> m_overlayCache;
  // The transformer's per-layer results of the image on screen ([0] = the patch embedding).
  std::vector<std::shared_ptr<const ComputeResult>> m_layerResults;
  int m_layer = 0;
  std::optional<int> m_prefixQuery;
  int m_head = -1;
  int m_headsOverride = 0;
  ForegroundPcaOptions m_foregroundPca;
  bool m_foregroundPcaEnabled = false;
  std::optional<float> m_attentionMass;
  std::shared_ptr<const VisionTransformer> m_cachedModel;
  QString m_cachedModelKey;
  // A block's attention recomputed on demand (when the trace could not keep every block).
  struct RecomputedAttention {
    const LayerTrace* trace = nullptr;
    int block = 0;
    std::vector<RowMatrixF> heads;
  };
  std::optional<RecomputedAttention> m_recomputed;
  int m_attentionPending = 0;           // the block being recomputed, 0: none
  ExplainSession* m_explain = nullptr;  // a child: computes after each forward
  TokenSource m_source = TokenSource::Tokens;
  // The q/k/v results of the trace on screen (cleared with a new trace), the last block's
  // [T x 3D] q | k | v (switching among q, k, v of one block runs no forward) and the one
  // being computed (layer index, source).
  std::vector<std::shared_ptr<const ComputeResult>> m_sourceResults;
  const LayerTrace* m_qkvTrace = nullptr;
  int m_qkvBlock = 0;
  std::shared_ptr<const RowMatrixF> m_qkv;
  std::optional<std::pair<int, TokenSource>> m_sourcePending;
  // One worker thread: queued stale jobs leave at once, so the latest request runs next.
  QThreadPool m_pool;
};

}  // namespace patchlens
