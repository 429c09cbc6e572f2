#include "core/weights/weight_loader.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>

#include "core/io/error.h"
#include "core/io/mapped_file.h"
#include "core/weights/npy_array.h"
#include "core/weights/shape_text.h"
#include "core/weights/tensor_source_factory.h"
#include "core/weights/weight_keys.h"

namespace patchlens {
namespace {

// A [D] vector stored as [D], [1, D] or [1, 1, D]: every dimension but the last is 1.
bool isVectorOf(const std::vector<std::int64_t>& shape, std::int64_t d) {
  if (shape.empty() || shape.back() != d) return false;
  for (std::size_t i = 0; i + 1 < shape.size(); ++i) {
    if (shape[i] != 1) return false;
  }
  return true;
}

void setWeight(PatchWeights& w, const NpyArray& a, const WeightKeys& keys,
               const std::string& path) {
  const std::string what = "weight '" + keys.weight + "' " + shapeText(a.shape);
  if (a.shape.size() != 4) {
    throw Error(path, what + " is not 4-D " +
                          (keys.layout == KernelLayout::Hwio ? "[P, P, C, D]" : "[D, C, P, P]"));
  }
  const bool hwio = keys.layout == KernelLayout::Hwio;
  const std::int64_t d = hwio ? a.shape[3] : a.shape[0];
  const std::int64_t c = hwio ? a.shape[2] : a.shape[1];
  const std::int64_t kh = hwio ? a.shape[0] : a.shape[2];
  const std::int64_t kw = hwio ? a.shape[1] : a.shape[3];
  if (kh != kw)
    throw Error(path, what + ": the kernel is not square (" + std::to_string(kh) + " x " +
                          std::to_string(kw) + ")");
  if (c != 1 && c != 3) {
    throw Error(path, what + " has " + std::to_string(c) +
                          " input channels; a patch embedding takes 1 (gray) or 3 (RGB)" +
                          (hwio ? "" : " (is it HWIO? Google npz kernels are [P, P, C, D])"));
  }
  if (d <= 0 || kh <= 0) throw Error(path, what + " has a zero dimension");
  if (d > 1'000'000 || kh > 100'000) throw Error(path, what + " is implausibly large");
  w.embedDim = static_cast<int>(d);
  w.inChannels = static_cast<int>(c);
  w.patchSize = static_cast<int>(kh);
  const Eigen::Index cols = w.patchLength();
  if (!hwio) {
    w.weight = Eigen::Map<const RowMatrixF>(a.data.data(), w.embedDim, cols);
    return;
  }
  // HWIO [P, P, C, D] -> OIHW [D, C, P, P], i.e. numpy's transpose(3, 2, 0, 1).
  const Eigen::Index p = w.patchSize;
  w.weight.resize(w.embedDim, cols);
  for (Eigen::Index y = 0; y < p; ++y) {
    for (Eigen::Index x = 0; x < p; ++x) {
      for (Eigen::Index ch = 0; ch < c; ++ch) {
        const float* src = a.data.data() + ((y * p + x) * c + ch) * w.embedDim;
        for (Eigen::Index o = 0; o < w.embedDim; ++o) w.weight(o, (ch * p + y) * p + x) = src[o];
      }
    }
  }
}

void setPositionEmbedding(PatchWeights& w, const NpyArray& a, const WeightKeys& keys,
                          const std::string& path, std::vector<std::string>& notes) {
  const std::string what =
      "position embedding '" + keys.positionEmbedding + "' " + shapeText(a.shape);
  std::int64_t rows = 0;
  if (a.shape.size() == 3 && a.shape[0] == 1) {
    rows = a.shape[1];
  } else if (a.shape.size() == 2) {
    rows = a.shape[0];
  } else {
    notes.push_back(what + " ignored: not [1, T, D] or [T, D]");
    return;
  }
  if (a.shape.back() != w.embedDim || rows <= 0) {
    notes.push_back(what + " ignored: its width is not D = " + std::to_string(w.embedDim));
    return;
  }
  const RowMatrixF table = Eigen::Map<const RowMatrixF>(a.data.data(), rows, w.embedDim);
  if (!table.allFinite()) throw Error(path, what + " holds non-finite values (NaN or Inf)");

  // Rows before the patches: the class token when the file has one, then any distillation
  // token, or none (timm's no_embed_class keeps cls_token but not its position). Only a square
  // grid is read here; any other table (a non-square native grid, registers) is left out rather
  // than guessed (a DeiT 4 x 6 table of 26 rows is not 1 + 5 x 5): the encoder's reader, which
  // knows the family and the sidecar, reads it.
  const int declared = (keys.classToken.empty() ? 0 : 1) + keys.extraPrefixTokens;
  int prefix = declared;
  if (!exactSquareRoot(rows - prefix)) {
    if (!exactSquareRoot(rows)) {
      notes.push_back(what + " left out of the position view: its " + std::to_string(rows) +
                      " rows are not " + std::to_string(declared) +
                      " prefix rows and a square grid");
      return;
    }
    prefix = 0;
  }
  PositionEmbedding pe;
  pe.hasClassToken = prefix >= 1;
  if (prefix == 2) {
    // Keep the class row and the patch rows; the distillation row has no place in the view.
    pe.table.resize(rows - 1, w.embedDim);
    pe.table.row(0) = table.row(0);
    pe.table.bottomRows(rows - 2) = table.bottomRows(rows - 2);
    notes.push_back("the distillation-token row of the position embedding is dropped");
  } else {
    pe.table = table;
  }
  const int side = exactSquareRoot(rows - prefix);
  pe.gridRows = side;
  pe.gridCols = side;
  w.positionEmbedding = std::move(pe);
}

// The memory reading a tensor implies, checked from its declared shape before any byte of it
// is converted: the file's bytes, the float32 copy and (for the weight) the GEMM's packed copy.
void checkTensorBudget(const TensorSource& source, const std::string& name, std::uint64_t limit,
                       const std::string& path) {
  const TensorInfo* t = source.find(name);
  if (!t) return;
  double values = 1;
  for (const std::int64_t d : t->shape) values *= static_cast<double>(std::max<std::int64_t>(d, 0));
  // dtype spellings: safetensors "F16", "BF16", "F32", "F64"; npy "<f2", "<f4", ">f8".
  const std::string& dt = t->dtype;
  const bool wide = dt.find("64") != std::string::npos || dt.find("f8") != std::string::npos;
  const bool half = dt.find("16") != std::string::npos || dt.find("f2") != std::string::npos;
  const double fileBytes = wide ? 8 : half ? 2 : 4;
  const double bytes = values * (fileBytes + 8);
  if (bytes > static_cast<double>(limit)) {
    throw Error(path, "tensor '" + name + "' " + shapeText(t->shape) + " would need " +
                          std::to_string(std::llround(bytes / (1 << 20))) +
                          " MiB to read and pack, over the output limit of " +
                          std::to_string(limit >> 20) + " MiB (raise it with --max-output-mb)");
  }
}

PatchWeights build(const TensorSource& source, const WeightKeys& keys, const std::string& path,
                   std::vector<std::string>& notes, std::uint64_t maxWeightBytes) {
  for (const std::string* key :
       {&keys.weight, &keys.bias, &keys.positionEmbedding, &keys.classToken}) {
    if (!key->empty()) checkTensorBudget(source, *key, maxWeightBytes, path);
  }
  PatchWeights w;
  std::string dtype;
  if (const TensorInfo* t = source.find(keys.weight)) dtype = t->dtype;
  setWeight(w, source.read(keys.weight), keys, path);
  if (!keys.bias.empty()) {
    const NpyArray b = source.read(keys.bias);
    if (!isVectorOf(b.shape, w.embedDim)) {
      throw Error(path, "bias '" + keys.bias + "' " + shapeText(b.shape) + " is not [" +
                            std::to_string(w.embedDim) + "]");
    }
    w.bias = Eigen::Map<const VectorF>(b.data.data(), w.embedDim);
  }
  if (!keys.positionEmbedding.empty())
    setPositionEmbedding(w, source.read(keys.positionEmbedding), keys, path, notes);
  if (!keys.classToken.empty()) {
    const NpyArray c = source.read(keys.classToken);
    if (isVectorOf(c.shape, w.embedDim)) {
      w.classToken = Eigen::Map<const VectorF>(c.data.data(), w.embedDim);
      if (!w.classToken->allFinite())
        throw Error(path,
                    "class token '" + keys.classToken + "' holds non-finite values (NaN or Inf)");
    } else {
      notes.push_back("class token '" + keys.classToken + "' " + shapeText(c.shape) +
                      " ignored: not [" + std::to_string(w.embedDim) + "]");
    }
  }
  w.file = path;
  w.description = path + " (" + keys.family + (dtype.empty() ? "" : ", " + dtype) + ")";
  w.validate(path);
  return w;
}

WeightKeys keysFor(const TensorSource& source, const WeightLoadOptions& options,
                   const std::string& path) {
  if (source.format() == "npy") {
    // A lone array has no names to choose from: it is the weight when it is 4-D.
    const TensorInfo& t = source.tensors().front();
    if (t.shape.size() != 4) {
      throw Error(path, "a .npy weight must hold one 4-D [D, C, P, P] array; this one is " +
                            shapeText(t.shape));
    }
    WeightKeys k;
    k.family = "NumPy array";
    k.weight = t.name;
    k.why = "a .npy holding one 4-D array is an OIHW [D, C, P, P] weight";
    return k;
  }
  return resolveWeightKeys(source.tensors(), options, path);
}

std::string usageText(const PatchWeights& w, const WeightKeys& keys,
                      const std::vector<std::string>& notes) {
  std::string s = keys.why + ": D = " + std::to_string(w.embedDim) +
                  ", C = " + std::to_string(w.inChannels) + ", P = " + std::to_string(w.patchSize);
  if (keys.layout == KernelLayout::Hwio) s += " (HWIO, transposed to OIHW)";
  s += keys.bias.empty() ? "; no bias" : "; bias '" + keys.bias + "'";
  if (w.positionEmbedding) {
    const PositionEmbedding& pe = *w.positionEmbedding;
    s += "; position embedding '" + keys.positionEmbedding + "' kept (" +
         std::to_string(pe.table.rows()) + " rows" +
         (pe.hasClassToken ? ", class-token row first" : "");
    if (pe.gridRows > 0)
      s += ", " + std::to_string(pe.gridRows) + " x " + std::to_string(pe.gridCols) + " grid";
    s += ")";
  }
  if (w.classToken) s += "; class token '" + keys.classToken + "' kept";
  for (const std::string& n : notes) s += "; " + n;
  return s;
}

}  // namespace

PatchWeights loadPatchWeights(const std::string& path, const WeightLoadOptions& options) {
  const std::unique_ptr<TensorSource> source = openTensorSource(path);
  const WeightKeys keys = keysFor(*source, options, path);
  std::vector<std::string> notes;
  return build(*source, keys, path, notes, options.maxWeightBytes);
}

WeightFileInfo inspectWeightFile(const std::string& path, const WeightLoadOptions& options) {
  const std::unique_ptr<TensorSource> source = openTensorSource(path);
  WeightFileInfo info;
  info.format = source->format();
  info.tensors = source->tensors();
  info.details = source->details();
  try {
    const WeightKeys keys = keysFor(*source, options, path);
    info.family = keys.family;
    std::vector<std::string> notes;
    const PatchWeights w = build(*source, keys, path, notes, options.maxWeightBytes);
    info.usage = usageText(w, keys, notes);
    info.usable = true;
  } catch (const Error& e) {
    info.usage = "nothing: " + e.reason();
  }
  return info;
}

bool looksLikeWeightFile(const std::string& path) {
  return looksLikeTensorContainer(path);
}

}  // namespace patchlens
