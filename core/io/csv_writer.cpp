#include "core/io/csv_writer.h"

#include <charconv>

#include "core/io/atomic_file.h"

namespace patchlens {

void writeCsv(const std::string& path, const RowMatrixF& matrix, const std::string& columnPrefix) {
  AtomicFile file(path);
  std::string line;
  if (!columnPrefix.empty()) {
    for (Eigen::Index c = 0; c < matrix.cols(); ++c) {
      if (c) line += ',';
      line += columnPrefix + std::to_string(c);
    }
    line += '\n';
    file.write(line);
  }
  char buffer[32];
  for (Eigen::Index r = 0; r < matrix.rows(); ++r) {
    line.clear();
    for (Eigen::Index c = 0; c < matrix.cols(); ++c) {
      if (c) line += ',';
      // to_chars gives the shortest text that reads back to the same float.
      const auto result = std::to_chars(buffer, buffer + sizeof buffer, matrix(r, c));
      line.append(buffer, result.ptr);
    }
    line += '\n';
    file.write(line);
  }
  file.commit();
}

}  // namespace patchlens
