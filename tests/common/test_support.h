#pragma once

#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>
#include <string>
#include <vector>

// Small helpers shared by the Qt Test suites (paths, fixture tables).
namespace patchlens::test {

inline std::string dataPath(const std::string& relative) {
  return std::string(PATCHLENS_TEST_DATA) + "/" + relative;
}

// Rows of a tab-separated fixture table; lines starting with '#' are skipped.
inline std::vector<std::vector<std::string>> readTsv(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> cells;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, '\t')) cells.push_back(cell);
    rows.push_back(cells);
  }
  return rows;
}

// Reads a PNG fixture with OpenCV directly (independent of patchlens::loadImage), as RGB.
inline cv::Mat readRgbFixture(const std::string& path) {
  cv::Mat bgr = cv::imread(path, cv::IMREAD_COLOR);
  cv::Mat rgb;
  if (!bgr.empty()) cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return rgb;
}

}  // namespace patchlens::test
