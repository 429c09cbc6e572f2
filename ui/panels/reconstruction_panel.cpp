#include "ui/panels/reconstruction_panel.h"

#include <QCheckBox>
#include <QFutureWatcher>
#include <QHBoxLayout>
#include <QLabel>
#include <QSlider>
#include <QVBoxLayout>
#include <QtConcurrent>
#include <algorithm>

#include "core/analysis/patch_reconstruction.h"
#include "ui/figures/reconstruction_figure.h"
#include "ui/session/analysis_cache.h"
#include "ui/session/session.h"
#include "ui/views/figure_widget.h"

namespace patchlens {

namespace {

struct Outcome {
  std::shared_ptr<const Figure> figure;
  double relativeError = 0.0;
  QString error;
};

}  // namespace

ReconstructionPanel::ReconstructionPanel(AnalysisCache* cache, QWidget* parent)
    : QWidget(parent), m_cache(cache), m_session(cache->session()) {
  m_all = new QCheckBox(tr("&All of the embedding"), this);
  m_all->setObjectName(QStringLiteral("allComponents"));
  m_all->setChecked(true);
  m_all->setToolTip(
      tr("Invert the whole embedding; unchecked, keep only the top k principal components of the "
         "tokens"));
  m_slider = new QSlider(Qt::Horizontal, this);
  m_slider->setObjectName(QStringLiteral("componentSlider"));
  m_slider->setRange(1, 1);
  m_slider->setEnabled(false);
  m_kLabel = new QLabel(this);
  m_kLabel->setMinimumWidth(90);
  m_error = new QLabel(this);
  m_error->setObjectName(QStringLiteral("reconstructionError"));
  m_error->setTextInteractionFlags(Qt::TextSelectableByMouse);
  // The slider keeps a usable width on a laptop (70 px: the dock under the image of a
  // 1024-pixel window); the error goes to its own line.
  m_slider->setMinimumWidth(70);
  m_error->setWordWrap(true);
  auto* controls = new QHBoxLayout;
  controls->setContentsMargins(6, 4, 6, 0);
  controls->addWidget(m_all);
  auto* kCaption = new QLabel(tr("&k:"), this);
  kCaption->setBuddy(m_slider);
  controls->addWidget(kCaption);
  controls->addWidget(m_slider, 1);
  controls->addWidget(m_kLabel);
  m_figure = new FigureWidget(m_session, this);
  m_figure->setObjectName(QStringLiteral("reconstructionFigure"));
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addLayout(controls);
  m_error->setContentsMargins(6, 0, 6, 0);
  layout->addWidget(m_error);
  layout->addWidget(m_figure, 1);

  connect(m_all, &QCheckBox::toggled, this, [this](bool all) {
    m_slider->setEnabled(!all);
    request();
  });
  connect(m_slider, &QSlider::valueChanged, this, &ReconstructionPanel::request);
  connect(m_cache, &AnalysisCache::changed, this, &ReconstructionPanel::request);
  connect(m_session, &Session::resultChanged, this, [this] {
    updateRange();
    request();
  });
  updateRange();
  request();
}

void ReconstructionPanel::setComponents(int k) {
  if (k <= 0) {
    m_all->setChecked(true);
  } else {
    m_slider->setValue(k);
    m_all->setChecked(false);
  }
  request();
}

int ReconstructionPanel::components() const {
  return m_all->isChecked() ? 0 : m_slider->value();
}

int ReconstructionPanel::maxComponents() const {
  return m_slider->maximum();
}

std::optional<double> ReconstructionPanel::relativeError() const {
  if (!m_shown || !(*m_shown == currentRequest())) return std::nullopt;
  return m_relativeError;
}

QString ReconstructionPanel::errorText() const {
  return m_error->text();
}

void ReconstructionPanel::updateRange() {
  const auto& result = m_session->baseResult();
  // The tokens have at most min(N, D) principal components.
  const int most = result ? std::max(1, std::min(result->tokens(), result->embedDim())) : 1;
  const QSignalBlocker blocker(m_slider);
  m_slider->setRange(1, most);
  m_slider->setPageStep(std::max(1, most / 16));
}

void ReconstructionPanel::showEvent(QShowEvent* event) {
  QWidget::showEvent(event);
  if (m_waitingToBeShown) request();
}

void ReconstructionPanel::setOnScreen(bool onScreen) {
  m_onScreen = onScreen;
  if (m_onScreen && m_waitingToBeShown) request();
}

ReconstructionPanel::Request ReconstructionPanel::currentRequest() const {
  const auto analyses = m_cache->analyses();
  Request r;
  r.result = m_session->baseResult();
  if (analyses && r.result && analyses->weights == r.result->weights)
    r.reconstructor = analyses->reconstructor;
  r.components = components();
  return r;
}

void ReconstructionPanel::request() {
  m_kLabel->setText(components() == 0 ? tr("k = all") : tr("k = %1").arg(components()));
  const Request r = currentRequest();
  if (!r.result) {
    m_figure->setPlaceholder(tr("Open an image to see what the embedding keeps of it."));
    return;
  }
  if (!r.reconstructor) {
    const auto analyses = m_cache->analyses();
    m_figure->setPlaceholder(
        analyses && !analyses->error.isEmpty() ? analyses->error : tr("Decomposing the weights…"));
    return;
  }
  if (m_shown && *m_shown == r) return;
  if (!isVisible() || !m_onScreen) {
    m_waitingToBeShown = true;
    return;
  }
  m_waitingToBeShown = false;
  // One job at a time; a slider dragged meanwhile asks again when it ends, with its last value.
  if (m_running) {
    m_dirty = true;
    return;
  }
  start(r);
}

void ReconstructionPanel::start(const Request& r) {
  m_running = true;
  m_error->setText(tr("computing…"));
  auto* watcher = new QFutureWatcher<Outcome>(this);
  connect(watcher, &QFutureWatcher<Outcome>::finished, this, [this, watcher, r] {
    const Outcome outcome = watcher->result();
    watcher->deleteLater();
    m_running = false;
    if (r == currentRequest()) {
      m_shown = r;
      m_relativeError = outcome.figure ? std::optional(outcome.relativeError) : std::nullopt;
      if (outcome.figure) {
        m_figure->setFigure(outcome.figure,
                            r.components > 0 ? QStringLiteral("reconstruction:%1").arg(r.components)
                                             : QStringLiteral("reconstruction"));
        m_error->setText(tr("relative error %1").arg(outcome.relativeError, 0, 'g', 3));
      } else {
        m_figure->setPlaceholder(outcome.error);
        m_error->clear();
      }
      emit reconstructionShown();
    }
    if (m_dirty || !(r == currentRequest())) {
      m_dirty = false;
      request();
    }
  });
  watcher->setFuture(QtConcurrent::run([r] {
    Outcome outcome;
    try {
      const ComputeResult& res = *r.result;
      const PatchReconstruction rec = r.reconstructor->reconstruct(
          res.tensor, res.embedding, res.config.preprocess.normalization, r.components,
          res.config.remainder);
      outcome.relativeError = rec.relativeError;
      outcome.figure =
          std::make_shared<ReconstructionFigure>(res.input, rec, res.embedDim(), ColormapId::Magma);
    } catch (const std::exception& e) {
      outcome.error = QString::fromStdString(e.what());
    }
    return outcome;
  }));
}

}  // namespace patchlens
