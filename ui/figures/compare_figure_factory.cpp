#include "ui/figures/compare_figure_factory.h"

#include <string>

#include "core/analysis/correspondences.h"
#include "core/analysis/joint_pca.h"
#include "core/io/error.h"
#include "ui/figures/correspondence_figure.h"
#include "ui/figures/joint_pca_figure.h"
#include "ui/figures/matches_figure.h"

namespace patchlens {

namespace {

ComparedImage side(const FigureData& data, const QString& name) {
  return {data.input, data.embedding.grid, data.patchSize(), name};
}

}  // namespace

QString layerLabel(const FigureData& data) {
  return data.trace ? QString::fromStdString(data.trace->layerName(data.layer))
                    : QStringLiteral("Patch embedding");
}

std::unique_ptr<Figure> makeCompareFigure(const PlotKind& kind, const FigureData& a,
                                          const QString& nameA, const FigureData& b,
                                          const QString& nameB, const FigureOptions& options) {
  const RowMatrixF& ta = a.embedding.tokens;
  const RowMatrixF& tb = b.embedding.tokens;
  switch (kind.type) {
    case PlotType::Matches: {
      MatchOptions match;
      QString restriction;
      if (options.foreground) {
        match.foregroundOnly = true;
        match.foreground = *options.foreground;
        restriction =
            QStringLiteral("foreground patches only (scaled PC1 %1 %2)")
                .arg(options.foreground->flip ? QStringLiteral("flipped >") : QStringLiteral(">"))
                .arg(options.foreground->threshold, 0, 'f', 2);
      }
      std::vector<PatchMatch> all = mutualNearestNeighbours(ta, tb, match);
      const int mutual = static_cast<int>(all.size());
      const std::size_t k =
          static_cast<std::size_t>(kind.first > 0 ? kind.first : kDefaultMatchCount);
      if (all.size() > k) all.resize(k);
      return std::make_unique<MatchesFigure>(side(a, nameA), side(b, nameB), std::move(all), mutual,
                                             layerLabel(a), restriction,
                                             options.colormap.value_or(ColormapId::Turbo));
    }
    case PlotType::JointPca: {
      JointPcaOptions joint;
      joint.foreground = options.foreground.has_value();
      if (options.foreground) joint.threshold = *options.foreground;
      return std::make_unique<JointPcaFigure>(side(a, nameA), side(b, nameB),
                                              jointPca(ta, tb, joint), layerLabel(a),
                                              options.foreground);
    }
    case PlotType::SimilarityTo: {
      const GridSize g = a.embedding.grid;
      if (kind.first >= g.rows || kind.second >= g.cols) {
        throw Error("", "patch (" + std::to_string(kind.first) + ", " +
                            std::to_string(kind.second) + ") is outside A's " +
                            std::to_string(g.rows) + " x " + std::to_string(g.cols) + " grid");
      }
      const int token = a.embedding.tokenIndex(kind.first, kind.second);
      return std::make_unique<CorrespondenceFigure>(
          side(a, nameA), side(b, nameB), kind.first, kind.second, crossSimilarity(ta, token, tb),
          layerLabel(a), options.colormap.value_or(ColormapId::RdBu));
    }
    default:
      throw Error("", kind.name() +
                          " draws one image; with two images draw matches[:K], "
                          "joint-pca or similarity-to:R,C");
  }
}

}  // namespace patchlens
