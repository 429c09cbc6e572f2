#include "ui/session/session.h"

#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QPromise>
#include <QUnhandledException>
#include <QtConcurrent/QtConcurrentRun>
#include <algorithm>
#include <exception>
#include <future>
#include <map>

#include "core/analysis/attention_maps.h"
#include "core/image/image_loader.h"
#include "core/image/preprocess.h"
#include "core/io/error.h"
#include "core/io/file_bytes.h"
#include "core/model/initializers.h"
#include "core/model/pipeline.h"
#include "core/model/resource_plan.h"
#include "core/model/vision_transformer.h"
#include "ui/base/category_palette.h"
#include "ui/base/color_scale.h"
#include "ui/base/qt_conversions.h"
#include "ui/session/explain_session.h"
#include "ui/session/token_source_result.h"

namespace patchlens {

namespace {

constexpr int kPcaComponents = 3;

struct OverlayName {
  OverlayKind kind;
  const char* key;
};
constexpr OverlayName kOverlayNames[] = {
    {OverlayKind::None, "none"},
    {OverlayKind::Channel, "channel"},
    {OverlayKind::Norm, "norm"},
    {OverlayKind::Mean, "mean"},
    {OverlayKind::Argmax, "argmax"},
    {OverlayKind::Pca, "pca"},
    {OverlayKind::Similarity, "similarity"},
    {OverlayKind::Attention, "attention"},
    {OverlayKind::Rollout, "rollout"},
    {OverlayKind::GradCam, "gradcam"},
    {OverlayKind::Relevance, "relevance"},
};

struct ScaleName {
  ScaleMode mode;
  const char* key;
};
constexpr ScaleName kScaleNames[] = {
    {ScaleMode::MinMax, "minmax"},
    {ScaleMode::Symmetric, "symmetric"},
    {ScaleMode::Global, "global"},
    {ScaleMode::Percentile, "percentile"},
};

QString weightsKey(const WeightChoice& choice) {
  return QStringLiteral("%1|%2|%3|%4|%5|%6")
      .arg(toQString(choice.source))
      .arg(choice.seed)
      .arg(choice.shape.embedDim)
      .arg(choice.shape.inChannels)
      .arg(choice.shape.patchSize)
      .arg(toQString(choice.file.key));
}

std::vector<std::uint8_t> readImageBytes(const QString& path, const ImageLoadOptions& options) {
  // Qt resources (the bundled sample) are not on disk; the core decodes bytes as well.
  if (path.startsWith(QLatin1Char(':'))) {
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) throw Error(path.toStdString(), "cannot open resource");
    const QByteArray bytes = file.readAll();
    return {bytes.begin(), bytes.end()};
  }
  return readFileBytes(path.toStdString(), options.maxFileBytes);
}

}  // namespace

QString overlayKindKey(OverlayKind kind) {
  for (const auto& n : kOverlayNames) {
    if (n.kind == kind) return QString::fromLatin1(n.key);
  }
  return QStringLiteral("none");
}

std::optional<OverlayKind> parseOverlayKind(const QString& key) {
  for (const auto& n : kOverlayNames) {
    if (key == QLatin1String(n.key)) return n.kind;
  }
  return std::nullopt;
}

QString scaleModeKey(ScaleMode mode) {
  for (const auto& n : kScaleNames) {
    if (n.mode == mode) return QString::fromLatin1(n.key);
  }
  return QStringLiteral("minmax");
}

std::optional<ScaleMode> parseScaleMode(const QString& key) {
  for (const auto& n : kScaleNames) {
    if (key == QLatin1String(n.key)) return n.mode;
  }
  return std::nullopt;
}

QRect ComputeResult::inputRect(PatchPos pos) const {
  const int p = patchSize();
  return {pos.col * p, pos.row * p, p, p};
}

QRectF ComputeResult::sourceRect(PatchPos pos) const {
  const QRect r = inputRect(pos);
  return toQRectF(geometry.toSource(cv::Rect2d(r.x(), r.y(), r.width(), r.height())));
}

QRectF ComputeResult::sourceInputBox() const {
  return toQRectF(geometry.toSource(cv::Rect2d(0, 0, input.width(), input.height())));
}

// A request for the worker: decode `path` (or reuse `decoded`), then compute.
struct Session::Job {
  QString path;
  cv::Mat decoded;  // shares the pixels of the result on screen; never written
  QImage original;  // its display copy, when reused
  int decodeMinSide = 0;
  QString format;
  QStringList warnings;
  PipelineConfig config;
  std::shared_ptr<const PatchEmbedding> layer;  // reuse when the choice is unchanged
  QString weightsKey;
  quint64 generation = 0;
  // The encoder of the weight file, when already loaded for the same weights.
  std::shared_ptr<const VisionTransformer> model;
  bool modelKnown = false;  // model (or its absence) comes from the cache
  int shownLayer = 0;       // the layer on screen: its PCA is computed first
  int heads = 0;            // --heads (0: from the file, its sidecar or the width)
  QString noTransformer;
};

struct Session::Outcome {
  quint64 generation = 0;
  std::shared_ptr<const ComputeResult> result;
  QString error;  // empty on success
  bool cancelled = false;
  bool complete = true;  // false: the embedding is there, the PCA follows in another outcome
  cv::Mat decoded;       // the decoded original, for the session to reuse (also after a failure)
  QString path;
  PipelineConfig config;
  QString weightsKey;
  std::vector<std::shared_ptr<const ComputeResult>> layers;  // with a transformer: every layer
};

namespace {

double msSince(const QElapsedTimer& timer) {
  return static_cast<double>(timer.nsecsElapsed()) / 1e6;
}

// Thrown inside the worker when a newer request has superseded the job.
struct Superseded {};

// What the viewer refuses to compute: sizes that would need gigabytes for the views.
void checkSize(qint64 values, const char* what, const std::string& file) {
  if (values > Session::kMaxValues) {
    throw Error(file, std::string(what) + " would hold " + std::to_string(values) +
                          " values, more than the viewer's limit of " +
                          std::to_string(Session::kMaxValues) +
                          "; use a smaller image size or a larger patch size");
  }
}

}  // namespace

Session::Session(QObject* parent) : QObject(parent) {
  m_pool.setMaxThreadCount(1);
  m_explain = new ExplainSession(this);
  connect(m_explain, &ExplainSession::changed, this, [this] {
    if (m_overlay == OverlayKind::GradCam || m_overlay == OverlayKind::Relevance)
      invalidateOverlay();
  });
}

Session::~Session() {
  // Stale jobs notice the bump and stop at the next stage; then wait for the pool.
  m_generation->fetch_add(1);
  m_pool.waitForDone();
}

void Session::openImage(const QString& path) {
  m_pendingImage = path;
  m_decoded.release();  // the worker decodes anew; nothing else holds the old pixels
  Job job;
  job.path = path;
  job.config = m_config;
  submit(std::move(job));
}

void Session::setConfig(const PipelineConfig& config) {
  m_config = config;
  if (!m_pendingImage.isEmpty()) {
    // An open is in flight: compute that image with the new config (decoding it again).
    Job job;
    job.path = m_pendingImage;
    job.config = config;
    submit(std::move(job));
    return;
  }
  if (!m_result) {
    // Nothing to recompute yet; the next image uses it (and an error does not undo it).
    m_committedConfig = config;
    return;
  }
  Job job;
  job.path = m_result->imagePath;
  // A changed reduced-decode bound (fast decode toggled, or another input size) decodes again.
  if (!m_decoded.empty() && config.loadOptions().reducedDecodeMinSide == m_result->decodeMinSide) {
    job.decoded = m_decoded;
    job.original = m_result->original;
    job.decodeMinSide = m_result->decodeMinSide;
    job.format = m_result->imageFormat;
    job.warnings = m_result->warnings;
  }
  job.config = config;
  submit(std::move(job));
}

QString Session::openWeights(const QString& path, bool checkOnSample) {
  PipelineConfig config = m_config;
  config.weights.source = path.toStdString();
  // Reads at most two small JSON sidecars or a GGUF header: cheap enough for the GUI thread.
  const ModelPreprocessingNote note = applyModelPreprocessing(config);
  QStringList lines;
  if (!note.description.empty()) lines << QString::fromStdString(note.description);
  for (const std::string& w : note.warnings) lines << QString::fromStdString(w);
  if (m_result || !m_pendingImage.isEmpty()) {
    setConfig(config);
    return lines.join(QStringLiteral("; "));
  }
  // No image yet: validate the weights on the sample so that a bad file is reported now
  // (when no image of the user's comes next).
  if (!checkOnSample) {
    setConfig(config);  // kept for the image that comes next
    return lines.join(QStringLiteral("; "));
  }
  m_config = config;
  openImage(QStringLiteral(":/patchlens/sample.png"));
  return lines.join(QStringLiteral("; "));
}

void Session::reload() {
  if (!m_result) return;
  m_cachedLayer.reset();  // a weight file may have changed on disk too
  openImage(m_result->imagePath);
}

bool Session::weightsFromFile() const {
  return !parseInitializer(m_config.weights.source).has_value();
}

void Session::submit(Job job) {
  job.generation = m_generation->fetch_add(1) + 1;
  job.weightsKey = weightsKey(job.config.weights);
  job.heads = m_headsOverride;
  if (m_headsOverride > 0) job.weightsKey += QStringLiteral("|heads %1").arg(m_headsOverride);
  if (m_cachedLayer && job.weightsKey == m_cachedWeightsKey) job.layer = m_cachedLayer;
  job.shownLayer = m_layer;
  if (!m_cachedModelKey.isEmpty() && job.weightsKey == m_cachedModelKey) {
    job.model = m_cachedModel;
    job.modelKnown = true;
    job.noTransformer = m_result ? m_result->noTransformer : QString();
  }
  setBusy(true);

  auto latest = m_generation;
  auto* watcher = new QFutureWatcher<Outcome>(this);
  // Two outcomes per job: the embedding as soon as it is there, then the PCA.
  connect(watcher, &QFutureWatcher<Outcome>::resultReadyAt, this,
          [this, watcher](int index) { finish(watcher->resultAt(index)); });
  connect(watcher, &QFutureWatcher<Outcome>::finished, watcher, &QObject::deleteLater);
  // The job (and everything it shares with the GUI: the decoded pixels, the weights) is
  // only read on the worker; results are built there and handed over whole, immutable.
  watcher->setFuture(
      QtConcurrent::run(&m_pool, [job = std::move(job), latest](QPromise<Outcome>& promise) {
        compute(promise, job, *latest);
      }));
}

void Session::embedStage(ComputeResult& result, const Job& job,
                         std::shared_ptr<const PatchEmbedding> layer, const cv::Mat& source,
                         const std::function<void()>& checkpoint, const QElapsedTimer& total) {
  QElapsedTimer stage;
  result.sourceSize = QSize(source.cols, source.rows);
  checkpoint();

  stage.start();
  const std::string file = job.path.toStdString();
  const WeightChoice& choice = job.config.weights;
  if (!layer && parseInitializer(choice.source)) {
    checkSize(qint64{choice.shape.embedDim} * choice.shape.inChannels * choice.shape.patchSize *
                  choice.shape.patchSize,
              "the initialised weights", choice.source);
  }
  result.layer = layer ? std::move(layer)
                       : std::make_shared<const PatchEmbedding>(
                             resolveWeights(choice, job.config.maxMemoryBytes));
  result.weights = std::shared_ptr<const PatchWeights>(result.layer, &result.layer->weights());
  result.config = job.config;
  // This image's own model input (max-patches resizing sizes each image by its shape).
  result.config.preprocess =
      preprocessFor(job.config.preprocess, *result.weights, source.cols, source.rows);
  const GridSize expected =
      PatchEmbedding::gridFor(result.config.preprocess.height, result.config.preprocess.width,
                              result.weights->patchSize, job.config.remainder);
  // A weight file that implies too large an output is refused as the CLI refuses it, naming
  // the file; otherwise the viewer's own (smaller) limit speaks first, then the same budget.
  if (!result.weights->file.empty()) {
    checkOutputBudget(result.config.preprocess, *result.weights, job.config.remainder,
                      job.config.maxOutputBytes, file);
  }
  checkSize(qint64{expected.rows} * expected.cols * result.weights->embedDim, "the embedding",
            file);
  checkOutputBudget(result.config.preprocess, *result.weights, job.config.remainder,
                    job.config.maxOutputBytes, file);
  checkpoint();
  PreprocessResult prep;
  try {
    prep = preprocess(source, result.config.preprocess);
  } catch (const Error& e) {
    throw Error(e.file().empty() ? file : e.file(),
                e.reason());  // preprocessing refuses this image
  }
  result.timings.preprocessMs = msSince(stage);
  checkpoint();

  stage.start();
  result.embedding = result.layer->forward(prep.tensor, job.config.remainder);
  if (result.embedding.grid.tokens() == 0) throw Error(file, "the image holds no whole patch");
  result.timings.embedMs = msSince(stage);
  checkpoint();

  stage.start();
  result.input = toRgb32QImage(prep.inputRgb);
  result.geometry = prep.geometry;
  result.tensor = std::move(prep.tensor);
  const RowMatrixF& tokens = result.embedding.tokens;
  result.norms = tokenNorms(tokens);
  result.means = tokenMeans(tokens);
  result.argmax = argmaxChannels(tokens);
  result.global = globalRange(tokens);
  result.timings.analysisMs = msSince(stage);
  result.computeMs = msSince(total);
  checkpoint();
}

void Session::compute(QPromise<Outcome>& promise, const Job& job,
                      const std::atomic<quint64>& latest) {
  Outcome outcome;
  outcome.generation = job.generation;
  outcome.config = job.config;
  outcome.weightsKey = job.weightsKey;
  outcome.path = job.path;
  cv::Mat source;
  // Checked between stages: a superseded job stops at the next one (the stages themselves,
  // decode and GEMM, run to their end).
  const auto checkpoint = [&] {
    if (latest.load(std::memory_order_relaxed) != job.generation) throw Superseded{};
  };
  try {
    checkpoint();
    QElapsedTimer total;
    total.start();
    QElapsedTimer stage;
    stage.start();
    auto result = std::make_shared<ComputeResult>();
    result->imagePath = job.path;
    std::shared_ptr<const PatchEmbedding> layer = job.layer;
    // A deeper layer on screen with the model already loaded: the image stays on screen
    // until that layer of the new one is there. A patch-embedding result in between would
    // switch every view to layer 0 and back (and its painting and analyses would take the
    // cores from the forward); the patch embedding's PCA (not on screen) comes last.
    const bool deepLayerFirst = job.modelKnown && job.model && job.shownLayer > 0;
    // The encoder's resource plan, checked before anything of the new image is published: a
    // refusal over --max-memory-mb (the banner) then really keeps the previous state. The
    // config comes from the loaded model, else from a shapes-only read of the weights' headers
    // (nothing converted); a file that is no encoder is left to the load below to say why.
    std::optional<TransformerConfig> encoder;
    bool described = false;
    const auto checkEncoderPlan = [&](const ComputeResult& r) {
      if (parseInitializer(job.config.weights.source)) return;
      if (job.modelKnown) {
        if (job.model) encoder = job.model->config();
      } else if (!described) {
        try {
          TransformerLoadOptions options;
          options.patch = job.config.weights.file;
          options.heads = job.heads;
          options.shapesOnly = true;
          if (auto shapes = VisionTransformer::load(job.config.weights.source, options, nullptr))
            encoder = shapes->config();
        } catch (const BudgetError&) {
          throw;
        } catch (const Error&) {
        }
        described = true;
      }
      if (!encoder) return;
      ResourcePlan plan =
          forwardPlan(*encoder, r.embedding.grid.rows, r.embedding.grid.cols, false, false);
      plan.command = "the encoder";
      plan.outputBytes = 0;
      checkResourcePlan(plan, {job.config.maxMemoryBytes, ~std::uint64_t{0}},
                        job.config.weights.source);
    };
    if (job.decoded.empty()) {
      const ImageLoadOptions options = job.config.loadOptions();
      const std::vector<std::uint8_t> bytes = readImageBytes(job.path, options);
      const std::string name = job.path.toStdString();
      std::future<LoadedImage> exact;
      double exactDecodeMs = 0.0;
      PipelineConfig fast = job.config;
      fast.fastDecode = true;
      const ImageLoadOptions quick = fast.loadOptions();
      const bool previewing = !deepLayerFirst && options.reducedDecodeMinSide == 0 &&
                              reducedDecodeFactor(bytes, quick.reducedDecodeMinSide) > 1;
      if (previewing) {
        // A large JPEG: the exact decode (tens of ms) runs on the other core while a preview
        // from a reduced decode is computed and shown; the exact result replaces it.
        exact = std::async(std::launch::async, [&] {
          QElapsedTimer timer;
          timer.start();
          LoadedImage decoded = decodeImage(bytes, name, options);
          exactDecodeMs = msSince(timer);  // read after get(), which synchronises
          return decoded;
        });
        try {
          const LoadedImage reduced = decodeImage(bytes, name, quick);
          auto preview = std::make_shared<ComputeResult>();
          preview->imagePath = job.path;
          preview->preview = true;
          preview->previewReduction = reduced.decodeReduction;
          preview->decodeMinSide = quick.reducedDecodeMinSide;
          preview->imageFormat = toQString(reduced.format);
          preview->timings.decodeMs = msSince(stage);
          embedStage(*preview, job, layer, reduced.rgb, checkpoint, total);
          checkEncoderPlan(*preview);  // refused: the exact decode below says so
          layer = preview->layer;      // packed once for both results
          Outcome first = outcome;
          first.complete = false;
          first.result = std::move(preview);
          promise.addResult(std::move(first));
        } catch (const Error&) {
          // The exact decode reports what is wrong with the file.
        }
      }
      LoadedImage loaded = previewing ? exact.get() : decodeImage(bytes, name, options);
      source = loaded.rgb;
      result->decodeMinSide = options.reducedDecodeMinSide;
      result->imageFormat = toQString(loaded.format);
      for (const auto& w : loaded.warnings) result->warnings << toQString(printable(w));
      result->timings.decodeMs = previewing ? exactDecodeMs : msSince(stage);
    } else {
      source = job.decoded;
      result->original = job.original;
      result->decodeMinSide = job.decodeMinSide;
      result->imageFormat = job.format;
      result->warnings = job.warnings;
    }
    embedStage(*result, job, layer, source, checkpoint, total);
    checkEncoderPlan(*result);
    // Everything but the PCA and the display copy of the original: on screen now, those
    // (an SVD, and an area-averaged shrink of up to 100 MP) follow.
    if (deepLayerFirst) {
      outcome.decoded = source;  // handed over with the layers
    } else {
      Outcome partial = outcome;
      partial.complete = false;
      partial.result = result;
      partial.decoded = source;
      promise.addResult(std::move(partial));
    }

    stage.start();
    auto full = std::make_shared<ComputeResult>(*result);
    result.reset();
    if (!deepLayerFirst) {
      full->pca = tokenPca(full->embedding.tokens, kPcaComponents);
      full->pcaRgb = pcaToRgb(full->pca);
    }
    checkpoint();
    if (full->original.isNull()) full->original = toRgb32QImage(source, kDisplayMaxSide);
    full->timings.pcaMs = msSince(stage);
    full->computeMs = msSince(total);
    if (parseInitializer(job.config.weights.source)) {
      full->noTransformer = tr(
          "randomly initialised weights are a patch embedding only; open a ViT checkpoint for its "
          "transformer");
    } else {
      if (job.modelKnown) {
        full->model = job.model;
        full->noTransformer = job.noTransformer;
      } else {
        try {
          std::string whyNot;
          TransformerLoadOptions options;
          options.patch = job.config.weights.file;
          options.heads = job.heads;
          options.maxMemoryBytes = job.config.maxMemoryBytes;
          auto model = VisionTransformer::load(job.config.weights.source, options, &whyNot);
          if (model) {
            full->model = std::make_shared<const VisionTransformer>(std::move(*model));
          } else {
            full->noTransformer = toQString(whyNot);
          }
        } catch (const BudgetError&) {
          throw;  // over --max-memory-mb: the open is refused, in the banner
        } catch (const Error& e) {
          full->noTransformer = toQString(e.reason());
        }
      }
      if (full->model) {
        if (!deepLayerFirst) {
          // The patch embedding's PCA on screen now; the layers follow.
          Outcome pcaDone = outcome;
          pcaDone.complete = false;
          pcaDone.result = std::make_shared<const ComputeResult>(*full);
          promise.addResult(std::move(pcaDone));
        }
        checkpoint();
        transformerStage(full, job, &outcome.layers, checkpoint, [&](const LayerResults& early) {
          Outcome first = outcome;
          first.complete = false;
          first.layers = early;
          first.result = early.front();
          promise.addResult(std::move(first));
        });
      }
    }
    if (!full->hasPca()) {
      // Deferred for a deeper layer, but the encoder could not run on this input (e.g. its
      // grid differs under --remainder pad): the patch embedding is what is shown.
      full->pca = tokenPca(full->embedding.tokens, kPcaComponents);
      full->pcaRgb = pcaToRgb(full->pca);
    }
    full->computeMs = msSince(total);
    outcome.result = std::move(full);
  } catch (const Superseded&) {
    outcome.cancelled = true;
  } catch (const Error& e) {
    outcome.error = toQString(e.what());  // "<file>: <reason>", control characters escaped
  } catch (const std::bad_alloc&) {
    outcome.error = QStringLiteral("%1: %2").arg(toQString(printable(job.path.toStdString())),
                                                 tr("out of memory"));
  } catch (const std::exception& e) {
    outcome.error = toQString(printable(e.what()));
  }
  if (!outcome.result) outcome.decoded = source;  // e.g. bad weights: the image was fine
  promise.addResult(std::move(outcome));
}

void Session::transformerStage(const std::shared_ptr<ComputeResult>& full, const Job& job,
                               LayerResults* layers, const std::function<void()>& checkpoint,
                               const std::function<void(const LayerResults&)>& early) {
  QElapsedTimer stage;
  stage.start();
  std::shared_ptr<const LayerTrace> trace;
  try {
    // The resource plan before the encoder runs: a sequence too long for the memory limit
    // is named in the banner, not run out of memory.
    ResourcePlan plan = forwardPlan(full->model->config(), full->embedding.grid.rows,
                                    full->embedding.grid.cols, false, false);
    plan.command = "the encoder";
    plan.outputBytes = 0;
    checkResourcePlan(plan, {job.config.maxMemoryBytes, ~std::uint64_t{0}},
                      job.config.weights.source);
    trace = std::make_shared<const LayerTrace>(traceTransformer(*full->model, full->tensor));
  } catch (const BudgetError&) {
    throw;  // the banner names the limit and --max-memory-mb
  } catch (const Error& e) {
    full->noTransformer = toQString(e.reason());
    full->model.reset();
    return;
  }
  const GridSize grid = full->embedding.grid;
  if (trace->gridRows != grid.rows || trace->gridCols != grid.cols) {
    full->noTransformer =
        tr("the encoder's %1 × %2 grid differs from the patch embedding's (remainder policy)")
            .arg(trace->gridRows)
            .arg(trace->gridCols);
    full->model.reset();
    return;
  }
  full->timings.transformerMs = msSince(stage);
  checkpoint();
  stage.start();
  full->trace = trace;
  const int count = trace->layerCount();
  const int shown = std::clamp(job.shownLayer, 0, count - 1);
  // Every layer's tokens and cheap maps; the PCA (an SVD each) of the layer on screen only.
  // `full` itself is never published (it is written below): layer 0 is a copy of it.
  std::vector<std::shared_ptr<ComputeResult>> built(static_cast<std::size_t>(count));
  built[0] = std::make_shared<ComputeResult>(*full);
  // The PCA of the layer on screen (an eigensolver, mostly serial) runs on a thread of its own
  // while this one copies the other layers and computes their cheap maps.
  const RowMatrixF shownTokens = shown > 0 ? trace->patchTokens(shown) : RowMatrixF();
  std::future<std::pair<PcaResult, RowMatrixF>> shownPca;
  if (shown > 0) {
    shownPca = std::async(std::launch::async, [&shownTokens] {
      PcaResult pca = tokenPca(shownTokens, kPcaComponents);
      RowMatrixF rgb = pcaToRgb(pca);
      return std::make_pair(std::move(pca), std::move(rgb));
    });
  }
  // The deeper layers are copies of `full` but for their tokens: copied without them.
  RowMatrixF patchTokens = std::move(full->embedding.tokens);
  full->embedding.tokens = RowMatrixF();
  for (int l = 1; l < count; ++l) {
    auto r = std::make_shared<ComputeResult>(*full);
    r->layerIndex = l;
    r->embedding.tokens = trace->patchTokens(l);
    const RowMatrixF& tokens = r->embedding.tokens;
    r->norms = tokenNorms(tokens);
    r->means = tokenMeans(tokens);
    r->argmax = argmaxChannels(tokens);
    r->global = globalRange(tokens);
    r->pca = {};
    r->pcaRgb = RowMatrixF();
    built[static_cast<std::size_t>(l)] = std::move(r);
  }
  full->embedding.tokens = std::move(patchTokens);
  if (shownPca.valid()) {
    auto [pca, rgb] = shownPca.get();
    built[static_cast<std::size_t>(shown)]->pca = std::move(pca);
    built[static_cast<std::size_t>(shown)]->pcaRgb = std::move(rgb);
  }
  checkpoint();
  // Published objects are never written again; the PCA of the others goes into copies.
  std::vector<bool> published(static_cast<std::size_t>(count), false);
  if (shown > 0) {
    published.assign(published.size(), true);
    LayerResults first(built.begin(), built.end());
    early(first);
  }
  for (int l = 0; l < count; ++l) {
    auto& r = built[static_cast<std::size_t>(l)];
    if (l != shown && !r->hasPca()) {
      auto done = std::make_shared<ComputeResult>(*r);
      done->pca = tokenPca(done->embedding.tokens, kPcaComponents);
      done->pcaRgb = pcaToRgb(done->pca);
      r = std::move(done);
      published[static_cast<std::size_t>(l)] = false;
    }
    checkpoint();
  }
  if (!full->hasPca()) {
    full->pca = built[0]->pca;  // the deferred PCA of the patch embedding
    full->pcaRgb = built[0]->pcaRgb;
  }
  full->timings.layersMs = msSince(stage);
  layers->assign(built.begin(), built.end());
  for (int l = 0; l < count; ++l) {
    if (!published[static_cast<std::size_t>(l)])
      built[static_cast<std::size_t>(l)]->timings.layersMs = full->timings.layersMs;
  }
}

void Session::finish(const Outcome& outcome) {
  if (outcome.generation != m_generation->load()) return;  // superseded
  m_pendingImage.clear();  // shown now (or refused): a config change recomputes m_result
  if (outcome.complete) setBusy(false);
  if (outcome.cancelled) return;
  if (!outcome.result) {
    // The image on screen may have been decoded again (bad weights after a failed open).
    if (m_result && outcome.path == m_result->imagePath && !outcome.decoded.empty() &&
        m_decoded.empty() &&
        outcome.config.loadOptions().reducedDecodeMinSide == m_result->decodeMinSide) {
      m_decoded = outcome.decoded;
    }
    m_lastError = outcome.error;
    // Keep what is shown; the panels go back to the config that produced it.
    m_config = m_committedConfig;
    emit configChanged();
    emit errorOccurred(outcome.error);
    return;
  }
  m_lastError.clear();
  if (!outcome.decoded.empty()) m_decoded = outcome.decoded;
  m_cachedLayer = outcome.result->layer;
  m_cachedWeightsKey = outcome.weightsKey;
  if (outcome.complete) {
    m_cachedModel = outcome.result->model;
    m_cachedModelKey = outcome.weightsKey;
  }
  m_recomputed.reset();
  m_attentionPending = 0;
  const int previousLayer = m_result ? m_result->layerIndex : 0;
  if (!outcome.layers.empty()) {
    m_layerResults = outcome.layers;
    m_layer = std::clamp(m_layer, 0, static_cast<int>(m_layerResults.size()) - 1);
    m_result = m_layerResults[static_cast<std::size_t>(m_layer)];
    if (m_prefixQuery && *m_prefixQuery >= m_result->trace->prefixTokens) m_prefixQuery.reset();
    m_head = std::min(m_head, m_result->trace->heads - 1);
  } else {
    m_layerResults.clear();
    m_result = outcome.result;
    if (outcome.complete && !outcome.result->model) {
      m_layer = 0;
      m_prefixQuery.reset();
      m_head = -1;
    }
  }
  // A new trace: the q/k/v results of the old one go; the source applies to the new one.
  if (!m_sourceResults.empty() && m_sourceResults.front()->trace != m_result->trace)
    m_sourceResults.clear();
  applyTokenSource();
  m_config = outcome.config;
  // The panels show the shape of the weights actually used (a file brings its own).
  m_config.weights.shape.embedDim = m_result->weights->embedDim;
  m_config.weights.shape.patchSize = m_result->weights->patchSize;
  m_config.weights.shape.inChannels = m_result->weights->inChannels;
  m_committedConfig = m_config;
  m_channel = std::clamp(m_channel, 0, m_result->embedDim() - 1);
  if (m_selection) {
    const GridSize grid = m_result->embedding.grid;
    if (m_selection->row >= grid.rows || m_selection->col >= grid.cols) m_selection.reset();
  }
  m_overlayCache.reset();
  emit configChanged();
  emit resultChanged();
  if (m_result->layerIndex != previousLayer) emit layerChanged(m_result->layerIndex);
  if (m_result->trace) requestAttention(currentBlock());
  emit attentionChanged();
}

QString Session::noTransformerReason() const {
  if (!m_result) return tr("Open an image first");
  if (m_result->trace) return {};
  if (m_result->model) return tr("Computing the transformer's layers…");
  return tr("These weights hold only a patch embedding, no transformer blocks: %1")
      .arg(m_result->noTransformer.isEmpty() ? tr("nothing to step through")
                                             : m_result->noTransformer);
}

int Session::layerCount() const {
  return hasTransformer() ? m_result->trace->layerCount() : 1;
}

QString Session::layerName(int layer) const {
  if (!hasTransformer()) return tr("Patch embedding");
  return toQString(m_result->trace->layerName(layer));
}

void Session::setLayer(int layer) {
  if (m_layerResults.empty()) return;
  layer = std::clamp(layer, 0, static_cast<int>(m_layerResults.size()) - 1);
  if (layer == m_layer && m_result == m_layerResults[static_cast<std::size_t>(layer)]) return;
  const int oldBlock = currentBlock();
  m_layer = layer;
  m_result = m_layerResults[static_cast<std::size_t>(layer)];
  applyTokenSource();
  m_overlayCache.reset();
  emit resultChanged();
  emit layerChanged(layer);
  if (currentBlock() != oldBlock) {
    requestAttention(currentBlock());
    emit attentionChanged();
  }
}

bool Session::sourceApplies() const {
  if (!hasTransformer() || m_source == TokenSource::Tokens) return false;
  const int layer = m_result->layerIndex;
  return layer >= 2 && layer <= m_result->trace->depth + 1;  // "Block 1".."Block L"
}

QString Session::sourceLayerName() const {
  if (!hasTransformer()) return layerName(0);
  if (m_result->source == TokenSource::Tokens) return layerName(m_result->layerIndex);
  return tr("%1, block %2")
      .arg(QString::fromUtf8(tokenSourceTitle(m_result->source)))
      .arg(m_result->layerIndex - 1);
}

void Session::setTokenSource(TokenSource source) {
  if (source == m_source) return;
  m_source = source;
  if (hasTransformer() && !m_layerResults.empty()) {
    const auto shown = m_result;
    m_result = m_layerResults[static_cast<std::size_t>(m_layer)];
    applyTokenSource();
    if (m_result != shown) {
      m_overlayCache.reset();
      emit resultChanged();
    }
  }
  emit tokenSourceChanged();
}

void Session::applyTokenSource() {
  if (!sourceApplies()) return;
  const int layer = m_result->layerIndex;
  for (const auto& r : m_sourceResults) {
    if (r->trace == m_result->trace && r->layerIndex == layer && r->source == m_source) {
      m_result = r;
      return;
    }
  }
  // One job at a time: when it finishes, the source and layer then on screen are applied.
  if (m_sourcePending) return;
  m_sourcePending = std::make_pair(layer, m_source);
  const auto base = m_result;
  const int block = layer - 1;
  std::shared_ptr<const RowMatrixF> qkv =
      m_qkvTrace == base->trace.get() && m_qkvBlock == block ? m_qkv : nullptr;
  const TokenSource source = m_source;
  auto* watcher = new QFutureWatcher<TokenSourceResult>(this);
  connect(watcher, &QFutureWatcher<TokenSourceResult>::finished, this, [this, watcher, base] {
    watcher->deleteLater();
    m_sourcePending.reset();
    TokenSourceResult done;
    QString failure;
    try {
      try {
        done = watcher->result();
      } catch (
          const QUnhandledException& wrapped) {  // a worker's exception, as QtConcurrent keeps it
        if (wrapped.exception()) std::rethrow_exception(wrapped.exception());
        throw;
      }
    } catch (const Error& e) {
      failure = toQString(e.reason());
    } catch (const std::exception& e) {
      failure = QString::fromUtf8(e.what());
    }
    if (!failure.isEmpty()) {
      emit errorOccurred(tr("%1 of %2: %3")
                             .arg(QString::fromUtf8(tokenSourceTitle(m_source)))
                             .arg(toQString(base->trace->layerName(base->layerIndex)))
                             .arg(failure));
      return;
    }
    if (m_result && m_result->trace == base->trace) {
      m_qkvTrace = base->trace.get();
      m_qkvBlock = base->layerIndex - 1;
      m_qkv = done.qkv;
      m_sourceResults.push_back(done.result);
      if (m_sourceResults.size() > 8) m_sourceResults.erase(m_sourceResults.begin());
    }
    if (!m_result || m_layerResults.empty() || !sourceApplies() ||
        m_result->source != TokenSource::Tokens)
      return;
    applyTokenSource();  // the cached result, or the next request
    if (m_result->source != TokenSource::Tokens) {
      m_overlayCache.reset();
      emit resultChanged();
    }
  });
  watcher->setFuture(QtConcurrent::run(QThreadPool::globalInstance(), [base, qkv, source] {
    return computeTokenSourceResult(base, qkv, source);
  }));
}

std::shared_ptr<const ComputeResult> Session::baseResult() const {
  if (!m_layerResults.empty() && m_result && m_result->trace == m_layerResults.front()->trace)
    return m_layerResults.front();
  return m_result;
}

void Session::setPrefixQuery(std::optional<int> prefixIndex) {
  if (prefixIndex &&
      (!hasTransformer() || *prefixIndex < 0 || *prefixIndex >= m_result->trace->prefixTokens))
    return;
  if (prefixIndex == m_prefixQuery) return;
  m_prefixQuery = prefixIndex;
  if (m_overlay == OverlayKind::Attention || m_overlay == OverlayKind::Rollout) invalidateOverlay();
  emit attentionChanged();
}

int Session::queryToken() const {
  if (!hasTransformer()) return -1;
  const LayerTrace& t = *m_result->trace;
  if (m_prefixQuery) return *m_prefixQuery;
  if (m_selection) return t.prefixTokens + m_selection->row * t.gridCols + m_selection->col;
  if (t.prefixTokens > 0) return 0;
  return t.prefixTokens + (t.gridRows / 2) * t.gridCols + t.gridCols / 2;
}

int Session::rolloutToken() const {
  if (!hasTransformer()) return -1;
  const LayerTrace& t = *m_result->trace;
  if (m_prefixQuery) return *m_prefixQuery;
  if (t.prefixTokens > 0) return 0;
  return queryToken();
}

QString Session::patchTokenName(int patch) const {
  if (m_result && m_result->trace && m_result->source != TokenSource::Tokens) {
    // forward --qkv's q_L, k_L, v_L [H, T, dh] of block L = layerIndex - 1, prefix rows first.
    const QString name = tr("%1 of patch %2").arg(rowNoun(false)).arg(patch);
    if (m_result->trace->prefixTokens == 0) return name;
    return tr("%1 = %2_%3 token %4")
        .arg(name)
        .arg(QString::fromUtf8(tokenSourceName(m_result->source)).left(1))
        .arg(m_result->layerIndex - 1)
        .arg(patch + m_result->trace->prefixTokens);
  }
  if (m_result && m_result->trace && m_result->layerIndex > 0 && m_result->trace->prefixTokens > 0)
    return tr("patch %1 = tokens_L row %2").arg(patch).arg(patch + m_result->trace->prefixTokens);
  return tr("patch %1").arg(patch);
}

QString Session::rowNoun(bool plural) const {
  switch (m_result ? m_result->source : TokenSource::Tokens) {
    case TokenSource::Queries:
      return plural ? tr("queries") : tr("query");
    case TokenSource::Keys:
      return plural ? tr("keys") : tr("key");
    case TokenSource::Values:
      return plural ? tr("values") : tr("value");
    case TokenSource::Tokens:
      break;
  }
  return plural ? tr("tokens") : tr("token");
}

QString Session::queryName() const {
  const int token = queryToken();
  if (token < 0) return {};
  const LayerTrace& t = *m_result->trace;
  if (token < t.prefixTokens) return toQString(t.prefixNames[static_cast<std::size_t>(token)]);
  const int patch = token - t.prefixTokens;
  return tr("patch (%1, %2)").arg(patch / t.gridCols).arg(patch % t.gridCols);
}

void Session::setHead(int head) {
  if (!hasTransformer()) return;
  head = std::clamp(head, -1, m_result->trace->heads - 1);
  if (head == m_head) return;
  m_head = head;
  if (m_overlay == OverlayKind::Attention) invalidateOverlay();
  emit attentionChanged();
}

void Session::setHeadsOverride(int heads) {
  heads = std::max(heads, 0);
  if (heads == m_headsOverride) return;
  m_headsOverride = heads;
  if (m_result) reload();  // the encoder is read again with the new head count
}

int Session::currentBlock() const {
  return hasTransformer() ? m_result->trace->blockForLayer(m_result->layerIndex) : 0;
}

const std::vector<RowMatrixF>* Session::currentAttention() const {
  if (!hasTransformer()) return nullptr;
  const LayerTrace& t = *m_result->trace;
  const int block = currentBlock();
  if (t.hasAttention(block)) return &t.attentionOf(block);
  if (m_recomputed && m_recomputed->trace == &t && m_recomputed->block == block)
    return &m_recomputed->heads;
  return nullptr;
}

void Session::requestAttention(int block) {
  if (!hasTransformer() || block < 1) return;
  const LayerTrace& t = *m_result->trace;
  if (t.hasAttention(block) || m_attentionPending == block) return;
  if (m_recomputed && m_recomputed->trace == &t && m_recomputed->block == block) return;
  // Too large to keep every block: the forward runs again and keeps only this one.
  m_attentionPending = block;
  auto result = m_result;
  auto* watcher = new QFutureWatcher<std::vector<RowMatrixF>>(this);
  connect(watcher, &QFutureWatcher<std::vector<RowMatrixF>>::finished, this,
          [this, watcher, result, block] {
            watcher->deleteLater();
            if (!m_result || m_result->trace != result->trace) return;
            if (m_attentionPending == block) m_attentionPending = 0;
            try {
              m_recomputed = RecomputedAttention{result->trace.get(), block, watcher->result()};
            } catch (...) {
              return;
            }
            if (m_overlay == OverlayKind::Attention) invalidateOverlay();
            emit attentionChanged();
            if (block != currentBlock()) requestAttention(currentBlock());
          });
  watcher->setFuture(QtConcurrent::run(QThreadPool::globalInstance(), [result, block] {
    return attentionOfBlock(*result->model, result->tensor, block);
  }));
}

void Session::setBusy(bool busy) {
  if (m_busy == busy) return;
  m_busy = busy;
  emit busyChanged(busy);
}

int Session::selectedToken() const {
  if (!m_selection || !m_result) return -1;
  return m_result->embedding.tokenIndex(m_selection->row, m_selection->col);
}

void Session::setSelection(PatchPos pos) {
  if (!m_result) return;
  const GridSize grid = m_result->embedding.grid;
  pos.row = std::clamp(pos.row, 0, grid.rows - 1);
  pos.col = std::clamp(pos.col, 0, grid.cols - 1);
  if (m_selection == pos) return;
  m_selection = pos;
  // A clicked patch becomes the attention query (a prefix token chosen before gives way).
  m_prefixQuery.reset();
  if (m_overlay == OverlayKind::Similarity || m_overlay == OverlayKind::Attention ||
      m_overlay == OverlayKind::Rollout)
    m_overlayCache.reset();
  emit selectionChanged();
  if (hasTransformer()) emit attentionChanged();
}

void Session::clearSelection() {
  if (!m_selection) return;
  m_selection.reset();
  if (m_overlay == OverlayKind::Similarity || m_overlay == OverlayKind::Attention ||
      m_overlay == OverlayKind::Rollout)
    m_overlayCache.reset();
  emit selectionChanged();
  if (hasTransformer()) emit attentionChanged();
}

void Session::moveSelection(int dRow, int dCol) {
  if (!m_result) return;
  if (!m_selection) {
    const GridSize grid = m_result->embedding.grid;
    setSelection({grid.rows / 2, grid.cols / 2});
    return;
  }
  setSelection({m_selection->row + dRow, m_selection->col + dCol});
}

void Session::setChannel(int channel) {
  const int maxChannel = m_result ? m_result->embedDim() - 1 : m_config.weights.shape.embedDim - 1;
  channel = std::clamp(channel, 0, std::max(maxChannel, 0));
  if (channel == m_channel) return;
  m_channel = channel;
  // Only the overlay's cache: views that follow the channel listen to channelChanged, and
  // overlayChanged (style) would make the inspector and matrix rebuild for nothing.
  if (m_overlay == OverlayKind::Channel) m_overlayCache.reset();
  emit channelChanged(channel);
}

void Session::setOverlay(OverlayKind kind) {
  if (kind == m_overlay) return;
  m_overlay = kind;
  invalidateOverlay();
}

void Session::setColormapChoice(std::optional<ColormapId> choice) {
  if (choice == m_colormapChoice) return;
  m_colormapChoice = choice;
  invalidateOverlay();
}

void Session::setScaleChoice(std::optional<ScaleMode> choice) {
  if (choice == m_scaleChoice) return;
  m_scaleChoice = choice;
  invalidateOverlay();
}

void Session::setOpacity(double opacity) {
  opacity = std::clamp(opacity, 0.0, 1.0);
  if (opacity == m_opacity) return;
  m_opacity = opacity;
  emit overlayChanged();
}

void Session::invalidateOverlay() {
  m_overlayCache.reset();
  emit overlayChanged();
}

ColormapId Session::colormapFor(OverlayKind kind) const {
  if (m_colormapChoice) return *m_colormapChoice;
  switch (kind) {
    case OverlayKind::Channel:
    case OverlayKind::Mean:
    case OverlayKind::Similarity:
      return ColormapId::RdBu;  // signed values, zero in the middle
    case OverlayKind::Argmax:
      return ColormapId::Turbo;  // indices, many distinct hues
    default:
      return ColormapId::Viridis;
  }
}

ScaleMode Session::scaleFor(OverlayKind kind) const {
  if (m_scaleChoice) return *m_scaleChoice;
  return Colormap::get(colormapFor(kind)).isDiverging() ? ScaleMode::Symmetric : ScaleMode::MinMax;
}

ValueRange Session::rangeFor(const Eigen::Ref<const VectorF>& values, ScaleMode mode) const {
  return ColorScale::of(mode, values, m_result ? m_result->global : minMaxRange(values)).range;
}

const OverlayMap& Session::overlayMap() const {
  if (m_overlayCache) return *m_overlayCache;
  OverlayMap map;
  map.kind = m_overlay;
  std::optional<ColorScale> attentionScale;
  if (m_result) {
    const ComputeResult& r = *m_result;
    const GridSize grid = r.embedding.grid;
    switch (m_overlay) {
      case OverlayKind::None:
        break;
      case OverlayKind::Channel:
        map.values = channelMap(r.embedding.tokens, m_channel);
        map.label = tr("channel %1").arg(m_channel);
        break;
      case OverlayKind::Norm:
        map.values = r.norms;
        map.label = tr("L2 norm");
        break;
      case OverlayKind::Mean:
        map.values = r.means;
        map.label = tr("mean over channels");
        break;
      case OverlayKind::Argmax:
        map.values = r.argmax.cast<float>();
        map.integerValues = true;
        map.label = tr("argmax channel");
        break;
      case OverlayKind::Pca:
        map.isRgb = true;
        if (!r.hasPca()) {
          map.label = tr("PCA → RGB (computing…)");
          break;
        }
        map.label = tr("PCA → RGB (%1 / %2 / %3 % of variance)")
                        .arg(r.pca.explainedVarianceRatio.size() > 0
                                 ? r.pca.explainedVarianceRatio(0) * 100.0f
                                 : 0.0f,
                             0, 'f', 1)
                        .arg(r.pca.explainedVarianceRatio.size() > 1
                                 ? r.pca.explainedVarianceRatio(1) * 100.0f
                                 : 0.0f,
                             0, 'f', 1)
                        .arg(r.pca.explainedVarianceRatio.size() > 2
                                 ? r.pca.explainedVarianceRatio(2) * 100.0f
                                 : 0.0f,
                             0, 'f', 1);
        map.image = rgbRowsToQImage(r.pcaRgb, grid.rows, grid.cols);
        break;
      case OverlayKind::Similarity:
        if (const int token = selectedToken(); token >= 0) {
          map.values = cosineSimilarity(r.embedding.tokens, token);
          map.label = tr("cosine similarity to %1").arg(patchTokenName(token));
        }
        break;
      case OverlayKind::Attention:
        if (!r.trace) {
          map.label = tr("attention: these weights hold no transformer");
        } else if (const auto* heads = currentAttention()) {
          map.values = headPatchAttention(*heads, m_head, queryToken(), r.trace->prefixTokens);
          // The block's one colour scale over every head (as the dock and the exports).
          RowMatrixF maps(static_cast<Eigen::Index>(heads->size()), r.trace->patches());
          for (std::size_t h = 0; h < heads->size(); ++h)
            maps.row(static_cast<Eigen::Index>(h)) =
                patchAttention((*heads)[h], queryToken(), r.trace->prefixTokens).transpose();
          attentionScale = attentionColorScale(scaleFor(OverlayKind::Attention), maps);
          map.label = tr("attention from %1, block %2, %3")
                          .arg(queryName())
                          .arg(currentBlock())
                          .arg(m_head < 0 ? tr("mean over heads") : tr("head %1").arg(m_head));
        } else {
          map.label = tr("attention (computing block %1…)").arg(currentBlock());
        }
        break;
      case OverlayKind::Rollout:
        if (!r.trace) {
          map.label = tr("rollout: these weights hold no transformer");
        } else {
          const int token = rolloutToken();
          map.values = r.trace->rollout.patchMap(token, r.trace->prefixTokens);
          map.label = tr("attention rollout through %1 blocks from %2")
                          .arg(r.trace->depth)
                          .arg(token < r.trace->prefixTokens
                                   ? toQString(r.trace->prefixNames[std::size_t(token)])
                                   : queryName());
        }
        break;
      case OverlayKind::GradCam:
      case OverlayKind::Relevance: {
        const bool gradcam = m_overlay == OverlayKind::GradCam;
        const QString what = gradcam ? tr("Grad-CAM") : tr("relevance");
        const auto& e = m_explain->explanation();
        if (!e) {
          map.label = m_explain->unavailableReason().isEmpty()
                          ? tr("%1 (computing the backward…)").arg(what)
                          : what + QStringLiteral(": ") + m_explain->unavailableReason();
          break;
        }
        const RowMatrixF& values = gradcam ? e->gradcam : e->relevance;
        if (values.rows() != grid.rows || values.cols() != grid.cols) break;  // another image
        map.values = Eigen::Map<const VectorF>(values.data(), values.size());
        // "global" is the map's own range (the embedding's means nothing here), as exported.
        attentionScale = ColorScale::of(scaleFor(m_overlay), map.values, minMaxRange(map.values));
        const int depth = m_explain->explainer()->config().depth;
        map.label =
            gradcam ? tr("Grad-CAM · %1 · Block %2").arg(m_explain->targetName()).arg(depth)
                    : tr("relevance · %1 · Blocks 1–%2").arg(m_explain->targetName()).arg(depth);
        break;
      }
    }
    map.quantity = map.label;  // before the scale caption
    if (!map.isRgb && map.values.size() > 0) {
      map.colormap = colormapFor(m_overlay);
      const ScaleMode mode = scaleFor(m_overlay);
      if (m_overlay == OverlayKind::Argmax) {
        map.range = {0.0f, static_cast<float>(std::max(r.embedDim() - 1, 1))};
      } else if (m_overlay == OverlayKind::Similarity && mode == ScaleMode::Global) {
        map.range = {-1.0f, 1.0f};  // the whole range cosine similarity can take
        map.label += tr(" · scale global (−1…1)");
      } else {
        const ColorScale scale =
            attentionScale ? *attentionScale
                           : ColorScale::of(mode, map.values,
                                            m_result ? m_result->global : minMaxRange(map.values));
        map.range = scale.range;
        map.label += QStringLiteral(" · ") + scale.caption();
      }
      map.image = valuesToQImage(map.values, grid.rows, grid.cols, map.colormap, map.range);
      if (m_overlay == OverlayKind::Argmax) {
        // Categories, not amounts: distinct hues by how often a channel wins (the window's
        // legend names them), not neighbouring shades of one colormap over 0..D-1.
        std::map<int, QRgb> colours;
        const auto ranked = CategoryPalette::ranked(map.values);
        for (std::size_t i = 0; i < ranked.size(); ++i)
          colours[ranked[i].first] = CategoryPalette::color(static_cast<int>(i)).rgb();
        for (int t = 0; t < static_cast<int>(map.values.size()); ++t)
          map.image.setPixel(t % grid.cols, t / grid.cols,
                             colours[static_cast<int>(map.values(t))]);
      }
    }
    if (!map.image.isNull()) map.image.convertTo(QImage::Format_ARGB32_Premultiplied);
  }
  // A block's queries, keys or values name themselves: "Keys, block 6 · PCA → RGB (…)".
  const bool tokenMap = map.kind == OverlayKind::Channel || map.kind == OverlayKind::Norm ||
                        map.kind == OverlayKind::Mean || map.kind == OverlayKind::Argmax ||
                        map.kind == OverlayKind::Pca || map.kind == OverlayKind::Similarity;
  if (tokenMap && m_result && m_result->source != TokenSource::Tokens && !map.label.isEmpty()) {
    map.label = sourceLayerName() + QStringLiteral(" · ") + map.label;
    map.quantity = sourceLayerName() + QStringLiteral(" · ") + map.quantity;
  }
  m_overlayCache = std::move(map);
  return *m_overlayCache;
}

namespace {
// The patch-embedding reader names the file by its first layer's key family ("timm
// ViT/DeiT/DINOv2" for every timm-style file); once the encoder is read, its family says what the
// file really is (e.g. "Meta DINOv3 (4 storage tokens, RoPE)").
QString weightsText(const ComputeResult& r) {
  if (!r.model) return toQString(r.weights->description);
  return toQString(r.weights->file) + QStringLiteral(" (") + toQString(r.model->config().family) +
         QStringLiteral(")");
}
}  // namespace

QString Session::statusText() const {
  if (!m_result) return tr("No image");
  const ComputeResult& r = *m_result;
  const QString name = r.imagePath.startsWith(QLatin1Char(':')) ? tr("sample image")
                                                                : QFileInfo(r.imagePath).fileName();
  // Every size in the GUI reads height × width (rows × cols), as the grid does.
  return tr("%1 (%2×%3) → input %4×%5, grid %6×%7 of %8 px, D = %9 · weights: %10 · %11 ms")
             .arg(name)
             .arg(r.sourceSize.height())
             .arg(r.sourceSize.width())
             .arg(r.input.height())
             .arg(r.input.width())
             .arg(r.embedding.grid.rows)
             .arg(r.embedding.grid.cols)
             .arg(r.patchSize())
             .arg(r.embedDim())
             .arg(weightsText(r))
             .arg(r.computeMs, 0, 'f', 1) +
         (r.preview ? tr(" · preview from a JPEG decode at 1/%1 scale; the exact result follows")
                          .arg(r.previewReduction)
                    : QString()) +
         (m_explain->explanation() ? tr(" · explaining %1").arg(m_explain->targetName())
                                   : QString());
}

}  // namespace patchlens
