#pragma once

#include <optional>
#include <string>

#include "core/image/chw_tensor.h"
#include "core/model/eigen_types.h"

namespace patchlens {

// What a token view shows at a block (issue 21): the block's output tokens, or its queries,
// keys or values as they enter the attention (after the family's RoPE, before the 1/sqrt(dh)
// scale; DINO's key-feature PCA).
enum class TokenSource { Tokens, Queries, Keys, Values };

// "tokens", "queries", "keys", "values" (the CLI's --source words).
const char* tokenSourceName(TokenSource source);
// "Tokens", "Queries", "Keys", "Values" (titles: "Keys, block 6").
const char* tokenSourceTitle(TokenSource source);
// The word of tokenSourceName (also q, k, v); nullopt for anything else.
std::optional<TokenSource> parseTokenSource(const std::string& text);

// One of q, k, v (not Tokens) from a block's fused [T x 3D] qkv (QkvObserver), every head's
// columns side by side: [T x D], head h in columns h*dh..(h+1)*dh.
RowMatrixF qkvFeatures(const RowMatrixF& qkv, TokenSource source);

// The same as [H, T, dh] in row-major order (forward --qkv's q_L, k_L, v_L): rows h*T..(h+1)*T
// are head h.
RowMatrixF qkvHeads(const RowMatrixF& qkv, TokenSource source, int heads);

class VisionTransformer;

// Block `block`'s (1..depth) fused [T x 3D] q | k | v for `input`: the forward runs once with a
// QkvObserver that copies only that block (no attention materialised, tokens_0 alone kept).
// Throws Error like forward(), and for a block out of range.
RowMatrixF blockQkv(const VisionTransformer& model, const ChwTensor& input, int block);

}  // namespace patchlens
