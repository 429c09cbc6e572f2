#pragma once

#include <string>

#include "core/model/eigen_types.h"

namespace patchlens {

// Writes a matrix as CSV (one row per line, shortest round-trip float text) atomically;
// with a header line "c0,c1,..." when columnHeader is not empty (it is the prefix).
void writeCsv(const std::string& path, const RowMatrixF& matrix,
              const std::string& columnPrefix = "");

}  // namespace patchlens
