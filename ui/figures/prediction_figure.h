#pragma once

#include <QCoreApplication>
#include <QString>
#include <vector>

#include "ui/figures/figure.h"

namespace patchlens {

// The classifier's top K classes as horizontal probability bars, rank 1 on top (`export --plot
// prediction[:K]`, the Prediction dock's figure). `selected` (a class index, -1: none) is
// drawn in the accent colour: the class the Grad-CAM / relevance figures explain.
class PredictionFigure : public Figure {
  Q_DECLARE_TR_FUNCTIONS(PredictionFigure)

 public:
  struct Entry {
    int classIndex = 0;
    QString label;  // "tabby" (as predict resolves it) or "class 281"
    double probability = 0;
  };
  PredictionFigure(std::vector<Entry> top, int classes, QString labelsSource, int selected);

  QString ownTitle() const override;
  QSizeF preferredSize() const override;
  void paint(QPainter& painter, const QRectF& area) const override;

 private:
  std::vector<Entry> m_top;
  int m_classes;
  QString m_labelsSource;
  int m_selected;
};

}  // namespace patchlens
