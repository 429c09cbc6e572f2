#include "ui/panels/foreground_pca_panel.h"

#include <QCheckBox>
#include <QFutureWatcher>
#include <QHBoxLayout>
#include <QLabel>
#include <QSlider>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include "core/analysis/foreground_pca.h"
#include "ui/figures/foreground_pca_figure.h"
#include "ui/figures/pca_rgb_figure.h"
#include "ui/session/session.h"
#include "ui/views/figure_widget.h"

namespace patchlens {

ForegroundPcaPanel::ForegroundPcaPanel(Session* session, QWidget* parent)
    : QWidget(parent), m_session(session) {
  setObjectName(QStringLiteral("foregroundPcaPanel"));
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  auto* controls = new QHBoxLayout;
  m_enabled = new QCheckBox(tr("&Foreground step"), this);
  m_enabled->setToolTip(
      tr("DINOv2 recipe: threshold the first principal component, then a "
         "second PCA of the foreground tokens only; background black"));
  m_threshold = new QSlider(Qt::Horizontal, this);
  m_threshold->setObjectName(QStringLiteral("foregroundThreshold"));
  m_threshold->setRange(0, 100);
  m_threshold->setValue(50);
  m_threshold->setAccessibleName(tr("Foreground threshold"));
  m_thresholdLabel = new QLabel(this);
  m_flip = new QCheckBox(tr("F&lip"), this);
  m_flip->setToolTip(
      tr("The sign of a principal axis is arbitrary: take the other end of PC1 "
         "as the foreground"));
  controls->addWidget(m_enabled);
  controls->addWidget(m_threshold, 1);
  controls->addWidget(m_thresholdLabel);
  controls->addWidget(m_flip);
  layout->addLayout(controls);
  m_figure = new FigureWidget(session, this);
  // 250 px wide: beside the attention dock and the matrix in a 1024-pixel window.
  m_figure->setMinimumSize(250, 160);
  layout->addWidget(m_figure, 1);
  connect(m_enabled, &QCheckBox::toggled, this, &ForegroundPcaPanel::rebuild);
  connect(m_flip, &QCheckBox::toggled, this, &ForegroundPcaPanel::rebuild);
  connect(m_threshold, &QSlider::valueChanged, this, &ForegroundPcaPanel::rebuild);
  connect(session, &Session::resultChanged, this, &ForegroundPcaPanel::rebuild);
  rebuild();
}

void ForegroundPcaPanel::rebuild() {
  const bool foreground = m_enabled->isChecked();
  m_threshold->setEnabled(foreground);
  m_flip->setEnabled(foreground);
  m_thresholdLabel->setText(QString::number(m_threshold->value() / 100.0, 'f', 2));
  // File > Export… draws the DINOv2 PCA with the settings on screen.
  m_session->setForegroundPca(
      ForegroundPcaOptions{static_cast<float>(m_threshold->value() / 100.0), m_flip->isChecked()},
      foreground);
  const auto result = m_session->result();
  ++m_generation;
  if (!result || !result->hasPca()) {
    m_figure->setFigure(nullptr);
    m_figure->setPlaceholder(result ? tr("Computing the PCA…") : tr("Open an image"));
    return;
  }
  const QString layerName = m_session->sourceLayerName();  // "Keys, block 6" (issue 21)
  if (!foreground) {
    auto figure = std::make_shared<PcaRgbFigure>(result->input, result->pca, result->embedding.grid,
                                                 result->patchSize(), m_session->rowNoun(true));
    // Its heading names the layer as every figure does: "…, Block 6" / "…, Keys, block 6".
    if (result->trace) figure->setContext(layerName);
    m_figure->setFigure(std::move(figure), QStringLiteral("pca"));
    return;
  }
  const ForegroundPcaOptions options{static_cast<float>(m_threshold->value() / 100.0),
                                     m_flip->isChecked()};
  const quint64 generation = m_generation;
  ++m_pending;
  auto* watcher = new QFutureWatcher<std::shared_ptr<const Figure>>(this);
  connect(watcher, &QFutureWatcher<std::shared_ptr<const Figure>>::finished, this,
          [this, watcher, generation] {
            watcher->deleteLater();
            --m_pending;
            if (generation != m_generation) return;  // a newer setting is on its way
            m_figure->setFigure(watcher->result(), QStringLiteral("pca"));
          });
  // "the foreground tokens, Block 6" / "the keys of block 4, foreground" (issue 21).
  const QString shown =
      ForegroundPcaFigure::shownText(result->source, layerName, result->layerIndex - 1);
  watcher->setFuture(QtConcurrent::run([result, shown, options]() -> std::shared_ptr<const Figure> {
    try {
      return std::make_shared<ForegroundPcaFigure>(
          result->input, foregroundPca(result->embedding.tokens, options), options,
          result->embedding.grid, result->patchSize(), shown);
    } catch (const std::exception&) {
      return nullptr;  // fewer than 2 tokens: nothing to show
    }
  }));
}

}  // namespace patchlens
