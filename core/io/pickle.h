#pragma once

#include "core/io/bytes.h"

#include "core/io/dtype.h"
#include "core/io/torchpickle.h"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace attnviz::io {

class PickleValue;

// A persistent id ('storage', torch.<T>Storage, key, location, numel) of torch.save:
// the storage's bytes live in the zip entry <top>/data/<key>.
struct PickleStorage {
    DType dtype = DType::F32;
    std::string key;
    std::string location;    // "cpu", "cuda:0", ...
    std::int64_t numel = 0;  // as the pickle claims it; the zip entry is authoritative
};

// A call to torch._utils._rebuild_tensor_v2: a strided view into a storage.
struct PickleTensor {
    const PickleValue* storage = nullptr;  // Kind::Storage
    std::int64_t storageOffset = 0;        // in elements
    std::vector<std::int64_t> size;
    std::vector<std::int64_t> stride;  // in elements, same length as size
};

// One node of an unpickled object tree. Nodes are owned by the Unpickler that made
// them. The memo lets a pickle refer to a node twice, and even build cycles, so walk
// the tree only as deep as you need.
class PickleValue {
public:
    enum class Kind {
        None,
        Bool,
        Int,
        BigInt,
        Float,
        String,
        Bytes,
        Tuple,
        List,
        Dict,
        Global,   // an allow-listed Python global that was not called
        Object,   // an opaque instance of an allow-listed inert global (text names it)
        Storage,  // see storage()
        Tensor,   // see tensor()
    };

    Kind kind = Kind::None;
    bool boolean = false;
    std::int64_t integer = 0;
    double real = 0.0;
    std::string text;                       // String; Bytes (raw); Global and Object: "module.name"
    std::vector<const PickleValue*> items;  // Tuple, List
    // Dict, in pickle order; a key may repeat, the last one wins (as in Python).
    std::vector<std::pair<const PickleValue*, const PickleValue*>> entries;
    std::unique_ptr<PickleStorage> storage;
    std::unique_ptr<PickleTensor> tensor;

    bool isString() const { return kind == Kind::String; }
    // The value of the last entry whose key is the string `key`, or nullptr.
    const PickleValue* find(const std::string& key) const;
};

const char* kindName(PickleValue::Kind kind);  // "dict", "tensor", ... for messages

// A restricted unpickler for the data.pkl of torch.save (protocol 2; the protocol 3-4
// bytes and framing opcodes are accepted too). It executes nothing: TorchPickle
// decides which globals may be referenced and what REDUCE, NEWOBJ, BUILD and
// BINPERSID build from them. Any other global, opcode or shape is a FormatError,
// thrown as soon as it is read. Stack, memo, nesting and node count are bounded, so
// hostile input cannot exhaust memory.
class Unpickler {
public:
    // `context` starts every error message (typically the file path).
    explicit Unpickler(std::string context);
    Unpickler(const Unpickler&) = delete;
    Unpickler& operator=(const Unpickler&) = delete;

    // The returned tree stays valid while this Unpickler lives.
    const PickleValue& load(const std::uint8_t* data, std::size_t size);

    static constexpr std::size_t kMaxNesting = 1000;    // open MARKs
    static constexpr std::size_t kMaxMemo = 1 << 20;    // memo slots
    static constexpr std::size_t kMaxValues = 1 << 20;  // nodes, ~120 bytes each

private:
    class Reader;
    friend class TorchPickle;  // makes nodes and reports errors through this object

    bool step(Reader& in);  // one opcode; false at STOP
    void loadScalar(std::uint8_t op, Reader& in);
    PickleValue* make(PickleValue::Kind kind);
    PickleValue* mutableNode(const PickleValue* value);
    void push(const PickleValue* value);
    const PickleValue* pop();
    const PickleValue* top();
    std::vector<const PickleValue*> popToMark();
    void memoize(std::uint64_t index);
    const PickleValue* recall(std::uint64_t index);
    void setItems(const PickleValue* dict, const std::vector<const PickleValue*>& items);
    void appendItems(const PickleValue* list, const std::vector<const PickleValue*>& items);
    const PickleValue* makeTuple(std::vector<const PickleValue*> items);
    const PickleValue* makeInt(std::int64_t value);
    const PickleValue* makeSmallInt(std::uint8_t value);
    const PickleValue* makeLong(const std::uint8_t* bytes, std::size_t size);
    const PickleValue* makeString(std::string text);
    const PickleValue* makeBytes(std::string bytes);
    [[noreturn]] void fail(const std::string& problem) const;
    [[noreturn]] void malformed(const std::string& problem) const;

    std::string m_context;
    std::deque<PickleValue> m_values;  // owns every node; deque keeps pointers stable
    std::vector<const PickleValue*> m_stack;
    std::vector<std::size_t> m_marks;  // stack sizes at each open MARK
    std::vector<const PickleValue*> m_memo;
    std::size_t m_offset = 0;  // of the opcode being run, for messages
    const PickleValue* m_none = nullptr;
    const PickleValue* m_true = nullptr;
    const PickleValue* m_false = nullptr;
    std::vector<const PickleValue*> m_smallInts;  // BININT1 values, made once
    TorchPickle m_torch{*this};
};

}  // namespace attnviz::io
