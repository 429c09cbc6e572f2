#include "ui/session/session_figure_data.h"

#include "ui/base/qt_conversions.h"
#include "ui/session/explain_session.h"
#include "ui/session/session.h"

namespace patchlens {

namespace {

// Token `token` of the trace as the CLI's --query names it ("cls", or a patch R,C).
TokenQuery queryFor(const LayerTrace& trace, int token) {
  TokenQuery query;
  if (token < trace.prefixTokens) {
    query.prefixName = trace.prefixNames[static_cast<std::size_t>(token)];
  } else {
    query.row = (token - trace.prefixTokens) / trace.gridCols;
    query.col = (token - trace.prefixTokens) % trace.gridCols;
  }
  return query;
}

}  // namespace

FigureData figureDataFor(const ComputeResult& result) {
  FigureData data;
  data.input = result.input;
  data.tensor = result.tensor;
  data.normalization = result.config.preprocess.normalization;
  data.remainder = result.config.remainder;
  data.weights = result.weights;
  data.embedding = result.embedding;  // the tokens of the layer on screen
  // The layer on screen, so exports say it and refuse what only layer 0 has (reconstruction).
  data.trace = result.trace;
  data.layer = result.trace ? result.layerIndex : 0;
  data.source = result.source;  // "Keys, block 6" (issue 21)
  return data;
}

FigureData figureDataFor(const Session& session) {
  FigureData data = figureDataFor(*session.result());
  const ExplainSession& explain = *session.explain();
  data.explainer = explain.explainer();
  data.explanation = explain.explanation();
  data.noExplainer = explain.unavailableReason().isEmpty()
                         ? explain.noHeadReason().toStdString()
                         : explain.unavailableReason().toStdString();
  return data;
}

FigureOptions figureOptionsFor(const Session& session, const PlotKind& kind) {
  FigureOptions options;
  OverlayKind overlay = OverlayKind::Channel;  // the overlay that draws this kind on screen
  switch (kind.type) {
    case PlotType::Channel:
    case PlotType::Channels:
    case PlotType::Token:
    case PlotType::Histogram:
      overlay = OverlayKind::Channel;
      break;
    case PlotType::Similarity:
      overlay = OverlayKind::Similarity;
      break;
    case PlotType::GradCam:
      overlay = OverlayKind::GradCam;
      break;
    case PlotType::Relevance:
      overlay = OverlayKind::Relevance;
      break;
    case PlotType::Attention:
    case PlotType::AttentionHeads:
    case PlotType::AttentionMask:
    case PlotType::Rollout:
    case PlotType::AttentionDistance:
    case PlotType::TokenNorms: {
      // The transformer's figures: the query, head and colormap on screen.
      const auto& result = session.result();
      if (!result || !result->trace) return options;
      const LayerTrace& trace = *result->trace;
      // Rollout and token norms use no head: their style line does not name one.
      if (kind.type != PlotType::Rollout && kind.type != PlotType::TokenNorms)
        options.selectedHead = session.head();
      if (kind.type == PlotType::Attention || kind.type == PlotType::AttentionHeads ||
          kind.type == PlotType::AttentionMask) {
        options.query = queryFor(trace, session.queryToken());
      } else if (kind.type == PlotType::Rollout) {
        options.query = queryFor(trace, session.rolloutToken());
      }
      if (kind.type != PlotType::AttentionDistance && kind.type != PlotType::TokenNorms) {
        // The overlay's colormap and colour scale: the dock, the overlay and the export of
        // one map give one value one colour.
        const OverlayKind shown =
            kind.type == PlotType::Rollout ? OverlayKind::Rollout : OverlayKind::Attention;
        options.colormap = session.colormapFor(shown);
        options.scale = session.scaleFor(shown);
      }
      return options;
    }
    default:
      // Filters, PCA, position embedding, reconstruction (magma error map, as its dock
      // draws it): fixed styles.
      return options;
  }
  options.colormap = session.colormapFor(overlay);
  options.scale = session.scaleFor(overlay);
  if (session.result()) options.global = session.result()->global;
  options.opacity = session.opacity();
  return options;
}

QString describeFigureOptions(const FigureOptions& options) {
  QStringList parts;
  if (options.colormap) parts << toQString(Colormap::get(*options.colormap).name());
  if (options.scale) parts << QObject::tr("scale %1").arg(scaleModeKey(*options.scale));
  if (options.opacity) parts << QObject::tr("opacity %1 %").arg(qRound(*options.opacity * 100));
  if (options.query) {
    parts << (options.query->prefixName.empty()
                  ? QObject::tr("query patch (%1, %2)")
                        .arg(options.query->row)
                        .arg(options.query->col)
                  : QObject::tr("query %1").arg(toQString(options.query->prefixName)));
  }
  if (options.selectedHead >= 0) parts << QObject::tr("head %1").arg(options.selectedHead);
  if (options.foreground) {
    parts << QObject::tr("foreground PC1 > %1%2")
                 .arg(options.foreground->threshold, 0, 'f', 2)
                 .arg(options.foreground->flip ? QObject::tr(" (flipped)") : QString());
  }
  return parts.isEmpty() ? QObject::tr("the figure's own style")
                         : parts.join(QStringLiteral(" · "));
}

}  // namespace patchlens
