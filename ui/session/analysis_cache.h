#pragma once

#include <QFuture>
#include <QImage>
#include <QObject>
#include <QString>
#include <memory>
#include <optional>
#include <vector>

#include "core/analysis/filter_analysis.h"
#include "core/analysis/patch_reconstruction.h"
#include "core/analysis/position_similarity.h"
#include "core/weights/patch_weights.h"

namespace patchlens {

class Session;

// What the analysis views show about one weight set, filled in stage by stage on a worker
// thread. Immutable once published: each stage publishes a new, more complete copy.
struct WeightAnalyses {
  std::shared_ptr<const PatchWeights> weights;
  std::vector<QImage> filterTiles;  // D tiles of P x P, empty until computed
  bool positionDone = false;
  std::shared_ptr<const PositionSimilarity>
      positionSimilarity;  // null without a position embedding
  QString positionError;   // why there is none
  std::shared_ptr<const PatchReconstructor> reconstructor;
  std::shared_ptr<const FilterPca> filterPca;
  QString error;  // a stage failed (shown instead of its view)

  bool hasFilterTiles() const { return !filterTiles.empty(); }
};

// Computes the per-weight-set analyses (filter tiles, position similarity, the
// reconstruction's decomposition, filter PCA) off the GUI thread whenever the session's
// weights change, and keeps them while the weights stay the same (a new image or another
// channel costs nothing).
class AnalysisCache : public QObject {
  Q_OBJECT

 public:
  explicit AnalysisCache(Session* session, QObject* parent = nullptr);
  ~AnalysisCache() override;

  Session* session() const { return m_session; }
  // The analyses of the current weights so far; null before the first result.
  const std::shared_ptr<const WeightAnalyses>& analyses() const { return m_analyses; }
  // True while a stage for the current weights is still running.
  bool isComputing() const { return m_computing; }

 signals:
  // A stage finished (or the weights changed and the previous analyses were dropped).
  void changed();

 private:
  void onResultChanged();
  void publish(const std::shared_ptr<const WeightAnalyses>& analyses, bool last);

  Session* m_session;
  std::shared_ptr<const WeightAnalyses> m_analyses;
  bool m_computing = false;
  QFuture<std::shared_ptr<const WeightAnalyses>>
      m_future;  // the running stages, cancelled when superseded
};

}  // namespace patchlens
