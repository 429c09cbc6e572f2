#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/io/mapped_file.h"
#include "core/weights/tensor_source.h"
#include "core/weights/zip_members.h"

namespace patchlens {

class PickleReader;
struct PickleValue;

// A PyTorch checkpoint read without Python: a torch.save zip (`<name>/data.pkl`,
// `<name>/data/<key>`, `byteorder`), a legacy pre-1.6 torch.save stream (magic number,
// protocol, sys info, object, storage keys, raw storages) or a TorchScript archive (modules
// are __torch__.* attribute holders, flattened into `visual.conv1.weight`-style names). The
// pickle goes through PickleReader (an allow-list, nothing executed). A nested checkpoint
// ({"model": sd, "epoch": ...}, {"teacher": ...}) exposes the sub-dict it used. F32, F16, BF16
// and F64 tensors read as float32 with storage offset and strides honoured; every view is
// checked against its storage, and every storage against the bytes really in the file, when
// the file is opened. Only the storages of the tensors read are touched.
class TorchCheckpoint : public TensorSource {
 public:
  // Largest pickle (data.pkl) read into memory.
  static constexpr std::uint64_t kMaxPickleBytes = std::uint64_t{256} << 20;

  explicit TorchCheckpoint(const std::string& path);
  // Parses bytes the caller keeps alive (fuzzing, tests); name appears in error messages.
  TorchCheckpoint(std::span<const std::uint8_t> bytes, std::string name);
  ~TorchCheckpoint() override;
  TorchCheckpoint(const TorchCheckpoint&) = delete;
  TorchCheckpoint& operator=(const TorchCheckpoint&) = delete;

  // "pytorch zip", "pytorch legacy" or "torchscript".
  std::string format() const override { return m_format; }
  const std::vector<TensorInfo>& tensors() const override { return m_tensors; }
  NpyArray read(const std::string& name) const override;
  std::vector<std::string> details() const override;

  // The path of the nested dict the tensors come from ("model", "teacher", "state_dict.module");
  // empty when the top-level object holds them.
  const std::string& stateDictKey() const { return m_stateDictKey; }

  // True for a legacy torch.save stream: pickle protocol 2 whose first value is torch's magic.
  static bool looksLikeLegacy(std::span<const std::uint8_t> head);
  // True for a zip whose members hold one `<name>/data.pkl` (torch.save or torch.jit.save).
  static bool isTorchZip(const ZipMembers& zip);

 private:
  struct Entry {
    std::string storageKey;
    std::string storageType;
    std::int64_t offset = 0;  // elements, view offset included
    std::vector<std::int64_t> sizes;
    std::vector<std::int64_t> strides;
    std::uint64_t reach = 0;  // elements of the storage the view touches: 1 + its last index
  };
  struct Storage {
    std::string type;
    std::int64_t numel = 0;
    std::uint64_t fileOffset = 0;                // legacy: where the raw bytes start in the file
    const ZipMembers::Member* member = nullptr;  // zip: the `data/<key>` member
  };

  void open();
  void openZip();
  void openLegacy();
  // Chooses the state dict (nested or not) and lists its tensors, flattening module trees.
  void collect(const PickleValue* root);
  void addStorage(const PickleValue* s);

  std::optional<MappedFile> m_file;
  std::span<const std::uint8_t> m_bytes;
  std::string m_name;
  std::string m_format;
  std::string m_stateDictKey;
  std::string m_topKeys;  // the checkpoint's own top-level keys, for `info`
  std::unique_ptr<ZipMembers> m_zip;
  std::string m_prefix;  // "archive/" in a zip
  std::map<std::string, Storage> m_storages;
  std::vector<TensorInfo> m_tensors;
  std::vector<Entry> m_entries;  // parallel to m_tensors
  // Memory follows the file's real bytes: the elements read so far may not exceed twice the
  // elements the file's storages hold (plus 16 M): storages shared by thousands of tensors
  // are refused before they are materialised again and again.
  std::uint64_t m_storageElements = 0;
  mutable std::atomic<std::uint64_t> m_elementsRead{0};
};

}  // namespace patchlens
