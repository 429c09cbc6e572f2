#pragma once

#include <opencv2/core.hpp>
#include <string>

namespace patchlens {

// OpenCV's image codecs (cv::imdecode) for the formats PatchLens does not decode itself
// (TIFF, WebP, BMP, PNM, EXR...). libopencv_imgcodecs pulls in GDAL, GDCM and ~120 other
// libraries whose loading took 70 ms of every process start (a `batch` of 200 images spent
// 8 % of its time there); the library is therefore opened on first use, not linked.
class OpenCvCodecs {
 public:
  // cv::imdecode(encoded, flags). Throws Error(name, reason) when the library cannot be
  // loaded; cv::Exception from OpenCV passes through.
  static cv::Mat decode(const cv::Mat& encoded, int flags, const std::string& name);
};

}  // namespace patchlens
