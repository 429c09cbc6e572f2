#include "ui/panels/filter_pca_panel.h"

#include <QVBoxLayout>

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
  layout->addWidget(m_figure);
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
  m_figure->setFigure(
      std::make_shared<FilterPcaFigure>(*analyses->filterPca, analyses->weights->embedDim),
      QStringLiteral("filter-pca"));
}

}  // namespace patchlens
