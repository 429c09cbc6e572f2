#pragma once

#include <Eigen/Core>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

// Reader for the numpy fixtures of tests/reference/analyses_fixtures.py: blocks of
// "name rows cols" followed by one line of rows*cols numbers, '#' lines are comments.
namespace patchlens::test {

using FixtureBlocks = std::map<std::string, Eigen::MatrixXd>;

inline FixtureBlocks readAnalysesFixture(const std::string& name) {
  FixtureBlocks blocks;
  std::ifstream in(std::string(PATCHLENS_TEST_DATA) + "/analyses/" + name);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream header(line);
    std::string key;
    int rows = 0;
    int cols = 0;
    header >> key >> rows >> cols;
    Eigen::MatrixXd m(rows, cols);
    for (int r = 0; r < rows; ++r) {
      for (int c = 0; c < cols; ++c) in >> m(r, c);
    }
    std::getline(in, line);  // rest of the numbers line
    blocks[key] = m;
  }
  return blocks;
}

// Largest |a - b| relative to max(1, |b|).
inline double maxRelativeDifference(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  return ((a - b).array().abs() / b.array().abs().max(1.0)).maxCoeff();
}

}  // namespace patchlens::test
