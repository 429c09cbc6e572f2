#pragma once

#include <QWidget>

class QLabel;
class QTableWidget;

namespace patchlens {

class Session;

// The Prediction dock (issue 22): the classifier's top 5 classes with probability bars, labels
// as `predict` resolves them. Clicking a row makes that class the one the Grad-CAM and
// relevance overlays (and their exports) explain. A checkpoint without a head: one line says
// so. Everything shown comes from the session's ExplainSession (computed off the GUI thread).
class PredictionPanel : public QWidget {
  Q_OBJECT

 public:
  static constexpr int kTop = 5;
  explicit PredictionPanel(Session* session, QWidget* parent = nullptr);

  QTableWidget* table() const { return m_table; }
  QString message() const;

 private:
  void refresh();

  Session* m_session;
  QLabel* m_message;
  QTableWidget* m_table;
};

}  // namespace patchlens
