#include "core/weights/pickle_reader.h"

#include <array>
#include <bit>
#include <cstring>
#include <unordered_map>
#include <utility>

#include "core/io/error.h"

namespace patchlens {
namespace {

using Kind = PickleValue::Kind;

// The storage classes torch.save names in persistent ids (torch/storage.py, _StorageBase).
constexpr std::array<const char*, 17> kStorageTypes = {
    "FloatStorage",   "HalfStorage",   "BFloat16Storage",     "DoubleStorage",
    "LongStorage",    "IntStorage",    "ShortStorage",        "CharStorage",
    "ByteStorage",    "BoolStorage",   "ComplexFloatStorage", "ComplexDoubleStorage",
    "QInt8Storage",   "QUInt8Storage", "QInt32Storage",       "ComplexHalfStorage",
    "QUInt4x2Storage"};

constexpr std::array<const char*, 16> kDtypes = {
    "float32", "float16", "bfloat16", "float64", "float", "half", "double", "int64",
    "int32",   "int16",   "int8",     "uint8",   "bool",  "long", "int",    "complex64"};

// Printable text for messages: control bytes become '?', long names are cut.
std::string printable(const std::string& s) {
  std::string q = s.size() > 120 ? s.substr(0, 120) + "..." : s;
  for (char& c : q) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = '?';
  }
  return q;
}

const char* kindName(Kind k) {
  switch (k) {
    case Kind::None:
      return "None";
    case Kind::Bool:
      return "bool";
    case Kind::Int:
    case Kind::BigInt:
      return "int";
    case Kind::Float:
      return "float";
    case Kind::String:
      return "str";
    case Kind::Bytes:
      return "bytes";
    case Kind::Tuple:
      return "tuple";
    case Kind::List:
      return "list";
    case Kind::Dict:
      return "dict";
    case Kind::Set:
      return "set";
    case Kind::Global:
      return "global";
    case Kind::Object:
      return "object";
    case Kind::Storage:
      return "storage";
    case Kind::Tensor:
      return "tensor";
  }
  return "value";
}

}  // namespace

PickleReader::PickleReader(std::string file, std::string what)
    : m_file(std::move(file)), m_what(std::move(what)) {}

bool PickleReader::isStorageType(const std::string& global) {
  if (global == "torch.storage.UntypedStorage" || global == "torch.UntypedStorage") return true;
  if (global.rfind("torch.", 0) != 0) return false;
  const std::string name = global.substr(6);
  for (const char* s : kStorageTypes) {
    if (name == s) return true;
  }
  return false;
}

bool PickleReader::isAllowedGlobal(const std::string& module, const std::string& name) {
  if (module == "collections" && name == "OrderedDict") return true;
  if (module == "torch._utils" && (name == "_rebuild_tensor_v2" || name == "_rebuild_parameter" ||
                                   name == "_rebuild_parameter_with_state")) {
    return true;
  }
  if (module == "torch" && name == "Size") return true;
  if (module == "torch") {
    for (const char* d : kDtypes) {
      if (name == d) return true;
    }
  }
  if (isStorageType(module + "." + name)) return true;
  if (module == "builtins" && (name == "set" || name == "frozenset")) return true;
  // Plain attribute holders: TorchScript modules (their code is never read), the argparse
  // namespace DeiT/MAE/DINO checkpoints keep their training arguments in.
  if ((module == "__torch__" || module.rfind("__torch__.", 0) == 0) && !name.empty()) return true;
  if (module == "argparse" && name == "Namespace") return true;
  // How protocol 2 spells bytes: _codecs.encode(str, "latin1"); a pure conversion.
  if (module == "_codecs" && name == "encode") return true;
  // TorchScript's typed-list builders and type tags (torch/jit/_pickle.py): identities.
  if (module == "torch.jit._pickle" &&
      (name == "build_intlist" || name == "build_floatlist" || name == "build_boollist" ||
       name == "build_tensorlist" || name == "build_doublelist" || name == "restore_type_tag")) {
    return true;
  }
  return false;
}

void PickleReader::fail(const std::string& why) const {
  throw Error(m_file, m_what + ": " + why);
}

PickleValue* PickleReader::make(Kind kind) {
  if (m_values.size() >= kMaxValues) {
    fail("the pickle builds more than " + std::to_string(kMaxValues) + " values");
  }
  charge(sizeof(PickleValue));
  m_values.emplace_back();
  m_values.back().kind = kind;
  return &m_values.back();
}

void PickleReader::charge(std::size_t bytes) {
  m_bytes += bytes;
  if (m_bytes > kMaxBytes) {
    fail("the pickle builds more than " + std::to_string(kMaxBytes >> 20) +
         " MiB of values (a memoised string copied again and again?)");
  }
}

void PickleReader::addItems(std::size_t count) {
  charge(count * sizeof(PickleValue*));
  m_items += count;
  if (m_items > kMaxItems) {
    fail("the pickle's containers hold more than " + std::to_string(kMaxItems) + " items");
  }
}

PickleValue* PickleReader::persistentLoad(const PickleValue* pid) {
  if (pid->kind != Kind::Tuple || pid->items.empty() || pid->items[0]->kind != Kind::String) {
    fail("persistent id is not a ('storage', ...) tuple");
  }
  if (pid->items[0]->text != "storage") {
    fail("persistent id '" + printable(pid->items[0]->text) +
         "' is not a tensor storage (a whole pickled model? save model.state_dict() instead)");
  }
  const auto& it = pid->items;
  if (it.size() < 5 || it.size() > 6 || it[1]->kind != Kind::Global ||
      (it[2]->kind != Kind::String && it[2]->kind != Kind::Int) || it[4]->kind != Kind::Int) {
    fail("storage persistent id is not ('storage', type, key, location, size)");
  }
  if (!isStorageType(it[1]->text)) fail("storage type " + printable(it[1]->text) + " is unknown");
  if (it[4]->integer < 0) fail("storage declares a negative size");
  PickleValue* s = make(Kind::Storage);
  charge(it[1]->text.size() + (it[2]->kind == Kind::String ? it[2]->text.size() : 20));
  s->storageType = it[1]->text;
  s->text = it[2]->kind == Kind::String ? it[2]->text : std::to_string(it[2]->integer);
  s->integer = it[4]->integer;
  if (it.size() == 6 && it[5]->kind != Kind::None) {
    // Legacy view metadata: (view_key, offset, view_size) into the root storage.
    const PickleValue* v = it[5];
    if (v->kind != Kind::Tuple || v->items.size() != 3 || v->items[1]->kind != Kind::Int ||
        v->items[2]->kind != Kind::Int || v->items[1]->integer < 0 || v->items[2]->integer < 0) {
      fail("storage view metadata is not (key, offset, size)");
    }
    s->viewOffset = v->items[1]->integer;
  }
  m_storages.push_back(s);
  return s;
}

PickleValue* PickleReader::call(const PickleValue* callable, const PickleValue* args,
                                bool newObject) {
  if (callable->kind != Kind::Global) {
    fail(std::string("REDUCE/NEWOBJ on a ") + kindName(callable->kind) + ", not a class");
  }
  if (args->kind != Kind::Tuple) fail("call arguments are not a tuple");
  const std::string& g = callable->text;
  const auto& a = args->items;
  if (g == "collections.OrderedDict" || g == "builtins.set" || g == "builtins.frozenset") {
    PickleValue* out = make(g == "collections.OrderedDict" ? Kind::Dict : Kind::Set);
    if (a.empty()) return out;
    if (a.size() != 1 || (a[0]->kind != Kind::List && a[0]->kind != Kind::Tuple))
      fail(g + " called with arguments other than one list");
    for (PickleValue* item : a[0]->items) {
      if (out->kind == Kind::Set) {
        out->items.push_back(item);
        continue;
      }
      if (item->kind != Kind::Tuple || item->items.size() != 2)
        fail(g + " called with an item that is not a (key, value) pair");
      out->items.push_back(item->items[0]);
      out->items.push_back(item->items[1]);
    }
    addItems(out->items.size());
    return out;
  }
  if (g == "torch._utils._rebuild_tensor_v2") {
    if (a.size() < 4 || a[0]->kind != Kind::Storage || a[1]->kind != Kind::Int ||
        a[2]->kind != Kind::Tuple || a[3]->kind != Kind::Tuple) {
      fail("_rebuild_tensor_v2 arguments are not (storage, offset, size, stride, ...)");
    }
    if (a[2]->items.size() != a[3]->items.size() || a[2]->items.size() > kMaxTensorDims) {
      fail("tensor size and stride differ in length or exceed " + std::to_string(kMaxTensorDims) +
           " dimensions");
    }
    if (a[1]->integer < 0) fail("tensor has a negative storage offset");
    PickleValue* t = make(Kind::Tensor);
    t->storage = a[0];
    t->integer = a[1]->integer;
    for (std::size_t i = 0; i < a[2]->items.size(); ++i) {
      const PickleValue* size = a[2]->items[i];
      const PickleValue* stride = a[3]->items[i];
      if (size->kind != Kind::Int || stride->kind != Kind::Int || size->integer < 0 ||
          stride->integer < 0) {
        fail("tensor size or stride is not a non-negative integer");
      }
      t->sizes.push_back(size->integer);
      t->strides.push_back(stride->integer);
    }
    return t;
  }
  if (g == "torch._utils._rebuild_parameter" || g == "torch._utils._rebuild_parameter_with_state") {
    if (a.empty() || a[0]->kind != Kind::Tensor) fail(g + " is not given a tensor");
    return a[0];
  }
  if (g == "_codecs.encode") {
    if (a.size() != 2 || a[0]->kind != Kind::String || a[1]->kind != Kind::String ||
        a[1]->text != "latin1") {
      fail("_codecs.encode is not given (str, 'latin1')");
    }
    // UTF-8 text of code points below 256 back to the bytes they stand for.
    PickleValue* b = make(Kind::Bytes);
    const std::string& t = a[0]->text;
    charge(t.size());
    for (std::size_t i = 0; i < t.size(); ++i) {
      const auto c = static_cast<unsigned char>(t[i]);
      if (c < 0x80) {
        b->text += static_cast<char>(c);
      } else if ((c == 0xC2 || c == 0xC3) && i + 1 < t.size()) {
        const auto next = static_cast<unsigned char>(t[++i]);
        b->text += static_cast<char>(((c & 0x03) << 6) | (next & 0x3F));
      } else {
        fail("_codecs.encode of text that is not latin1");
      }
    }
    return b;
  }
  if (g.rfind("torch.jit._pickle.", 0) == 0) {
    if (a.empty() || (g != "torch.jit._pickle.restore_type_tag" && a[0]->kind != Kind::List))
      fail(g + " is not given a list");
    return a[0];
  }
  if (g == "torch.Size") {
    if (a.size() != 1 || a[0]->kind != Kind::Tuple) fail("torch.Size is not given a tuple");
    return a[0];
  }
  if (g.rfind("__torch__", 0) == 0 || g == "argparse.Namespace") {
    PickleValue* o = make(Kind::Object);
    charge(g.size());
    o->text = g;
    if (!newObject && !a.empty()) fail(printable(g) + " called with arguments");
    return o;
  }
  fail(printable(g) + " cannot be called");
}

const PickleValue* PickleReader::parse(std::span<const std::uint8_t> bytes, std::size_t offset,
                                       std::size_t* end) {
  std::vector<PickleValue*> stack;
  std::vector<std::size_t> marks;
  std::unordered_map<std::uint64_t, PickleValue*> memo;
  std::size_t pos = offset;

  const auto need = [&](std::uint64_t n) {
    if (n > bytes.size() || pos > bytes.size() - n) fail("truncated pickle");
  };
  const auto take = [&](std::size_t n) {
    need(n);
    const std::uint8_t* p = bytes.data() + pos;
    pos += n;
    return p;
  };
  const auto le = [&](std::size_t n) {
    const std::uint8_t* p = take(n);
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t{p[i]} << (8 * i);
    return v;
  };
  const auto push = [&](PickleValue* v) {
    if (stack.size() >= kMaxStack) fail("pickle stack deeper than " + std::to_string(kMaxStack));
    stack.push_back(v);
  };
  const auto pop = [&]() {
    if (stack.empty() || (!marks.empty() && stack.size() <= marks.back()))
      fail("pickle stack underflow");
    PickleValue* v = stack.back();
    stack.pop_back();
    return v;
  };
  const auto top = [&]() {
    if (stack.empty() || (!marks.empty() && stack.size() <= marks.back()))
      fail("pickle stack underflow");
    return stack.back();
  };
  // Pops everything above the last MARK, and the mark.
  const auto popMark = [&]() {
    if (marks.empty()) fail("pickle MARK missing");
    const std::size_t m = marks.back();
    marks.pop_back();
    std::vector<PickleValue*> items(stack.begin() + static_cast<std::ptrdiff_t>(m), stack.end());
    stack.resize(m);
    return items;
  };
  const auto text = [&](std::size_t n, Kind kind) {
    const std::uint8_t* p = take(n);
    PickleValue* v = make(kind);
    charge(n);
    v->text.assign(reinterpret_cast<const char*>(p), n);
    push(v);
  };
  const auto line = [&]() {
    std::string s;
    while (true) {
      need(1);
      const char c = static_cast<char>(bytes[pos++]);
      if (c == '\n') break;
      if (s.size() >= 1024) fail("GLOBAL name longer than 1024 bytes");
      s += c;
    }
    return s;
  };
  const auto global = [&](const std::string& module, const std::string& name) {
    if (!isAllowedGlobal(module, name)) {
      fail("forbidden global " + printable(module) + "." + printable(name) +
           " (PatchLens never imports or runs what a weight file names)");
    }
    PickleValue* v = make(Kind::Global);
    charge(module.size() + name.size() + 1);
    v->text = module + "." + name;
    push(v);
  };
  const auto memoPut = [&](std::uint64_t index) {
    if (memo.size() >= kMaxMemo && !memo.count(index))
      fail("pickle memo holds more than " + std::to_string(kMaxMemo) + " entries");
    memo[index] = top();
  };
  const auto memoGet = [&](std::uint64_t index) {
    const auto it = memo.find(index);
    if (it == memo.end()) fail("pickle memo has no entry " + std::to_string(index));
    push(it->second);
  };
  const auto tuple = [&](std::vector<PickleValue*> items) {
    PickleValue* t = make(Kind::Tuple);
    addItems(items.size());
    t->items = std::move(items);
    push(t);
  };
  const auto integer = [&](std::int64_t v) {
    PickleValue* i = make(Kind::Int);
    i->integer = v;
    push(i);
  };
  const auto longInt = [&](std::uint64_t n) {
    if (n > 4096) fail("pickle integer of " + std::to_string(n) + " bytes");
    const std::uint8_t* p = take(static_cast<std::size_t>(n));
    if (n <= 8) {
      std::uint64_t v = 0;
      for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t{p[i]} << (8 * i);
      if (n > 0 && n < 8 && (p[n - 1] & 0x80)) v |= ~std::uint64_t{0} << (8 * n);  // sign
      integer(std::bit_cast<std::int64_t>(v));
    } else {
      PickleValue* b = make(Kind::BigInt);
      charge(static_cast<std::size_t>(n));
      b->text.assign(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
      push(b);
    }
  };
  const auto setItems = [&](PickleValue* target, const std::vector<PickleValue*>& kv) {
    if (target->kind != Kind::Dict)
      fail(std::string("SETITEMS on a ") + kindName(target->kind) + ", not a dict");
    if (kv.size() % 2) fail("SETITEMS with an odd number of items");
    addItems(kv.size());
    target->items.insert(target->items.end(), kv.begin(), kv.end());
  };
  const auto appendItems = [&](PickleValue* target, const std::vector<PickleValue*>& items,
                               Kind want) {
    if (target->kind != want) fail(std::string("APPEND/ADDITEMS on a ") + kindName(target->kind));
    addItems(items.size());
    target->items.insert(target->items.end(), items.begin(), items.end());
  };

  while (true) {
    m_offset = pos;
    need(1);
    const std::uint8_t op = bytes[pos++];
    switch (op) {
      case 0x80: {  // PROTO
        const std::uint64_t proto = le(1);
        if (proto < 2 || proto > 5)
          fail("pickle protocol " + std::to_string(proto) + " (2-5 read)");
        break;
      }
      case 0x95:  // FRAME: a length hint only
        need(le(8));
        break;
      case '.': {  // STOP
        if (stack.size() != 1 || !marks.empty()) fail("pickle ends with an unbalanced stack");
        if (end) *end = pos;
        return stack.back();
      }
      case '(':
        if (marks.size() >= kMaxStack) fail("too many pickle MARKs");
        marks.push_back(stack.size());
        break;
      case '0':
        pop();
        break;
      case '1':
        popMark();
        break;
      case '2':
        push(top());
        break;
      case 'N':
        push(make(Kind::None));
        break;
      case 0x88:
      case 0x89: {
        PickleValue* b = make(Kind::Bool);
        b->integer = op == 0x88;
        push(b);
        break;
      }
      case 'J':
        integer(static_cast<std::int32_t>(static_cast<std::uint32_t>(le(4))));
        break;
      case 'K':
        integer(static_cast<std::int64_t>(le(1)));
        break;
      case 'M':
        integer(static_cast<std::int64_t>(le(2)));
        break;
      case 0x8a:  // LONG1
        longInt(le(1));
        break;
      case 0x8b:  // LONG4
        longInt(le(4));
        break;
      case 'G': {
        const std::uint8_t* p = take(8);
        std::uint64_t v = 0;
        for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];  // big-endian
        PickleValue* f = make(Kind::Float);
        f->real = std::bit_cast<double>(v);
        push(f);
        break;
      }
      case 0x8c:  // SHORT_BINUNICODE
        text(static_cast<std::size_t>(le(1)), Kind::String);
        break;
      case 'X':  // BINUNICODE
        text(static_cast<std::size_t>(le(4)), Kind::String);
        break;
      case 0x8d: {  // BINUNICODE8
        const std::uint64_t n = le(8);
        need(n);
        text(static_cast<std::size_t>(n), Kind::String);
        break;
      }
      case 'U':  // SHORT_BINSTRING (protocol 0-2 str)
        text(static_cast<std::size_t>(le(1)), Kind::String);
        break;
      case 'T':
        text(static_cast<std::size_t>(le(4)), Kind::String);
        break;
      case 'C':  // SHORT_BINBYTES
        text(static_cast<std::size_t>(le(1)), Kind::Bytes);
        break;
      case 'B':
        text(static_cast<std::size_t>(le(4)), Kind::Bytes);
        break;
      case 0x8e: {  // BINBYTES8
        const std::uint64_t n = le(8);
        need(n);
        text(static_cast<std::size_t>(n), Kind::Bytes);
        break;
      }
      case ')':
        tuple({});
        break;
      case 't':
        tuple(popMark());
        break;
      case 0x85: {
        PickleValue* a = pop();
        tuple({a});
        break;
      }
      case 0x86: {
        PickleValue* b = pop();
        PickleValue* a = pop();
        tuple({a, b});
        break;
      }
      case 0x87: {
        PickleValue* c = pop();
        PickleValue* b = pop();
        PickleValue* a = pop();
        tuple({a, b, c});
        break;
      }
      case ']':
        push(make(Kind::List));
        break;
      case 'l': {
        std::vector<PickleValue*> items = popMark();
        PickleValue* l = make(Kind::List);
        addItems(items.size());
        l->items = std::move(items);
        push(l);
        break;
      }
      case 'a': {
        PickleValue* v = pop();
        appendItems(top(), {v}, Kind::List);
        break;
      }
      case 'e': {
        const std::vector<PickleValue*> items = popMark();
        appendItems(top(), items, Kind::List);
        break;
      }
      case '}':
        push(make(Kind::Dict));
        break;
      case 'd': {
        const std::vector<PickleValue*> items = popMark();
        PickleValue* d = make(Kind::Dict);
        push(d);
        setItems(d, items);
        break;
      }
      case 's': {
        PickleValue* v = pop();
        PickleValue* k = pop();
        setItems(top(), {k, v});
        break;
      }
      case 'u': {
        const std::vector<PickleValue*> items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x8f:  // EMPTY_SET
        push(make(Kind::Set));
        break;
      case 0x90: {  // ADDITEMS
        const std::vector<PickleValue*> items = popMark();
        appendItems(top(), items, Kind::Set);
        break;
      }
      case 0x91: {  // FROZENSET
        std::vector<PickleValue*> items = popMark();
        PickleValue* s = make(Kind::Set);
        addItems(items.size());
        s->items = std::move(items);
        push(s);
        break;
      }
      case 'c': {  // GLOBAL "module\nname\n"
        const std::string module = line();
        const std::string name = line();
        global(module, name);
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        PickleValue* name = pop();
        PickleValue* module = pop();
        if (module->kind != Kind::String || name->kind != Kind::String)
          fail("STACK_GLOBAL operands are not strings");
        global(module->text, name->text);
        break;
      }
      case 'R': {  // REDUCE
        PickleValue* args = pop();
        PickleValue* callable = pop();
        push(call(callable, args, false));
        break;
      }
      case 0x81: {  // NEWOBJ
        PickleValue* args = pop();
        PickleValue* cls = pop();
        push(call(cls, args, true));
        break;
      }
      case 0x92: {  // NEWOBJ_EX
        PickleValue* kwargs = pop();
        PickleValue* args = pop();
        PickleValue* cls = pop();
        if (kwargs->kind != Kind::Dict || !kwargs->items.empty())
          fail("NEWOBJ_EX with keyword arguments");
        push(call(cls, args, true));
        break;
      }
      case 'b': {  // BUILD
        PickleValue* state = pop();
        PickleValue* target = top();
        if (target->kind == Kind::Object) {
          if (!target->items.empty()) fail("BUILD twice on one object");
          addItems(1);
          target->items.push_back(state);
        } else if (target->kind != Kind::Dict && target->kind != Kind::Tensor) {
          fail(std::string("BUILD on a ") + kindName(target->kind));
        }
        break;
      }
      case 'Q': {  // BINPERSID
        PickleValue* pid = pop();
        push(persistentLoad(pid));
        break;
      }
      case 'q':  // BINPUT
        memoPut(le(1));
        break;
      case 'r':  // LONG_BINPUT
        memoPut(le(4));
        break;
      case 0x94:  // MEMOIZE
        memoPut(memo.size());
        break;
      case 'h':
        memoGet(le(1));
        break;
      case 'j':
        memoGet(le(4));
        break;
      default: {
        static const char* hex = "0123456789abcdef";
        const std::string code = {'0', 'x', hex[op >> 4], hex[op & 15]};
        fail("unsupported pickle opcode " + code + " at offset " + std::to_string(m_offset));
      }
    }
  }
}

}  // namespace patchlens
