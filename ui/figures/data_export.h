#pragma once

#include <string>
#include <string_view>

#include "core/model/patch_embedding.h"
#include "core/weights/patch_weights.h"

namespace patchlens {

// Numbers behind the figures written as .npy (float32, C order) or .csv, atomically:
// the embedding [N, D], one token [D], one channel map [rows, cols] or the filters
// [D, C, P, P] (CSV: one filter per line, flattened (c, kh, kw)). Qt-free, so that the CLI
// and the GUI's export menu write the very same files.
struct DataExport {
  enum class Type { Embedding, Token, Channel, Filters };

  Type type = Type::Embedding;
  int first = 0;   // token row or channel
  int second = 0;  // token column

  // "embedding", "token:R,C", "channel:K", "filters"; throws std::invalid_argument.
  static DataExport parse(std::string_view text);
  std::string name() const;

  // By the suffix of `path` (.npy or .csv). Throws Error(path, reason) when the request does
  // not fit the data or the file cannot be written; nothing is left behind then.
  void write(const std::string& path, const Embedding& embedding,
             const PatchWeights& weights) const;
};

}  // namespace patchlens
