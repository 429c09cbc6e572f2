#include "ui/session/explain_session.h"

#include <QFutureWatcher>
#include <QThreadPool>
#include <QtConcurrent>

#include "core/io/error.h"
#include "core/model/vision_transformer.h"
#include "core/weights/tensor_source_factory.h"
#include "ui/session/session.h"

namespace patchlens {
namespace {

// The explained target of `explainer`: class k (-1: top) with a head, else patch (row, col).
std::shared_ptr<const ClassExplanation> explainTarget(const ClassExplainer& explainer, int k,
                                                      int row, int col) {
  if (explainer.hasHead()) {
    if (k >= explainer.head()->classes()) k = -1;
    return std::make_shared<ClassExplanation>(explainer.explainClass(k));
  }
  return std::make_shared<ClassExplanation>(explainer.explainPatch(row, col));
}

}  // namespace

ExplainSession::ExplainSession(Session* session) : QObject(session), m_session(session) {
  connect(session, &Session::resultChanged, this, &ExplainSession::onResultChanged);
  connect(session, &Session::selectionChanged, this, &ExplainSession::onSelectionChanged);
}

void ExplainSession::selectClass(int classIndex) {
  if (classIndex == m_selectedClass) return;
  m_selectedClass = classIndex;
  if (m_explainer && m_explainer->hasHead()) start(m_explainer, classIndex, 0, 0);
}

QString ExplainSession::targetName() const {
  if (!m_explanation || !m_explainer) return {};
  return QString::fromStdString(
      explanationTargetName(*m_explanation, m_explainer->head(), m_explainer->config().classToken));
}

void ExplainSession::onResultChanged() {
  const auto& result = m_session->result();
  const void* key = result ? static_cast<const void*>(result->trace.get()) : nullptr;
  if (key == m_traceKey && (key != nullptr || !m_unavailable.isEmpty())) return;  // a layer switch
  m_traceKey = key;
  ++m_generation;  // whatever runs explains another forward
  m_explainer.reset();
  m_explanation.reset();
  m_noHead.clear();
  m_unavailable.clear();
  m_busy = false;
  if (!result) {
    m_unavailable = tr("Open an image first");
  } else if (!result->model) {
    m_unavailable = tr("These weights hold only a patch embedding: no transformer to explain");
  } else if (const std::string why =
                 TransformerBackward::unsupportedReason(*result->model->weights());
             !why.empty()) {
    m_unavailable =
        tr("The exact backward does not cover this model: %1").arg(QString::fromStdString(why));
  } else if (result->trace) {
    startForward();
  } else {
    m_traceKey = nullptr;  // the layers follow: explain then
    m_unavailable = tr("Computing the transformer's layers…");
  }
  emit changed();
}

void ExplainSession::onSelectionChanged() {
  // Without a head the overlays explain the selected patch's similarity to the class token.
  const auto pos = m_session->selection();
  if (m_explainer && !m_explainer->hasHead() && pos) start(m_explainer, -1, pos->row, pos->col);
}

void ExplainSession::startForward() {
  const auto result = m_session->result();
  const WeightChoice choice = m_session->config().weights;
  const int classIndex = m_selectedClass;
  const auto pos = m_session->selection();
  const GridSize grid = result->embedding.grid;
  const int row = pos ? pos->row : grid.rows / 2;
  const int col = pos ? pos->col : grid.cols / 2;
  run([result, choice, classIndex, row, col] {
    Outcome o;
    try {
      const TransformerWeights& w = *result->model->weights();
      std::string whyNoHead;
      const std::unique_ptr<TensorSource> source = openTensorSource(choice.source);
      std::optional<ClassifierHead> head =
          readClassifierHead(*source, choice.source, w.config, choice.file, &whyNoHead);
      o.noHead = QString::fromStdString(whyNoHead);
      const auto explainer = std::make_shared<const ClassExplainer>(
          result->model->weights(), std::move(head), result->tensor);
      o.explanation = explainTarget(*explainer, classIndex, row, col);
      o.explainer = explainer;
    } catch (const Error& e) {
      o.unavailable = QString::fromStdString(e.reason());
    } catch (const std::bad_alloc&) {
      o.unavailable = QStringLiteral("out of memory while explaining");
    }
    return o;
  });
}

void ExplainSession::start(std::shared_ptr<const ClassExplainer> explainer, int classIndex, int row,
                           int col) {
  run([explainer, classIndex, row, col] {
    Outcome o;
    try {
      o.explanation = explainTarget(*explainer, classIndex, row, col);
    } catch (const Error& e) {
      o.unavailable = QString::fromStdString(e.reason());
    }
    return o;
  });
}

void ExplainSession::run(std::function<Outcome()> work) {
  const quint64 generation = ++m_generation;
  m_busy = true;
  auto* watcher = new QFutureWatcher<Outcome>(this);
  connect(watcher, &QFutureWatcher<Outcome>::finished, this, [this, watcher, generation] {
    watcher->deleteLater();
    if (generation != m_generation) return;  // superseded: a newer job publishes
    const Outcome o = watcher->result();
    m_busy = false;
    if (o.explainer) {
      m_explainer = o.explainer;
      m_noHead = o.noHead;
    }
    if (o.explanation) m_explanation = o.explanation;
    m_unavailable = o.unavailable;
    emit changed();
  });
  watcher->setFuture(QtConcurrent::run(QThreadPool::globalInstance(), std::move(work)));
  emit changed();
}

}  // namespace patchlens
