#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace patchlens {

// One node of the inert value tree the restricted unpickler builds. Nodes are owned by the
// PickleReader that made them and point at each other (a memoised dict may appear twice), so
// traversals must bound their depth and remember what they visited.
struct PickleValue {
  enum class Kind {
    None,
    Bool,
    Int,
    BigInt,  // wider than 64 bits: text holds the little-endian two's-complement bytes
    Float,
    String,
    Bytes,
    Tuple,
    List,
    Dict,     // items: key, value, key, value, ...
    Set,      // builtins.set / frozenset
    Global,   // an allowed global not yet called: text is "module.name"
    Object,   // an attribute holder (TorchScript __torch__.*, argparse.Namespace): text is the
              // class, items[0] (when present) the state BUILD gave it
    Storage,  // a persistent-id storage reference
    Tensor,   // torch._utils._rebuild_tensor_v2(...)
  };

  Kind kind = Kind::None;
  std::int64_t integer = 0;     // Bool, Int; Storage: element count; Tensor: storage offset
  double real = 0;              // Float
  std::string text;             // String, Bytes, BigInt, Global, Object class; Storage: key
  std::string storageType;      // Storage: "torch.FloatStorage", ...
  std::int64_t viewOffset = 0;  // Storage: legacy view offset into the root storage, elements
  const PickleValue* storage = nullptr;  // Tensor
  std::vector<std::int64_t> sizes;       // Tensor
  std::vector<std::int64_t> strides;     // Tensor
  std::vector<PickleValue*> items;       // Tuple, List, Set, Dict, Object

  // Dict lookup by string key; nullptr when absent or not a dict.
  const PickleValue* get(const std::string& key) const {
    if (kind != Kind::Dict) return nullptr;
    for (std::size_t i = 0; i + 1 < items.size(); i += 2) {
      if (items[i]->kind == Kind::String && items[i]->text == key) return items[i + 1];
    }
    return nullptr;
  }
};

}  // namespace patchlens
