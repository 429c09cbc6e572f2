#include "core/weights/torch_checkpoint.h"

#include <cstring>
#include <limits>
#include <set>
#include <utility>

#include "core/io/error.h"
#include "core/weights/half_float.h"
#include "core/weights/npy_array.h"
#include "core/weights/pickle_reader.h"
#include "core/weights/shape_text.h"

namespace patchlens {
namespace {

using Kind = PickleValue::Kind;

// torch.save's legacy magic number 0x1950a86a20f9469cfc6c as pickle LONG1 bytes (little-endian).
constexpr std::uint8_t kLegacyMagic[] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9,
                                         0x20, 0x6a, 0xa8, 0x50, 0x19};
constexpr std::int64_t kLegacyProtocol = 1001;
// Where nested checkpoints keep their state dict, in the order they are tried (DeiT/MAE use
// "model", Lightning "state_dict", DataParallel wrappers "module", DINO "teacher"/"student").
constexpr const char* kNestedKeys[] = {"model",     "state_dict", "module", "teacher", "student",
                                       "model_ema", "ema",        "net",    "network", "params"};
constexpr std::size_t kMaxTensors = 1'000'000;
// Names the state-dict walk may make (tensors and the containers that could hold them).
constexpr std::size_t kMaxNames = 2 * kMaxTensors;
constexpr std::size_t kMaxNameBytes = std::size_t{64} << 20;  // real checkpoints: < 1 MiB
constexpr int kMaxDepth = 64;

struct StorageDtype {
  const char* name = "";
  std::size_t size = 0;
};

StorageDtype storageDtype(const std::string& type) {
  static const std::pair<const char*, StorageDtype> kTable[] = {
      {"torch.FloatStorage", {"F32", 4}},        {"torch.HalfStorage", {"F16", 2}},
      {"torch.BFloat16Storage", {"BF16", 2}},    {"torch.DoubleStorage", {"F64", 8}},
      {"torch.LongStorage", {"I64", 8}},         {"torch.IntStorage", {"I32", 4}},
      {"torch.ShortStorage", {"I16", 2}},        {"torch.CharStorage", {"I8", 1}},
      {"torch.ByteStorage", {"U8", 1}},          {"torch.BoolStorage", {"BOOL", 1}},
      {"torch.ComplexFloatStorage", {"C64", 8}}, {"torch.ComplexDoubleStorage", {"C128", 16}},
      {"torch.ComplexHalfStorage", {"C32", 4}},  {"torch.QInt8Storage", {"QI8", 1}},
      {"torch.QUInt8Storage", {"QU8", 1}},       {"torch.QInt32Storage", {"QI32", 4}},
      {"torch.QUInt4x2Storage", {"QU4x2", 1}},   {"torch.storage.UntypedStorage", {"U8", 1}},
      {"torch.UntypedStorage", {"U8", 1}}};
  for (const auto& [name, dtype] : kTable) {
    if (type == name) return dtype;
  }
  return {};
}

bool isFloatDtype(const std::string& d) {
  return d == "F32" || d == "F16" || d == "BF16" || d == "F64";
}

bool mulOverflows(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
  return __builtin_mul_overflow(a, b, &out);
}

// The attribute dict of a dict or of an attribute holder BUILD filled; nullptr otherwise.
const PickleValue* attributes(const PickleValue* v) {
  if (v->kind == Kind::Dict) return v;
  if (v->kind == Kind::Object && !v->items.empty() && v->items[0]->kind == Kind::Dict)
    return v->items[0];
  return nullptr;
}

std::string keyText(const PickleValue* k) {
  if (k->kind == Kind::String) return k->text;
  if (k->kind == Kind::Int) return std::to_string(k->integer);
  return {};
}

bool containsTensors(const PickleValue* v, int depth, std::set<const PickleValue*>& seen) {
  if (v->kind == Kind::Tensor) return true;
  if (depth > 8) return false;
  const PickleValue* a = attributes(v);
  if (!a || !seen.insert(a).second) return false;
  for (std::size_t i = 1; i < a->items.size(); i += 2) {
    if (containsTensors(a->items[i], depth + 1, seen)) return true;
  }
  return false;
}

bool holdsTensorsDirectly(const PickleValue* v) {
  const PickleValue* a = attributes(v);
  if (!a) return false;
  for (std::size_t i = 1; i < a->items.size(); i += 2) {
    if (a->items[i]->kind == Kind::Tensor) return true;
  }
  return false;
}

}  // namespace

TorchCheckpoint::TorchCheckpoint(const std::string& path)
    : m_file(std::in_place, path), m_name(path) {
  m_bytes = m_file->bytes();
  open();
}

TorchCheckpoint::TorchCheckpoint(std::span<const std::uint8_t> bytes, std::string name)
    : m_bytes(bytes), m_name(std::move(name)) {
  open();
}

TorchCheckpoint::~TorchCheckpoint() = default;

bool TorchCheckpoint::looksLikeLegacy(std::span<const std::uint8_t> b) {
  return b.size() >= 14 && b[0] == 0x80 && b[1] == 0x02 && b[2] == 0x8a && b[3] == 0x0a &&
         std::memcmp(b.data() + 4, kLegacyMagic, sizeof kLegacyMagic) == 0;
}

bool TorchCheckpoint::isTorchZip(const ZipMembers& zip) {
  for (const ZipMembers::Member& m : zip.members()) {
    const std::size_t slash = m.name.find('/');
    if (slash != std::string::npos && m.name.compare(slash, std::string::npos, "/data.pkl") == 0)
      return true;
  }
  return false;
}

void TorchCheckpoint::open() {
  if (m_bytes.empty()) throw Error(m_name, "empty file: not a PyTorch checkpoint");
  if (ZipMembers::looksLike(m_bytes)) {
    openZip();
  } else {
    openLegacy();
  }
}

void TorchCheckpoint::addStorage(const PickleValue* s) {
  const StorageDtype dtype = storageDtype(s->storageType);
  if (dtype.size == 0)
    throw Error(m_name, "storage type " + quotedName(s->storageType) + " unknown");
  const auto it = m_storages.find(s->text);
  if (it != m_storages.end()) {
    if (it->second.type != s->storageType || it->second.numel != s->integer) {
      throw Error(m_name, "storage " + quotedName(s->text) +
                              " is declared twice with different types or sizes");
    }
    return;
  }
  Storage st;
  st.type = s->storageType;
  st.numel = s->integer;
  std::uint64_t bytes = 0;
  if (mulOverflows(static_cast<std::uint64_t>(st.numel), dtype.size, bytes))
    throw Error(m_name, "storage " + quotedName(s->text) + " declares an impossible size");
  if (m_zip) {
    const std::string member = m_prefix + "data/" + s->text;
    st.member = m_zip->find(member);
    if (!st.member) {
      throw Error(m_name,
                  "storage " + quotedName(s->text) + " has no zip member " + quotedName(member));
    }
    if (st.member->size != bytes) {
      throw Error(
          m_name,
          ZipMembers::memberError(
              member, "holds " + std::to_string(st.member->size) +
                          " bytes but the pickle declares " + std::to_string(st.numel) + " x " +
                          std::to_string(dtype.size) + " = " + std::to_string(bytes)));
    }
  }
  if (m_storages.emplace(s->text, st).second)
    m_storageElements += std::min<std::uint64_t>(static_cast<std::uint64_t>(st.numel), 1ull << 40);
}

void TorchCheckpoint::openZip() {
  m_zip = std::make_unique<ZipMembers>(m_bytes, m_name);
  const ZipMembers::Member* pickle = nullptr;
  for (const ZipMembers::Member& m : m_zip->members()) {
    const std::size_t slash = m.name.find('/');
    if (slash == std::string::npos || m.name.compare(slash, std::string::npos, "/data.pkl") != 0)
      continue;
    if (pickle) {
      throw Error(m_name, "zip holds two checkpoints (" + quotedName(pickle->name) + " and " +
                              quotedName(m.name) + ")");
    }
    pickle = &m;
  }
  if (!pickle)
    throw Error(m_name, "zip archive without a <name>/data.pkl: not a PyTorch checkpoint");
  m_prefix = pickle->name.substr(0, pickle->name.size() - std::strlen("data.pkl"));
  if (const ZipMembers::Member* order = m_zip->find(m_prefix + "byteorder")) {
    const std::vector<std::uint8_t> b = m_zip->read(*order, 16);
    const std::string text(b.begin(), b.end());
    if (text != "little") {
      throw Error(m_name, "byteorder " + quotedName(text) +
                              ": only little-endian PyTorch checkpoints are read");
    }
  }
  bool script = m_zip->find(m_prefix + "constants.pkl") != nullptr;
  for (const ZipMembers::Member& m : m_zip->members()) {
    if (m.name.rfind(m_prefix + "code/", 0) == 0) script = true;
  }
  m_format = script ? "torchscript" : "pytorch zip";
  if (pickle->size > kMaxPickleBytes) {
    throw Error(m_name, ZipMembers::memberError(pickle->name, "a pickle of " +
                                                                  std::to_string(pickle->size) +
                                                                  " bytes, over the 256 MB limit"));
  }
  const std::vector<std::uint8_t> bytes = m_zip->read(*pickle);
  PickleReader reader(m_name, pickle->name);
  std::size_t end = 0;
  const PickleValue* root = reader.parse(bytes, 0, &end);
  for (const PickleValue* s : reader.storages()) addStorage(s);
  collect(root);
}

void TorchCheckpoint::openLegacy() {
  m_format = "pytorch legacy";
  if (m_bytes.size() < 2 || m_bytes[0] != 0x80 || m_bytes[1] < 2) {
    throw Error(m_name, "not a PyTorch checkpoint: not a pickle of protocol 2 or later" +
                            std::string(m_bytes.size() >= 2 ? "" : " (too short)"));
  }
  PickleReader reader(m_name, "legacy torch.save pickle");
  std::size_t pos = 0;
  const PickleValue* magic = reader.parse(m_bytes, pos, &pos);
  if (magic->kind != Kind::BigInt || magic->text.size() != sizeof kLegacyMagic ||
      std::memcmp(magic->text.data(), kLegacyMagic, sizeof kLegacyMagic) != 0) {
    throw Error(m_name, "a pickle, but not a PyTorch checkpoint (no torch.save magic number)");
  }
  const PickleValue* protocol = reader.parse(m_bytes, pos, &pos);
  if (protocol->kind != Kind::Int || protocol->integer != kLegacyProtocol) {
    throw Error(m_name, "legacy PyTorch format with an unknown protocol version (not 1001)");
  }
  const PickleValue* sysInfo = reader.parse(m_bytes, pos, &pos);
  const PickleValue* little = sysInfo->get("little_endian");
  if (!little || little->kind != Kind::Bool || little->integer != 1)
    throw Error(m_name, "legacy PyTorch checkpoint written on a big-endian machine: not read");
  const PickleValue* root = reader.parse(m_bytes, pos, &pos);
  const PickleValue* keys = reader.parse(m_bytes, pos, &pos);
  if (keys->kind != Kind::List) throw Error(m_name, "legacy storage key list is not a list");
  for (const PickleValue* s : reader.storages()) addStorage(s);
  std::set<std::string> located;
  for (const PickleValue* k : keys->items) {
    if (k->kind != Kind::String) throw Error(m_name, "legacy storage key is not a string");
    const auto it = m_storages.find(k->text);
    if (it == m_storages.end())
      throw Error(m_name, "legacy storage " + quotedName(k->text) + " is listed but never used");
    if (!located.insert(k->text).second)
      throw Error(m_name, "legacy storage " + quotedName(k->text) + " is listed twice");
    Storage& st = it->second;
    if (m_bytes.size() - pos < 8)
      throw Error(m_name, "truncated: legacy storage " + quotedName(k->text) + " is missing");
    std::uint64_t numel = 0;
    for (int i = 0; i < 8; ++i) numel |= std::uint64_t{m_bytes[pos + i]} << (8 * i);
    pos += 8;
    if (numel != static_cast<std::uint64_t>(st.numel)) {
      throw Error(m_name, "legacy storage " + quotedName(k->text) + " holds " +
                              std::to_string(numel) + " elements, the pickle declares " +
                              std::to_string(st.numel));
    }
    const std::uint64_t bytes = numel * storageDtype(st.type).size;  // checked in addStorage
    if (bytes > m_bytes.size() - pos) {
      throw Error(m_name, "truncated: legacy storage " + quotedName(k->text) + " needs " +
                              std::to_string(bytes) + " bytes, " +
                              std::to_string(m_bytes.size() - pos) + " remain");
    }
    st.fileOffset = pos;
    pos += bytes;
  }
  for (const auto& [key, st] : m_storages) {
    if (!located.count(key))
      throw Error(m_name, "legacy storage " + quotedName(key) + " is missing from the file");
  }
  collect(root);
}

void TorchCheckpoint::collect(const PickleValue* root) {
  if (const PickleValue* a = attributes(root)) {
    for (std::size_t i = 0; i < a->items.size() && i < 24; i += 2) {
      m_topKeys += (m_topKeys.empty() ? "" : ", ") + keyText(a->items[i]);
    }
    if (a->items.size() > 24) m_topKeys += ", ...";
  }
  // Descend into the state dict of a nested checkpoint.
  const PickleValue* current = root;
  for (int level = 0; level < 3 && !holdsTensorsDirectly(current); ++level) {
    const PickleValue* a = attributes(current);
    if (!a) break;
    const PickleValue* next = nullptr;
    for (const char* key : kNestedKeys) {
      const PickleValue* child = a->get(key);
      std::set<const PickleValue*> seen;
      if (child && containsTensors(child, 0, seen)) {
        next = child;
        m_stateDictKey += (m_stateDictKey.empty() ? "" : ".") + std::string(key);
        break;
      }
    }
    if (!next) break;
    current = next;
  }

  std::set<const PickleValue*> visited;
  std::set<std::string> names;
  // Explicit stack: (value, name, depth); a DAG is walked once per node, so no blow-up.
  struct Item {
    const PickleValue* value;
    std::string name;
    int depth;
  };
  std::vector<Item> todo{{current, "", 0}};
  std::size_t named = 0;
  std::size_t namedBytes = 0;
  while (!todo.empty()) {
    Item item = std::move(todo.back());
    todo.pop_back();
    const PickleValue* v = item.value;
    if (v->kind == Kind::Tensor) {
      const std::string name = item.name.empty() ? "(tensor)" : item.name;
      if (!names.insert(name).second) continue;
      if (m_tensors.size() >= kMaxTensors)
        throw Error(m_name, "more than " + std::to_string(kMaxTensors) + " tensors");
      const Storage& st = m_storages.at(v->storage->text);
      Entry e;
      e.storageKey = v->storage->text;
      e.storageType = st.type;
      if (__builtin_add_overflow(v->integer, v->storage->viewOffset, &e.offset))
        throw Error(m_name, "tensor " + quotedName(name) + " has an impossible storage offset");
      e.sizes = v->sizes;
      e.strides = v->strides;
      std::uint64_t numel = 1;
      std::uint64_t last = static_cast<std::uint64_t>(e.offset);
      bool overflow = false;
      for (std::size_t d = 0; d < e.sizes.size(); ++d) {
        const auto size = static_cast<std::uint64_t>(e.sizes[d]);
        const auto stride = static_cast<std::uint64_t>(e.strides[d]);
        std::uint64_t reach = 0;
        overflow |= mulOverflows(numel, size, numel);
        if (size > 0) {
          overflow |= mulOverflows(size - 1, stride, reach);
          overflow |= __builtin_add_overflow(last, reach, &last);
        }
      }
      if (overflow || numel > (std::uint64_t{1} << 34)) {
        throw Error(m_name, "tensor " + quotedName(name) + " " + shapeText(e.sizes) +
                                " declares an impossible size");
      }
      e.reach = numel > 0 ? last + 1 : 0;
      if (numel > 0 && last >= static_cast<std::uint64_t>(st.numel)) {
        throw Error(m_name, "tensor " + quotedName(name) + " " + shapeText(e.sizes) + " (offset " +
                                std::to_string(e.offset) + ", strides " + shapeText(e.strides) +
                                ") reaches element " + std::to_string(last) + " of storage " +
                                quotedName(e.storageKey) + ", which holds " +
                                std::to_string(st.numel) + ": storage smaller than the view");
      }
      // A view with more elements than its storage holds (stride 0, overlapping strides)
      // would make a few bytes of file into gigabytes of floats: no weight is stored so.
      if (numel > static_cast<std::uint64_t>(st.numel)) {
        throw Error(m_name, "tensor " + quotedName(name) + " " + shapeText(e.sizes) + " (strides " +
                                shapeText(e.strides) + ") has " + std::to_string(numel) +
                                " elements from a storage of " + std::to_string(st.numel) +
                                ": a stride-0 or overlapping view, not a stored weight");
      }
      TensorInfo info;
      info.name = name;
      info.dtype = storageDtype(st.type).name;
      info.shape = e.sizes;
      m_tensors.push_back(std::move(info));
      m_entries.push_back(std::move(e));
      continue;
    }
    if (item.depth >= kMaxDepth)
      throw Error(m_name,
                  "the checkpoint nests deeper than " + std::to_string(kMaxDepth) + " levels");
    const std::string prefix = item.name.empty() ? "" : item.name + ".";
    // Only what can be or hold a tensor is named: a list of 16 M numbers costs no names.
    const auto kept = [](const PickleValue* c) {
      return c->kind == Kind::Tensor || c->kind == Kind::List || c->kind == Kind::Tuple ||
             attributes(c) != nullptr;
    };
    std::vector<Item> children;
    // Every name made is counted, and its bytes: a list of 16 M references to one memoised
    // list, or 100,000 keys that are one memoised 64 kB string, would otherwise make gigabytes
    // of names before any value is seen twice.
    const auto name = [&](const PickleValue* child, std::string childName) {
      namedBytes += childName.size();
      if (++named > kMaxNames || namedBytes > kMaxNameBytes)
        throw Error(m_name, "the checkpoint names more than " + std::to_string(kMaxNames) +
                                " values that could hold tensors, or more than " +
                                std::to_string(kMaxNameBytes >> 20) + " MiB of names");
      children.push_back({child, std::move(childName), item.depth + 1});
    };
    if (const PickleValue* a = attributes(v)) {
      if (!visited.insert(a).second) continue;
      for (std::size_t i = 0; i + 1 < a->items.size(); i += 2) {
        if (!kept(a->items[i + 1])) continue;
        const std::string key = keyText(a->items[i]);
        if (!key.empty()) name(a->items[i + 1], prefix + key);
      }
    } else if (v->kind == Kind::List || v->kind == Kind::Tuple) {
      if (!visited.insert(v).second) continue;
      for (std::size_t i = 0; i < v->items.size(); ++i) {
        if (kept(v->items[i])) name(v->items[i], prefix + std::to_string(i));
      }
    }
    // Reverse so the stack pops them in file order.
    for (auto it = children.rbegin(); it != children.rend(); ++it) todo.push_back(std::move(*it));
  }
}

std::vector<std::string> TorchCheckpoint::details() const {
  std::vector<std::string> lines;
  if (m_format == "torchscript") {
    lines.push_back("TorchScript archive: parameters taken from " + m_prefix +
                    "data.pkl, module tree flattened; its code is never read");
  } else if (m_format == "pytorch legacy") {
    lines.push_back("legacy torch.save stream (before PyTorch 1.6)");
  } else {
    lines.push_back("torch.save zip archive '" + m_prefix + "'");
  }
  if (!m_topKeys.empty() && !m_stateDictKey.empty())
    lines.push_back("top-level keys: " + m_topKeys);
  lines.push_back(m_stateDictKey.empty() ? "state dict: the top-level object"
                                         : "state dict: the nested '" + m_stateDictKey + "' dict");
  return lines;
}

NpyArray TorchCheckpoint::read(const std::string& name) const {
  const TensorInfo* found = find(name);  // hashed (TensorSource::find)
  const std::size_t index =
      found ? static_cast<std::size_t>(found - m_tensors.data()) : m_tensors.size();
  if (index == m_tensors.size()) throw Error(m_name, "no tensor named " + quotedName(name));
  const TensorInfo& info = m_tensors[index];
  const Entry& e = m_entries[index];
  if (!isFloatDtype(info.dtype)) {
    throw Error(m_name, "tensor " + quotedName(name) + " is " + info.dtype +
                            ", not a float tensor (F32, F16, BF16, F64)");
  }
  const Storage& st = m_storages.at(e.storageKey);
  const std::size_t item = storageDtype(st.type).size;
  std::vector<std::uint8_t> owned;
  std::span<const std::uint8_t> raw;
  std::size_t numel = 1;
  for (std::int64_t s : e.sizes) numel *= static_cast<std::size_t>(s);
  const std::uint64_t total = m_elementsRead.fetch_add(numel) + numel;
  if (total > 2 * m_storageElements + (std::uint64_t{1} << 24)) {
    throw Error(m_name, "tensor " + quotedName(name) + ": the tensors read would hold " +
                            std::to_string(total) + " elements from storages of " +
                            std::to_string(m_storageElements) +
                            " in the file (storages shared by many tensors)");
  }
  if (m_zip) {
    // Only up to the view's last element: a small view of a huge deflated storage stops
    // inflating there.
    owned = m_zip->read(*st.member, e.reach * item);
    raw = owned;
  } else {
    raw = m_bytes.subspan(st.fileOffset, static_cast<std::size_t>(st.numel) * item);
  }
  NpyArray out;
  out.shape = e.sizes;
  out.data.resize(numel);
  if (numel == 0) return out;
  // Decided once, not per element: 0 F32, 1 F64, 2 F16, 3 BF16.
  const int dtype = info.dtype == "F32" ? 0 : info.dtype == "F64" ? 1 : info.dtype == "F16" ? 2 : 3;
  const auto convert = [&](std::size_t element) -> float {
    const std::uint8_t* p = raw.data() + element * item;
    if (dtype == 0) {
      float f;
      std::memcpy(&f, p, 4);
      return f;
    }
    if (dtype == 1) {
      double d;
      std::memcpy(&d, p, 8);
      return narrowToFloat(d);
    }
    const auto bits = static_cast<std::uint16_t>(p[0] | (p[1] << 8));
    return dtype == 2 ? halfToFloat(bits) : bfloat16ToFloat(bits);
  };
  // Walk the view in C order: an odometer over the indices, the storage position kept in step.
  const std::size_t dims = e.sizes.size();
  std::vector<std::int64_t> counter(dims, 0);
  std::size_t position = static_cast<std::size_t>(e.offset);
  for (std::size_t n = 0; n < numel; ++n) {
    out.data[n] = convert(position);
    for (std::size_t d = dims; d-- > 0;) {
      position += static_cast<std::size_t>(e.strides[d]);
      if (++counter[d] < e.sizes[d]) break;
      position -= static_cast<std::size_t>(e.strides[d] * e.sizes[d]);
      counter[d] = 0;
    }
  }
  if (m_file) m_file->forgetResidentPages();  // the float32 copy is what the caller keeps
  return out;
}

}  // namespace patchlens
