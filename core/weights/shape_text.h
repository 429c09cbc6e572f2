#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace patchlens {

// The small pieces every weight reader's messages and checks share.

// "[768, 3, 16, 16]", as PyTorch prints a shape.
std::string shapeText(const std::vector<std::int64_t>& shape);

// 'name' for an error message: at most 80 characters, control characters as '?' (tensor
// names come from hostile files).
std::string quotedName(const std::string& name);

// The side of a square grid of n cells, or 0 when n is not a perfect square (or absurd).
int exactSquareRoot(std::int64_t n);

}  // namespace patchlens
