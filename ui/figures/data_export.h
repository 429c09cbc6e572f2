#pragma once

#include <string>
#include <string_view>

#include "core/analysis/layer_trace.h"
#include "core/model/patch_embedding.h"
#include "core/weights/patch_weights.h"

namespace patchlens {

// Numbers behind the figures written as .npy (float32, C order) or .csv, atomically:
// the embedding [N, D], one token [D], one channel map [rows, cols] or the filters
// [D, C, P, P] (CSV: one filter per line, flattened (c, kh, kw)). Qt-free, so that the CLI
// and the GUI's export menu write the very same files.
struct DataExport {
  enum class Type { Embedding, Token, Channel, Filters, Tokens, Attention };

  Type type = Type::Embedding;
  int first = 0;           // token row or channel
  int second = 0;          // token column
  std::string layer = {};  // tokens:L — "0".."depth", "final" (LayerTrace::layerIndex)

  // Whether the request needs the transformer (tokens:L, attention:L).
  bool needsTransformer() const { return type == Type::Tokens || type == Type::Attention; }

  // "embedding", "token:R,C", "channel:K", "filters", "tokens:L", "attention:L"; throws
  // std::invalid_argument.
  static DataExport parse(std::string_view text);
  std::string name() const;

  // By the suffix of `path` (.npy or .csv). Throws Error(path, reason) when the request does
  // not fit the data or the file cannot be written; nothing is left behind then.
  void write(const std::string& path, const Embedding& embedding,
             const PatchWeights& weights) const;
  // tokens:L [T, D] (prefix tokens first) and attention:L [H, T, T] (block L's softmax, row =
  // query; CSV: H·T lines of T numbers, head by head).
  void writeTransformer(const std::string& path, const LayerTrace& trace) const;
};

}  // namespace patchlens
