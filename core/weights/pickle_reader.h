#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <vector>

#include "core/weights/pickle_value.h"

namespace patchlens {

// A restricted unpickler (protocols 2-5) for what torch.save and torch.jit.save write. It
// never imports or calls anything: globals resolve only against an allow-list (the ones
// torch.load(weights_only=True) allows for state dicts, TorchScript's __torch__.* attribute
// holders, argparse.Namespace), and "calling" one builds an inert PickleValue. Any other global
// is refused by name ("forbidden global os.system"). Values, stack, marks and memo are bounded.
class PickleReader {
 public:
  static constexpr std::size_t kMaxValues = std::size_t{1} << 20;
  static constexpr std::size_t kMaxStack = std::size_t{1} << 20;
  static constexpr std::size_t kMaxMemo = std::size_t{1} << 20;
  static constexpr std::size_t kMaxItems = std::size_t{1} << 24;  // container slots in total
  static constexpr std::size_t kMaxTensorDims = 32;
  // Everything the reader builds (values, container slots, text; a memoised string used
  // again is shared, one made from it, as GLOBAL or _codecs.encode do, is counted again).
  static constexpr std::size_t kMaxBytes = std::size_t{256} << 20;

  // file and what ("archive/data.pkl") name the pickle in errors: Error(file, "what: reason").
  PickleReader(std::string file, std::string what);

  // Parses one pickle starting at bytes[offset]; returns its value (owned by this reader,
  // valid while it lives) and stores in *end the offset just past its STOP opcode.
  const PickleValue* parse(std::span<const std::uint8_t> bytes, std::size_t offset = 0,
                           std::size_t* end = nullptr);

  // Every storage a persistent id named, in pickle order (legacy files need them all).
  const std::vector<const PickleValue*>& storages() const { return m_storages; }

  // True for "module.name" globals the reader resolves; everything else is forbidden.
  static bool isAllowedGlobal(const std::string& module, const std::string& name);
  // The torch storage classes a persistent id may name ("torch.FloatStorage", ...).
  static bool isStorageType(const std::string& global);

 private:
  PickleValue* make(PickleValue::Kind kind);
  [[noreturn]] void fail(const std::string& why) const;
  PickleValue* call(const PickleValue* callable, const PickleValue* args, bool newObject);
  PickleValue* persistentLoad(const PickleValue* pid);
  void addItems(std::size_t count);
  void charge(std::size_t bytes);

  std::string m_file;
  std::string m_what;
  std::size_t m_offset = 0;  // of the opcode being run, for errors
  std::size_t m_items = 0;
  std::size_t m_bytes = 0;
  std::deque<PickleValue> m_values;
  std::vector<const PickleValue*> m_storages;
};

}  // namespace patchlens
