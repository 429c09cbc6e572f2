#include "ui/panels/prediction_panel.h"

#include <QHeaderView>
#include <QLabel>
#include <QProgressBar>
#include <QTableWidget>
#include <QVBoxLayout>
#include <cmath>

#include "ui/session/explain_session.h"
#include "ui/session/session.h"

namespace patchlens {

PredictionPanel::PredictionPanel(Session* session, QWidget* parent)
    : QWidget(parent), m_session(session) {
  setObjectName(QStringLiteral("predictionPanel"));
  m_message = new QLabel(this);
  m_message->setObjectName(QStringLiteral("predictionMessage"));
  m_message->setWordWrap(true);
  // The probability as a number, then as a bar: a bar's own centred text ran under its chunk
  // ("35.4 %" with its "3" painted white over blue).
  m_table = new QTableWidget(0, 4, this);
  m_table->setObjectName(QStringLiteral("predictionTable"));
  m_table->setHorizontalHeaderLabels({tr("Class"), tr("Label"), tr("Probability"), QString()});
  m_table->verticalHeader()->hide();
  m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
  m_table->setSelectionMode(QAbstractItemView::SingleSelection);
  m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
  m_table->horizontalHeader()->setSectionResizeMode(0, QHeaderView::ResizeToContents);
  m_table->horizontalHeader()->setSectionResizeMode(1, QHeaderView::Stretch);
  m_table->horizontalHeader()->setSectionResizeMode(2, QHeaderView::ResizeToContents);
  m_table->horizontalHeader()->setSectionResizeMode(3, QHeaderView::Fixed);
  m_table->horizontalHeader()->resizeSection(3, 56);
  // The table's own width hint (every column at full width) must not widen the right dock
  // area it shares with the inspector at laptop sizes: it takes what the dock has, labels
  // elided, never less than 200 px.
  m_table->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Expanding);
  m_table->setMinimumWidth(200);
  m_table->setToolTip(
      tr("Click a class to explain it: the Grad-CAM and relevance overlays "
         "(Alt+9, Ctrl+Shift+R) and their exports follow"));
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addWidget(m_message);
  layout->addWidget(m_table, 1);
  connect(m_table, &QTableWidget::cellClicked, this, [this](int row, int) {
    const QTableWidgetItem* item = m_table->item(row, 0);
    if (item) m_session->explain()->selectClass(item->data(Qt::UserRole).toInt());
  });
  connect(m_session->explain(), &ExplainSession::changed, this, &PredictionPanel::refresh);
  refresh();
}

QString PredictionPanel::message() const {
  return m_message->text();
}

void PredictionPanel::refresh() {
  const ExplainSession& e = *m_session->explain();
  const auto& explainer = e.explainer();
  const ClassifierHead* head = explainer ? explainer->head() : nullptr;
  if (!head) {
    QString text;
    if (!e.unavailableReason().isEmpty()) {
      text = e.unavailableReason();
    } else if (!explainer) {
      text = tr("Computing the prediction…");
    } else {
      text = tr("No classifier head (%1): Grad-CAM and relevance explain the selected patch's "
                "similarity to the class token instead.")
                 .arg(e.noHeadReason());
    }
    m_message->setText(text);
    m_table->setRowCount(0);
    m_table->setEnabled(false);
    return;
  }
  const VectorF& logits = explainer->logits();
  const VectorF p = softmax(logits);
  const std::vector<int> top = topClasses(logits, kTop);
  const int explained = e.explanation() ? e.explanation()->classIndex : -1;
  m_message->setText(
      tr("Top %1 of %2 classes (labels: %3)%4")
          .arg(top.size())
          .arg(head->classes())
          .arg(QString::fromStdString(head->labelsSource))
          .arg(e.isBusy() ? tr(" · explaining…") : tr(" · explaining %1").arg(e.targetName())));
  m_table->setEnabled(true);
  m_table->setRowCount(static_cast<int>(top.size()));
  for (int r = 0; r < static_cast<int>(top.size()); ++r) {
    const int k = top[static_cast<std::size_t>(r)];
    auto* index = new QTableWidgetItem(QString::number(k));
    index->setData(Qt::UserRole, k);
    m_table->setItem(r, 0, index);
    m_table->setItem(
        r, 1,
        new QTableWidgetItem(QString::fromStdString(head->labels[static_cast<std::size_t>(k)])));
    auto* percent = new QTableWidgetItem(QStringLiteral("%1 %").arg(100.0 * p[k], 0, 'f', 1));
    percent->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    m_table->setItem(r, 2, percent);
    auto* bar = qobject_cast<QProgressBar*>(m_table->cellWidget(r, 3));
    if (!bar) {
      bar = new QProgressBar;
      bar->setRange(0, 1000);
      bar->setTextVisible(false);
      m_table->setCellWidget(r, 3, bar);
    }
    bar->setValue(static_cast<int>(std::lround(p[k] * 1000.0f)));
    bar->setToolTip(percent->text());
    if (k == explained) m_table->selectRow(r);
  }
}

}  // namespace patchlens
