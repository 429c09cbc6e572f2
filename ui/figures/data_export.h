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
  enum class Type { Embedding, Token, Channel, Filters, Tokens, Attention, AttentionMask };

  Type type = Type::Embedding;
  int first = 0;           // token row or channel
  int second = 0;          // token column
  std::string layer = {};  // tokens:L — "0".."depth", "final" (LayerTrace::layerIndex)
  float threshold = 0.6f;  // attention-mask:L[:T]

  // Whether the request needs the transformer (tokens:L, attention:L, attention-mask:L).
  bool needsTransformer() const {
    return type == Type::Tokens || type == Type::Attention || type == Type::AttentionMask;
  }
  // The block whose attention the request needs (0: none).
  int attentionBlock() const {
    return type == Type::Attention || type == Type::AttentionMask ? first : 0;
  }

  // "embedding", "token:R,C", "channel:K", "filters", "tokens:L", "attention:L",
  // "attention-mask:L[:T]"; throws std::invalid_argument.
  static DataExport parse(std::string_view text);
  std::string name() const;

  // By the suffix of `path` (.npy or .csv). Throws Error(path, reason) when the request does
  // not fit the data or the file cannot be written; nothing is left behind then. Both return
  // what was written, e.g. "float32 [197, 768]".
  std::string write(const std::string& path, const Embedding& embedding,
                    const PatchWeights& weights) const;
  // tokens:L [T, D] (prefix tokens first) and attention:L [H, T, T] (block L's softmax, row =
  // query; CSV: a header "head,query,key0,..." then H·T lines: head, query, T numbers).
  // attention-mask:L[:T] (.npz only, the class token's row as DINO's visualize_attention.py):
  // "attentions" [H, rows·P, cols·P] (each head's map upsampled with nearest) and "th_attn"
  // [H, rows·P, cols·P] (1 where the patch holds the top T of the head's mass, else 0).
  std::string writeTransformer(const std::string& path, const LayerTrace& trace) const;
};

}  // namespace patchlens
