#pragma once

#include <memory>
#include <string>

#include "core/weights/tensor_source.h"

namespace patchlens {

// Opens any weight file PatchLens reads as a TensorSource that lists every tensor and reads
// any of them as float32. The content decides the format; the extension only picks which
// parser explains a broken file. Throws Error(path, reason).
std::unique_ptr<TensorSource> openTensorSource(const std::string& path);

// True when the file's content (not its name) looks like a weight container we read.
bool looksLikeTensorContainer(const std::string& path);

}  // namespace patchlens
