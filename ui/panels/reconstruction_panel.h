#pragma once

#include <QWidget>
#include <memory>
#include <optional>

class QCheckBox;
class QLabel;
class QSlider;

namespace patchlens {

class AnalysisCache;
class FigureWidget;
class Session;
struct ComputeResult;
class PatchReconstructor;

// The input next to what the embedding keeps of it: the patches recovered from the tokens
// by least squares, from all of them or from their top-k principal components (slider),
// with the relative error. Recomputed off the GUI thread, the latest request only.
class ReconstructionPanel : public QWidget {
  Q_OBJECT

 public:
  explicit ReconstructionPanel(AnalysisCache* cache, QWidget* parent = nullptr);

  // k token PCA components; 0 = all of the embedding.
  void setComponents(int k);
  int components() const;
  int maxComponents() const;
  // The relative error of the reconstruction on screen, once computed for components().
  std::optional<double> relativeError() const;
  QString errorText() const;
  // A reconstruction is being computed or waits to be.
  bool isBusy() const { return m_running || m_dirty; }
  // Hidden, or a dock tab behind another (still "visible" to Qt), the panel computes nothing:
  // it would compete with the encoder's forward for the two cores. It catches up when shown.
  bool isWaitingToBeShown() const { return m_waitingToBeShown; }
  // Told by the dock's visibilityChanged: whether its tab is the one on screen.
  void setOnScreen(bool onScreen);
  FigureWidget* figureWidget() const { return m_figure; }

 signals:
  void reconstructionShown();

 protected:
  void showEvent(QShowEvent* event) override;

 private:
  struct Request {
    std::shared_ptr<const ComputeResult> result;
    std::shared_ptr<const PatchReconstructor> reconstructor;
    int components = 0;
    bool operator==(const Request&) const = default;
  };
  Request currentRequest() const;
  void updateRange();
  void request();
  void start(const Request& request);

  AnalysisCache* m_cache;
  Session* m_session;
  QSlider* m_slider;
  QCheckBox* m_all;
  QLabel* m_kLabel;
  QLabel* m_error;
  FigureWidget* m_figure;
  bool m_running = false;
  bool m_dirty = false;
  bool m_waitingToBeShown = false;
  bool m_onScreen = true;
  std::optional<Request> m_shown;
  std::optional<double> m_relativeError;
};

}  // namespace patchlens
