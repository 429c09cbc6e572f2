#pragma once

#include <QString>
#include <QStringList>
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/weights/npy_array.h"
#include "tests/common/reference_compare.h"
#include "tests/common/test_support.h"

// The explain fixtures of tests/reference/explain_fixtures.py (tests/data/explain/cases.tsv:
// case, weights, input, expected, --heads, --class, --target, expected class), shared by the
// CLI and GUI suites that compare against them.
namespace patchlens::test {

inline QString explainFixture(const std::string& relative) {
  return QString::fromStdString(dataPath("explain/" + relative));
}

// The cases.tsv row of `name` (8 fields), empty when absent.
inline std::vector<std::string> explainCase(const std::string& name) {
  for (auto r : readTsv(dataPath("explain/cases.tsv"))) {
    r.resize(8);
    if (r[0] == name) return r;
  }
  return {};
}

// --tensor INPUT --weights W [--heads N] of a case row.
inline QStringList explainInputArgs(const std::vector<std::string>& r) {
  QStringList args{"--tensor", explainFixture(r[2]), "--weights", explainFixture(r[1])};
  if (r[4] != "0") args << "--heads" << QString::fromStdString(r[4]);
  return args;
}

// relativeError (reference_compare.h) of a figure's values with their shape.
inline double relativeError(const std::vector<float>& actual,
                            const std::vector<std::int64_t>& shape, const NpyArray& expected) {
  if (shape != expected.shape) return 1e30;
  return relativeError(actual.data(), actual.size(), expected);
}

}  // namespace patchlens::test
