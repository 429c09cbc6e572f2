#pragma once

#include <QWidget>

class QLabel;

namespace patchlens {

class AnalysisCache;
class FigureWidget;

// The first 28 principal components of the filters with their explained variance (the ViT
// paper's Fig. 7, left), computed once per weight set off the GUI thread.
class FilterPcaPanel : public QWidget {
  Q_OBJECT

 public:
  explicit FilterPcaPanel(AnalysisCache* cache, QWidget* parent = nullptr);

  // Components shown; 0 while computing.
  int componentCount() const { return m_components; }
  FigureWidget* figureWidget() const { return m_figure; }

 private:
  void refresh();

  AnalysisCache* m_cache;
  FigureWidget* m_figure;
  QLabel* m_note = nullptr;          // why the variance is flat, when it is
  const void* m_shownPca = nullptr;  // the FilterPca the figure was drawn from
  int m_components = 0;
};

}  // namespace patchlens
