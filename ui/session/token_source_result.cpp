#include "ui/session/token_source_result.h"

#include "core/analysis/embedding_analysis.h"
#include "core/io/error.h"
#include "core/model/vision_transformer.h"
#include "ui/session/session.h"

namespace patchlens {

TokenSourceResult computeTokenSourceResult(const std::shared_ptr<const ComputeResult>& base,
                                           std::shared_ptr<const RowMatrixF> qkv,
                                           TokenSource source) {
  if (!base->trace || !base->model) throw Error({}, "q, k, v need a transformer");
  const LayerTrace& trace = *base->trace;
  const int block = base->layerIndex - 1;
  if (block < 1 || block > trace.depth)
    throw Error({}, "q, k, v belong to a block, not to " + trace.layerName(base->layerIndex));
  if (!qkv) qkv = std::make_shared<const RowMatrixF>(blockQkv(*base->model, base->tensor, block));
  auto r = std::make_shared<ComputeResult>(*base);
  r->source = source;
  const RowMatrixF features = qkvFeatures(*qkv, source);
  r->embedding.tokens = features.bottomRows(trace.patches());
  r->sourcePrefix = features.topRows(trace.prefixTokens);
  const RowMatrixF& tokens = r->embedding.tokens;
  r->norms = tokenNorms(tokens);
  r->means = tokenMeans(tokens);
  r->argmax = argmaxChannels(tokens);
  r->global = globalRange(tokens);
  r->pca = tokenPca(tokens, 3);
  r->pcaRgb = pcaToRgb(r->pca);
  return {std::move(qkv), std::move(r)};
}

}  // namespace patchlens
