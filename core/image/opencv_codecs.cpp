#include "core/image/opencv_codecs.h"

#include "core/io/error.h"

#ifdef PATCHLENS_OPENCV_IMGCODECS_SONAME
#include <dlfcn.h>
#else
#include <opencv2/imgcodecs.hpp>
#endif

namespace patchlens {

#ifdef PATCHLENS_OPENCV_IMGCODECS_SONAME
namespace {

using Imdecode = cv::Mat (*)(const cv::_InputArray&, int);

// cv::imdecode(InputArray, int) by its mangled name (the C++ ABI of OpenCV 4, whose
// soname the build recorded); null with the reason when it cannot be had.
struct Loaded {
  Imdecode imdecode = nullptr;
  std::string reason;
};

Loaded load() {
  Loaded loaded;
  void* library = ::dlopen(PATCHLENS_OPENCV_IMGCODECS_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    const char* error = ::dlerror();
    loaded.reason = error ? error : "dlopen failed";
    return loaded;
  }
  void* symbol = ::dlsym(library, "_ZN2cv8imdecodeERKNS_11_InputArrayEi");
  if (symbol == nullptr) {
    loaded.reason = std::string(PATCHLENS_OPENCV_IMGCODECS_SONAME) + " has no cv::imdecode";
    return loaded;
  }
  loaded.imdecode = reinterpret_cast<Imdecode>(symbol);
  return loaded;
}

}  // namespace
#endif

cv::Mat OpenCvCodecs::decode(const cv::Mat& encoded, int flags, const std::string& name) {
#ifdef PATCHLENS_OPENCV_IMGCODECS_SONAME
  static const Loaded loaded = load();  // once, thread-safe
  if (loaded.imdecode == nullptr) {
    throw Error(name, "cannot load OpenCV's image codecs (" + loaded.reason + ")");
  }
  return loaded.imdecode(encoded, flags);
#else
  (void)name;
  return cv::imdecode(encoded, flags);
#endif
}

}  // namespace patchlens
