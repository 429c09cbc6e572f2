#include "ui/panels/filter_pca_panel.h"

#include <QLabel>
#include <QVBoxLayout>
#include <algorithm>

#include "ui/figures/filter_pca_figure.h"
#include "ui/session/analysis_cache.h"
#include "ui/session/session.h"
#include "ui/views/figure_widget.h"

namespace patchlens {

FilterPcaPanel::FilterPcaPanel(AnalysisCache* cache, QWidget* parent)
    : QWidget(parent), m_cache(cache), m_figure(new FigureWidget(cache->session(), this)) {
  m_figure->setObjectName(QStringLiteral("filterPcaFigure"));
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  m_note = new QLabel(this);
  m_note->setObjectName(QStringLiteral("filterPcaNote"));
  m_note->setWordWrap(true);
  m_note->setContentsMargins(6, 4, 6, 0);
  m_note->hide();
  layout->addWidget(m_note);
  layout->addWidget(m_figure, 1);
  connect(m_cache, &AnalysisCache::changed, this, &FilterPcaPanel::refresh);
  refresh();
}

void FilterPcaPanel::refresh() {
  const auto analyses = m_cache->analyses();
  if (!analyses) {
    m_components = 0;
    m_shownPca = nullptr;
    m_figure->setPlaceholder(tr("Open an image to see the principal components of the filters."));
    return;
  }
  if (!analyses->filterPca) {
    m_components = 0;
    m_shownPca = nullptr;
    m_figure->setPlaceholder(analyses->error.isEmpty()
                                 ? tr("Computing the principal components of the filters…")
                                 : analyses->error);
    return;
  }
  if (m_shownPca == analyses->filterPca.get()) return;
  m_shownPca = analyses->filterPca.get();
  m_components = analyses->filterPca->components();
  // Equal shares are no bug: an orthonormal basis (the DCT) spreads the variance evenly.
  const FilterPca& pca = *analyses->filterPca;
  double lo = 1.0;
  double hi = 0.0;
  for (int i = 0; i < m_components; ++i) {
    const double share = static_cast<double>(pca.pca.explainedVarianceRatio(i));
    lo = std::min(lo, share);
    hi = std::max(hi, share);
  }
  const bool flat = m_components > 1 && hi > 0 && lo / hi > 0.9;
  m_note->setText(flat ? tr("Every component explains about the same share (%1 %): the filters "
                            "have flat variance, as an orthonormal basis such as the DCT does, so "
                            "no direction dominates and the components are one arbitrary basis "
                            "of many.")
                             .arg(hi * 100.0, 0, 'f', 1)
                       : QString());
  m_note->setVisible(flat);
  m_figure->setFigure(
      std::make_shared<FilterPcaFigure>(*analyses->filterPca, analyses->weights->embedDim),
      QStringLiteral("filter-pca"));
}

}  // namespace patchlens
