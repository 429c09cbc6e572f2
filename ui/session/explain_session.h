#pragma once

#include <QObject>
#include <QString>
#include <functional>
#include <memory>

#include "core/analysis/class_explainer.h"

namespace patchlens {

class Session;

// The classifier's side of the session (issue 22): after each forward, on a worker thread, the
// head is read, the forward with activations kept and one exact backward run for the selected
// class (default the top one; without a head: the selected patch's similarity to the class
// token, `explain --target similar:R,C`). A generation counter drops superseded jobs; the GUI
// thread only receives the finished, immutable explanation.
class ExplainSession : public QObject {
  Q_OBJECT

 public:
  explicit ExplainSession(Session* session);

  // Null until the first job finishes, and for a model that cannot be explained.
  const std::shared_ptr<const ClassExplainer>& explainer() const { return m_explainer; }
  const std::shared_ptr<const ClassExplanation>& explanation() const { return m_explanation; }
  // Why Grad-CAM / relevance cannot be shown (no transformer, a refused backward, ...): the
  // overlay actions' tooltip; empty when they can (or are being computed).
  QString unavailableReason() const { return m_unavailable; }
  // Why the checkpoint has no classifier head (the dock says so), empty with one.
  QString noHeadReason() const { return m_noHead; }
  bool isBusy() const { return m_busy; }
  // The class chosen in the Prediction dock; -1: the top class.
  int selectedClass() const { return m_selectedClass; }
  void selectClass(int classIndex);
  // How titles and the status bar name the explained target: "class 281 tabby".
  QString targetName() const;

 signals:
  void changed();

 private:
  struct Outcome {
    std::shared_ptr<const ClassExplainer> explainer;  // set by a new forward only
    std::shared_ptr<const ClassExplanation> explanation;
    QString unavailable;
    QString noHead;
  };
  void onResultChanged();
  void onSelectionChanged();
  // A new forward: the head, the kept activations and the selected target's backward.
  void startForward();
  // Another target of the explainer at hand: one backward.
  void start(std::shared_ptr<const ClassExplainer> explainer, int classIndex, int row, int col);
  // Runs `work` on a worker thread; publishes its outcome when no newer job started since.
  void run(std::function<Outcome()> work);

  Session* m_session;
  const void* m_traceKey = nullptr;  // the forward explained (its LayerTrace)
  quint64 m_generation = 0;
  bool m_busy = false;
  int m_selectedClass = -1;
  std::shared_ptr<const ClassExplainer> m_explainer;
  std::shared_ptr<const ClassExplanation> m_explanation;
  QString m_unavailable;
  QString m_noHead;
};

}  // namespace patchlens
