#include "ui/session/analysis_cache.h"

#include <QFutureWatcher>
#include <QPromise>
#include <QtConcurrent>

#include "core/io/error.h"
#include "ui/base/qt_conversions.h"
#include "ui/session/session.h"

namespace patchlens {

namespace {

using Published = std::shared_ptr<const WeightAnalyses>;

// Cheapest first, so the gallery appears at once and the filter PCA (the slowest) comes last.
void computeStages(QPromise<Published>& promise, std::shared_ptr<const PatchWeights> weights) {
  auto current = std::make_shared<WeightAnalyses>();
  current->weights = weights;
  const auto publish = [&] {
    promise.addResult(Published(std::make_shared<WeightAnalyses>(*current)));
  };
  try {
    current->filterTiles.reserve(static_cast<std::size_t>(weights->embedDim));
    for (int k = 0; k < weights->embedDim; ++k) {
      if (promise.isCanceled()) return;
      current->filterTiles.push_back(toQImage(tileToRgb8(filterTile(*weights, k))));
    }
    publish();
    if (weights->positionEmbedding) {
      try {
        current->positionSimilarity =
            std::make_shared<PositionSimilarity>(positionSimilarity(*weights));
      } catch (const std::exception& e) {
        current->positionError = QString::fromStdString(e.what());
      }
    }
    current->positionDone = true;
    publish();
    if (promise.isCanceled()) return;
    current->reconstructor = std::make_shared<PatchReconstructor>(*weights);
    publish();
    if (promise.isCanceled()) return;
    current->filterPca = std::make_shared<FilterPca>(filterPca(*weights));
    publish();
  } catch (const std::exception& e) {
    current->error = QString::fromStdString(e.what());
    current->positionDone = true;
    publish();
  }
}

}  // namespace

AnalysisCache::AnalysisCache(Session* session, QObject* parent)
    : QObject(parent), m_session(session) {
  connect(m_session, &Session::resultChanged, this, &AnalysisCache::onResultChanged);
  onResultChanged();
}

AnalysisCache::~AnalysisCache() {
  // Stops between stages: a closed window need not finish the filter PCA.
  m_future.cancel();
}

void AnalysisCache::onResultChanged() {
  const auto& result = m_session->result();
  if (!result || !result->weights) return;
  if (m_analyses && m_analyses->weights == result->weights) return;  // same weight set: keep
  auto fresh = std::make_shared<WeightAnalyses>();
  fresh->weights = result->weights;
  m_analyses = fresh;
  m_computing = true;
  emit changed();

  auto* watcher = new QFutureWatcher<Published>(this);
  connect(watcher, &QFutureWatcher<Published>::resultReadyAt, this,
          [this, watcher](int index) { publish(watcher->resultAt(index), false); });
  connect(watcher, &QFutureWatcher<Published>::finished, this,
          [this, watcher, weights = result->weights] {
            if (m_analyses && m_analyses->weights == weights) {
              m_computing = false;
              emit changed();
            }
            watcher->deleteLater();
          });
  // A superseded weight set stops between stages.
  m_future.cancel();
  m_future = QtConcurrent::run(computeStages, result->weights);
  watcher->setFuture(m_future);
}

void AnalysisCache::publish(const Published& analyses, bool last) {
  // Results of weights that are no longer current are dropped.
  if (!analyses || !m_analyses || analyses->weights != m_analyses->weights) return;
  m_analyses = analyses;
  if (last) m_computing = false;
  emit changed();
}

}  // namespace patchlens
