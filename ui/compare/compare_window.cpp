#include "ui/compare/compare_window.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>
#include <QtConcurrent>

#include "core/io/error.h"
#include "ui/session/session.h"

namespace patchlens {

namespace {

// A worker's value or its error message: exceptions stay on the worker (QtConcurrent would
// wrap a non-Qt exception).
template <typename T>
struct Outcome {
  T value{};
  QString error;
};

template <typename F>
auto guarded(F work) -> Outcome<decltype(work())> {
  try {
    return {work(), {}};
  } catch (const std::exception& e) {
    return {{}, QString::fromUtf8(e.what())};
  }
}

using Mode = CompareCanvas::Mode;

// The modes each pairing offers, in the Show box's order.
std::vector<std::pair<Mode, QString>> modesOf(CompareWindow::Pairing pairing) {
  if (pairing == CompareWindow::Pairing::TwoImages) {
    return {{Mode::Similarity, QObject::tr("Similarity of the patch under the mouse")},
            {Mode::Matches, QObject::tr("Matches")},
            {Mode::JointPca, QObject::tr("Joint PCA")}};
  }
  return {{Mode::ModelPca, QObject::tr("PCA")},
          {Mode::ModelAttention, QObject::tr("Attention from the selected patch")},
          {Mode::ModelSimilarity, QObject::tr("Similarity to the selected patch")}};
}

}  // namespace

CompareWindow::CompareWindow(const QString& imageA, const QString& imageB,
                             const PipelineConfig& config, int heads, QWidget* parent)
    : CompareWindow(Pairing::TwoImages, imageA, config, config, heads, parent) {
  if (!imageB.isEmpty()) start(imageB);
  updateStatus();
}

CompareWindow::CompareWindow(const QString& image, const PipelineConfig& configA,
                             const PipelineConfig& configB, int heads, QWidget* parent)
    : CompareWindow(Pairing::TwoModels, image, configA, configB, heads, parent) {
  start(QString::fromStdString(configB.weights.source));
  updateStatus();
}

CompareWindow::CompareWindow(Pairing pairing, const QString& imageA, const PipelineConfig& configA,
                             const PipelineConfig& configB, int heads, QWidget* parent)
    : QWidget(parent, Qt::Window),
      m_pairing(pairing),
      m_imageA(imageA),
      m_config(configA),
      m_configB(configB),
      m_heads(heads) {
  const bool models = pairing == Pairing::TwoModels;
  setWindowTitle(models ? tr("Compare models — PatchLens") : tr("Compare — PatchLens"));
  auto* layout = new QVBoxLayout(this);
  auto* controls = new QHBoxLayout;
  auto* openB = new QPushButton(models ? tr("Model B…") : tr("Image B…"), this);
  connect(openB, &QPushButton::clicked, this, &CompareWindow::openSecond);
  controls->addWidget(openB);
  controls->addWidget(new QLabel(tr("Layer"), this));
  m_layerBox = new QComboBox(this);
  m_layerBox->setMinimumContentsLength(14);
  m_layerBox->setToolTip(models ? tr("Layer of A; B shows the layer at the same relative depth, "
                                     "round(l · depth B / depth A)")
                                : tr("The layer of both images"));
  controls->addWidget(m_layerBox);
  controls->addWidget(new QLabel(tr("Show"), this));
  m_modeBox = new QComboBox(this);
  for (const auto& [mode, name] : modesOf(pairing)) m_modeBox->addItem(name);
  controls->addWidget(m_modeBox);
  m_countBox = new QSpinBox(this);
  m_foregroundBox = new QCheckBox(tr("Foreground only, PC1 >"), this);
  m_thresholdBox = new QDoubleSpinBox(this);
  m_headBox = new QSpinBox(this);
  if (!models) {
    controls->addWidget(new QLabel(tr("K"), this));
    m_countBox->setRange(1, 5000);
    m_countBox->setValue(50);
    m_countBox->setToolTip(tr("How many of the best mutual nearest neighbours to draw"));
    controls->addWidget(m_countBox);
    m_foregroundBox->setToolTip(
        tr("Matches between foreground patches only, and the joint PCA with the DINOv2 "
           "foreground step (threshold on the min–max scaled first component)"));
    controls->addWidget(m_foregroundBox);
    m_thresholdBox->setRange(0.0, 1.0);
    m_thresholdBox->setSingleStep(0.05);
    m_thresholdBox->setValue(0.5);
    controls->addWidget(m_thresholdBox);
  } else {
    controls->addWidget(new QLabel(tr("Head"), this));
    m_headBox->setRange(-1, 1023);
    m_headBox->setValue(-1);
    m_headBox->setSpecialValueText(tr("mean"));
    m_headBox->setToolTip(tr("The attention head of both models (mean: over every head)"));
    controls->addWidget(m_headBox);
  }
  m_countBox->setVisible(!models);
  m_foregroundBox->setVisible(!models);
  m_thresholdBox->setVisible(!models);
  m_headBox->setVisible(models);
  controls->addWidget(new QLabel(tr("Colormap"), this));
  m_colormapBox = new QComboBox(this);
  for (const ColormapId id : Colormap::all())
    m_colormapBox->addItem(QString::fromStdString(Colormap::get(id).name()), int(id));
  m_colormapBox->setToolTip(tr("One colormap for both sides"));
  controls->addWidget(m_colormapBox);
  controls->addStretch(1);
  layout->addLayout(controls);
  m_canvas = new CompareCanvas(this);
  m_canvas->setMode(modesOf(pairing).front().first);
  layout->addWidget(m_canvas, 1);
  m_status = new QLabel(this);
  m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);
  m_status->setWordWrap(true);
  layout->addWidget(m_status);

  connect(m_layerBox, &QComboBox::currentIndexChanged, this, [this] { computeLayer(); });
  connect(m_modeBox, &QComboBox::currentIndexChanged, this, [this](int index) {
    if (index >= 0) m_canvas->setMode(modesOf(m_pairing)[std::size_t(index)].first);
    updateCaptions();
    updateStatus();
  });
  connect(m_countBox, &QSpinBox::valueChanged, this, [this](int k) {
    m_canvas->setMatchCount(k);
    updateStatus();
  });
  connect(m_headBox, &QSpinBox::valueChanged, this, [this](int head) {
    m_canvas->setHead(head);
    updateCaptions();
    updateStatus();
  });
  connect(m_colormapBox, &QComboBox::currentIndexChanged, this, [this] {
    m_canvas->setColormap(static_cast<ColormapId>(m_colormapBox->currentData().toInt()));
  });
  connect(m_foregroundBox, &QCheckBox::toggled, this, [this] { computeLayer(); });
  connect(m_thresholdBox, &QDoubleSpinBox::valueChanged, this, [this] {
    if (m_foregroundBox->isChecked()) computeLayer();
  });
  connect(m_canvas, &CompareCanvas::probeChanged, this, [this] {
    updateCaptions();
    updateStatus();
  });
  resize(1280, 640);
}

CompareWindow::~CompareWindow() = default;

namespace {

// The window opened from the main window: the session's colormap choice when it has one.
void showFromSession(CompareWindow* window, const Session& session) {
  if (const auto colormap = session.colormapChoice()) window->setColormap(*colormap);
  window->setAttribute(Qt::WA_DeleteOnClose);
  window->show();
}

}  // namespace

void CompareWindow::openFor(QWidget* parent, const Session& session) {
  if (!session.result()) return;
  const QString imageA = session.result()->imagePath;
  const QString imageB = QFileDialog::getOpenFileName(
      parent, QObject::tr("Compare %1 with…").arg(QFileInfo(imageA).fileName()),
      QFileInfo(imageA).absolutePath());
  if (imageB.isEmpty()) return;
  showFromSession(
      new CompareWindow(imageA, imageB, session.config(), session.headsOverride(), parent),
      session);
}

void CompareWindow::openModelsFor(QWidget* parent, const Session& session) {
  if (!session.result()) return;
  const QString weightsA = QString::fromStdString(session.config().weights.source);
  const QString weightsB = QFileDialog::getOpenFileName(
      parent, QObject::tr("Compare %1 with the model…").arg(QFileInfo(weightsA).fileName()),
      QFileInfo(weightsA).absolutePath());
  if (weightsB.isEmpty()) return;
  showFromSession(new CompareWindow(session.result()->imagePath, session.config(),
                                    secondModelConfig(session.config(), weightsB.toStdString()),
                                    session.headsOverride(), parent),
                  session);
}

int CompareWindow::layer() const {
  return std::max(0, m_layerBox->currentIndex());
}

void CompareWindow::setLayer(int layer) {
  m_layerBox->setCurrentIndex(layer);
}

void CompareWindow::setMode(CompareCanvas::Mode mode) {
  const auto modes = modesOf(m_pairing);
  for (std::size_t i = 0; i < modes.size(); ++i)
    if (modes[i].first == mode) m_modeBox->setCurrentIndex(int(i));
}

void CompareWindow::setMatchCount(int k) {
  m_countBox->setValue(k);
}

void CompareWindow::setForeground(std::optional<double> threshold) {
  if (threshold) m_thresholdBox->setValue(*threshold);
  m_foregroundBox->setChecked(threshold.has_value());
}

void CompareWindow::setHead(int head) {
  m_headBox->setValue(head);
}

void CompareWindow::setColormap(ColormapId colormap) {
  m_colormapBox->setCurrentIndex(m_colormapBox->findData(int(colormap)));
}

void CompareWindow::openSecond() {
  const bool models = m_pairing == Pairing::TwoModels;
  const QString from = models ? QString::fromStdString(m_config.weights.source) : m_imageA;
  const QString path = QFileDialog::getOpenFileName(this, models ? tr("Model B") : tr("Image B"),
                                                    QFileInfo(from).absolutePath());
  if (path.isEmpty()) return;
  if (models) m_configB = secondModelConfig(m_config, path.toStdString());
  start(path);
}

void CompareWindow::start(const QString& second) {
  m_started = true;
  if (m_pairing == Pairing::TwoImages) m_imageB = second;
  m_error.clear();
  m_busy = true;
  const quint64 generation = ++m_generation;
  m_sides.reset();
  m_layer.reset();
  m_models.reset();
  m_canvas->setSides(nullptr);
  updateStatus();
  using Sides = std::pair<CompareSide, CompareSide>;
  auto* watcher = new QFutureWatcher<Outcome<Sides>>(this);
  connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher, generation] {
    watcher->deleteLater();
    if (generation != m_generation) return;
    Outcome<Sides> sides = watcher->future().result();
    m_error = sides.error;
    if (!m_error.isEmpty()) {
      m_busy = false;
      updateStatus();
      emit idle();
      return;
    }
    m_sides = std::make_shared<const Sides>(std::move(sides.value));
    m_canvas->setSides(m_sides);
    const QSignalBlocker block(m_layerBox);
    m_layerBox->clear();
    // Two models: A's layers, each beside B's at the same relative depth (both need an encoder).
    const bool both = m_sides->first.trace && m_sides->second.trace;
    const int layers = m_pairing == Pairing::TwoImages || both ? m_sides->first.layerCount() : 1;
    for (int l = 0; l < layers; ++l) m_layerBox->addItem(m_sides->first.layerName(l));
    m_layerBox->setCurrentIndex(m_layerBox->count() - 1);  // the final norm: the features
    computeLayer();
  });
  const QString a = m_imageA;
  const PipelineConfig configA = m_config;
  const PipelineConfig configB = m_configB;
  const int heads = m_heads;
  const bool models = m_pairing == Pairing::TwoModels;
  watcher->setFuture(QtConcurrent::run([a, second, configA, configB, heads, models] {
    return guarded([&] {
      return models ? computeCompareModels(a, configA, configB, heads)
                    : computeCompareSides(a, second, configA, heads);
    });
  }));
}

void CompareWindow::computeLayer() {
  if (!m_sides) return;
  m_busy = true;
  const quint64 generation = ++m_generation;
  updateStatus();
  const auto sides = m_sides;
  const int l = layer();
  if (m_pairing == Pairing::TwoModels) {
    runLayerJob<ModelsLayer>(
        generation, [sides, l] { return computeModelsLayer(sides->first, sides->second, l); },
        [this](ModelsLayer&& result) {
          m_models = std::make_shared<const ModelsLayer>(std::move(result));
          m_canvas->setModelsLayer(m_models);
        });
    return;
  }
  std::optional<ForegroundPcaOptions> foreground;
  if (m_foregroundBox->isChecked())
    foreground = ForegroundPcaOptions{static_cast<float>(m_thresholdBox->value()), false};
  runLayerJob<CompareLayer>(
      generation,
      [sides, l, foreground] {
        return computeCompareLayer(sides->first, sides->second, l, foreground);
      },
      [this](CompareLayer&& result) {
        m_layer = std::make_shared<const CompareLayer>(std::move(result));
        m_canvas->setLayerResult(m_layer);
      });
}

template <typename T, typename Work, typename Publish>
void CompareWindow::runLayerJob(quint64 generation, Work work, Publish publish) {
  auto* watcher = new QFutureWatcher<Outcome<T>>(this);
  connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher, generation, publish] {
    watcher->deleteLater();
    if (generation != m_generation) return;
    Outcome<T> result = watcher->future().result();
    m_error = result.error;
    m_busy = false;
    if (m_error.isEmpty()) publish(std::move(result.value));
    updateCaptions();
    updateStatus();
    emit idle();
  });
  watcher->setFuture(QtConcurrent::run([work] { return guarded(work); }));
}

QString CompareWindow::modelName(bool b) const {
  const QFileInfo info(QString::fromStdString((b ? m_configB : m_config).weights.source));
  const QFileInfo other(QString::fromStdString((b ? m_config : m_configB).weights.source));
  // Two "model.safetensors": with their folders.
  if (info.fileName() != other.fileName()) return info.fileName();
  return info.dir().dirName() + QLatin1Char('/') + info.fileName();
}

void CompareWindow::updateCaptions() {
  if (!m_sides) return;
  QString captions[2];
  for (const bool b : {false, true}) {
    const CompareSide& s = b ? m_sides->second : m_sides->first;
    const QString tag = b ? QStringLiteral("B: ") : QStringLiteral("A: ");
    if (m_pairing == Pairing::TwoImages) {
      captions[b ? 1 : 0] =
          tag + QFileInfo(s.path).fileName() + QStringLiteral(" · ") + m_layerBox->currentText();
      continue;
    }
    const int index = m_models ? (b ? m_models->layerB : m_models->layerA) : layer();
    QString text = tag + modelName(b) + QStringLiteral(" · ") + s.layerName(index);
    if (s.trace && index >= 2 && index <= s.trace->depth + 1)
      text += tr(" of %1").arg(s.trace->depth);  // "Block 2 of 12"
    if (m_canvas->mode() == Mode::ModelAttention && s.trace && m_models) {
      const int block = m_canvas->attentionBlock(b);
      const int head = m_headBox->value();
      text = tag + modelName(b) + tr(" · attention, block %1 of %2").arg(block).arg(s.trace->depth);
      if (head < 0)
        text += tr(", mean of %1 heads").arg(s.trace->heads);
      else if (head < s.trace->heads)
        text += tr(", head %1").arg(head);
      else
        text += tr(", no head %1 (heads 0..%2)").arg(head).arg(s.trace->heads - 1);
      if (!s.trace->hasAttention(block)) text += tr(" (not kept: over the memory budget)");
    }
    captions[b ? 1 : 0] = text;
  }
  m_canvas->setCaptions(captions[0], captions[1]);
}

void CompareWindow::updateStatus() {
  QString text;
  if (!m_error.isEmpty()) {
    text = tr("Error: %1").arg(m_error);
  } else if (!m_sides) {
    text = m_started ? tr("Computing both sides…") : tr("Choose image B");
  } else if ((!m_layer && !m_models) || m_busy) {
    text = tr("Computing %1…").arg(m_layerBox->currentText());
  } else if (m_pairing == Pairing::TwoModels) {
    const auto& [a, b] = *m_sides;
    // The model names and layers are in the titles; the pairing rule is the layer box's tooltip.
    text = tr("A %1 × %2 patches, B %3 × %4")
               .arg(a.grid.rows)
               .arg(a.grid.cols)
               .arg(b.grid.rows)
               .arg(b.grid.cols);
    for (const bool side : {false, true}) {
      const VectorF map = m_canvas->shownMap(side);
      if (map.size() == 0) continue;
      text += tr(" · %1 map %2 – %3")
                  .arg(side ? "B" : "A")
                  .arg(map.minCoeff(), 0, 'f', 3)
                  .arg(map.maxCoeff(), 0, 'f', 3);
    }
    const int ta = m_canvas->selectedToken(false);
    const int tb = m_canvas->selectedToken(true);
    if (ta >= 0 && tb >= 0) {
      text += tr(" · selected: A (%1, %2), B (%3, %4)")
                  .arg(ta / a.grid.cols)
                  .arg(ta % a.grid.cols)
                  .arg(tb / b.grid.cols)
                  .arg(tb % b.grid.cols);
    }
  } else {
    const auto& matches = m_layer->matches;
    const std::size_t k =
        std::min<std::size_t>(static_cast<std::size_t>(m_countBox->value()), matches.size());
    text =
        tr("%1 · %2 mutual nearest neighbours").arg(m_layerBox->currentText()).arg(matches.size());
    if (m_canvas->mode() == Mode::Matches && k > 0) {
      text += tr(" · drawn: the best %1, similarity %2 – %3")
                  .arg(k)
                  .arg(matches[k - 1].similarity, 0, 'f', 3)
                  .arg(matches.front().similarity, 0, 'f', 3);
    }
    const auto probe = m_canvas->probe();
    const int best = m_canvas->bestMatch();
    const VectorF map = probe ? m_canvas->shownMap(!probe->inB) : VectorF();
    if (map.size() > 0) {
      text += tr(" · map %1 (dark) – %2 (light)")
                  .arg(map.minCoeff(), 0, 'f', 3)
                  .arg(map.maxCoeff(), 0, 'f', 3);
    }
    if (probe && best >= 0) {
      const CompareSide& from = probe->inB ? m_sides->second : m_sides->first;
      const CompareSide& to = probe->inB ? m_sides->first : m_sides->second;
      const float s = probe->inB ? m_layer->similarity(best, probe->token)
                                 : m_layer->similarity(probe->token, best);
      text += tr(" · %1 patch (%2, %3) → best match in %4: (%5, %6), similarity %7")
                  .arg(probe->inB ? "B" : "A")
                  .arg(probe->token / from.grid.cols)
                  .arg(probe->token % from.grid.cols)
                  .arg(probe->inB ? "A" : "B")
                  .arg(best / to.grid.cols)
                  .arg(best % to.grid.cols)
                  .arg(s, 0, 'f', 3);
    }
  }
  m_status->setText(text);
}

}  // namespace patchlens
