#include "ui/compare/compare_window.h"

#include <QCheckBox>
#include <QComboBox>
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

}  // namespace

CompareWindow::CompareWindow(const QString& imageA, const QString& imageB,
                             const PipelineConfig& config, int heads, QWidget* parent)
    : QWidget(parent, Qt::Window), m_imageA(imageA), m_config(config), m_heads(heads) {
  setWindowTitle(tr("Compare — PatchLens"));
  auto* layout = new QVBoxLayout(this);
  auto* controls = new QHBoxLayout;
  auto* openB = new QPushButton(tr("Image B…"), this);
  connect(openB, &QPushButton::clicked, this, &CompareWindow::openImageB);
  controls->addWidget(openB);
  controls->addWidget(new QLabel(tr("Layer"), this));
  m_layerBox = new QComboBox(this);
  m_layerBox->setMinimumContentsLength(16);
  controls->addWidget(m_layerBox);
  controls->addWidget(new QLabel(tr("Show"), this));
  m_modeBox = new QComboBox(this);
  m_modeBox->addItems(
      {tr("Similarity of the patch under the mouse"), tr("Matches"), tr("Joint PCA")});
  controls->addWidget(m_modeBox);
  controls->addWidget(new QLabel(tr("K"), this));
  m_countBox = new QSpinBox(this);
  m_countBox->setRange(1, 5000);
  m_countBox->setValue(50);
  m_countBox->setToolTip(tr("How many of the best mutual nearest neighbours to draw"));
  controls->addWidget(m_countBox);
  m_foregroundBox = new QCheckBox(tr("Foreground only, PC1 >"), this);
  m_foregroundBox->setToolTip(
      tr("Matches between foreground patches only, and the joint PCA with the DINOv2 "
         "foreground step (threshold on the min–max scaled first component)"));
  controls->addWidget(m_foregroundBox);
  m_thresholdBox = new QDoubleSpinBox(this);
  m_thresholdBox->setRange(0.0, 1.0);
  m_thresholdBox->setSingleStep(0.05);
  m_thresholdBox->setValue(0.5);
  controls->addWidget(m_thresholdBox);
  controls->addStretch(1);
  layout->addLayout(controls);
  m_canvas = new CompareCanvas(this);
  layout->addWidget(m_canvas, 1);
  m_status = new QLabel(this);
  m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);
  layout->addWidget(m_status);

  connect(m_layerBox, &QComboBox::currentIndexChanged, this, [this] { computeLayer(); });
  connect(m_modeBox, &QComboBox::currentIndexChanged, this, [this](int index) {
    m_canvas->setMode(static_cast<CompareCanvas::Mode>(index));
    updateStatus();
  });
  connect(m_countBox, &QSpinBox::valueChanged, this, [this](int k) {
    m_canvas->setMatchCount(k);
    updateStatus();
  });
  connect(m_foregroundBox, &QCheckBox::toggled, this, [this] { computeLayer(); });
  connect(m_thresholdBox, &QDoubleSpinBox::valueChanged, this, [this] {
    if (m_foregroundBox->isChecked()) computeLayer();
  });
  connect(m_canvas, &CompareCanvas::probeChanged, this, &CompareWindow::updateStatus);
  resize(1280, 640);
  if (!imageB.isEmpty()) start(imageB);
  updateStatus();
}

CompareWindow::~CompareWindow() = default;

void CompareWindow::openFor(QWidget* parent, const Session& session) {
  if (!session.result()) return;
  const QString imageA = session.result()->imagePath;
  const QString imageB = QFileDialog::getOpenFileName(
      parent, QObject::tr("Compare %1 with…").arg(QFileInfo(imageA).fileName()),
      QFileInfo(imageA).absolutePath());
  if (imageB.isEmpty()) return;
  auto* window =
      new CompareWindow(imageA, imageB, session.config(), session.headsOverride(), parent);
  window->setAttribute(Qt::WA_DeleteOnClose);
  window->show();
}

int CompareWindow::layer() const {
  return std::max(0, m_layerBox->currentIndex());
}

void CompareWindow::setLayer(int layer) {
  m_layerBox->setCurrentIndex(layer);
}

void CompareWindow::setMode(CompareCanvas::Mode mode) {
  m_modeBox->setCurrentIndex(static_cast<int>(mode));
}

void CompareWindow::setMatchCount(int k) {
  m_countBox->setValue(k);
}

void CompareWindow::setForeground(std::optional<double> threshold) {
  if (threshold) m_thresholdBox->setValue(*threshold);
  m_foregroundBox->setChecked(threshold.has_value());
}

void CompareWindow::openImageB() {
  const QString path =
      QFileDialog::getOpenFileName(this, tr("Image B"), QFileInfo(m_imageA).absolutePath());
  if (!path.isEmpty()) start(path);
}

void CompareWindow::start(const QString& imageB) {
  m_imageB = imageB;
  m_error.clear();
  m_busy = true;
  const quint64 generation = ++m_generation;
  m_sides.reset();
  m_layer.reset();
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
    for (int l = 0; l < m_sides->first.layerCount(); ++l)
      m_layerBox->addItem(m_sides->first.layerName(l));
    m_layerBox->setCurrentIndex(m_layerBox->count() - 1);  // the final norm: the features
    computeLayer();
  });
  const QString a = m_imageA;
  const PipelineConfig config = m_config;
  const int heads = m_heads;
  watcher->setFuture(QtConcurrent::run([a, imageB, config, heads] {
    return guarded([&] { return computeCompareSides(a, imageB, config, heads); });
  }));
}

void CompareWindow::computeLayer() {
  if (!m_sides) return;
  m_busy = true;
  const quint64 generation = ++m_generation;
  updateStatus();
  std::optional<ForegroundPcaOptions> foreground;
  if (m_foregroundBox->isChecked())
    foreground = ForegroundPcaOptions{static_cast<float>(m_thresholdBox->value()), false};
  auto* watcher = new QFutureWatcher<Outcome<CompareLayer>>(this);
  connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher, generation] {
    watcher->deleteLater();
    if (generation != m_generation) return;
    Outcome<CompareLayer> result = watcher->future().result();
    m_error = result.error;
    m_busy = false;
    if (m_error.isEmpty()) {
      m_layer = std::make_shared<const CompareLayer>(std::move(result.value));
      m_canvas->setLayerResult(m_layer);
    }
    updateStatus();
    emit idle();
  });
  const auto sides = m_sides;
  const int l = layer();
  watcher->setFuture(QtConcurrent::run([sides, l, foreground] {
    return guarded([&] { return computeCompareLayer(sides->first, sides->second, l, foreground); });
  }));
}

void CompareWindow::updateStatus() {
  QString text;
  if (!m_error.isEmpty()) {
    text = tr("Error: %1").arg(m_error);
  } else if (!m_sides) {
    text = m_imageB.isEmpty() ? tr("Choose image B") : tr("Computing both images…");
  } else if (!m_layer || m_busy) {
    text = tr("Computing %1…").arg(m_layerBox->currentText());
  } else {
    const auto& matches = m_layer->matches;
    const std::size_t k =
        std::min<std::size_t>(static_cast<std::size_t>(m_countBox->value()), matches.size());
    text =
        tr("%1 · %2 mutual nearest neighbours").arg(m_layerBox->currentText()).arg(matches.size());
    if (m_modeBox->currentIndex() == 1 && k > 0) {
      text += tr(" · drawn: the best %1, similarity %2 – %3")
                  .arg(k)
                  .arg(matches[k - 1].similarity, 0, 'f', 3)
                  .arg(matches.front().similarity, 0, 'f', 3);
    }
    const auto probe = m_canvas->probe();
    const int best = m_canvas->bestMatch();
    if (probe && best >= 0 && m_modeBox->currentIndex() == 0) {
      const VectorF map = probe->inB ? VectorF(m_layer->similarity.col(probe->token))
                                     : VectorF(m_layer->similarity.row(probe->token).transpose());
      text += tr(" · map %1 (dark) – %2 (yellow)")
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
