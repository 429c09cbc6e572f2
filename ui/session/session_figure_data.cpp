#include "ui/session/session_figure_data.h"

#include "ui/session/session.h"

namespace patchlens {

FigureData figureDataFor(const ComputeResult& result) {
  FigureData data;
  data.input = result.input;
  data.tensor = result.tensor;
  data.normalization = result.config.preprocess.normalization;
  data.remainder = result.config.remainder;
  data.weights = result.weights;
  data.embedding = result.embedding;
  return data;
}

}  // namespace patchlens
