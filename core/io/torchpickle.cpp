#include "core/io/torchpickle.h"

#include "core/io/pickle.h"
#include "core/io/rawtensor.h"

#include <algorithm>
#include <array>
#include <memory>
#include <optional>

namespace attnviz::io {
namespace {

using Kind = PickleValue::Kind;

constexpr const char* kOrderedDict = "collections.OrderedDict";
constexpr const char* kRebuildTensor = "torch._utils._rebuild_tensor_v2";
constexpr const char* kRebuildParameter = "torch._utils._rebuild_parameter";
constexpr const char* kNamespace = "argparse.Namespace";
constexpr const char* kNumpyScalar = "numpy.core.multiarray.scalar";
constexpr const char* kNumpy2Scalar = "numpy._core.multiarray.scalar";  // NumPy 2's name
constexpr const char* kNumpyDType = "numpy.dtype";
constexpr const char* kEncode = "_codecs.encode";
constexpr std::size_t kMaxDims = 64;

// Globals that only ever become opaque Kind::Object values, never callables that run.
constexpr std::array<const char*, 8> kInertGlobals{
    kNamespace,           "copyreg._reconstructor",
    "builtins.object",
    "__builtin__.object",  // builtins under protocol 2's Python 2 names
    kNumpyScalar,         kNumpy2Scalar,
    kNumpyDType,          kEncode,
};

struct StorageType {
    const char* name;
    DType dtype;
};

constexpr std::array<StorageType, 10> kStorageTypes{{
    {"torch.FloatStorage", DType::F32},
    {"torch.HalfStorage", DType::F16},
    {"torch.BFloat16Storage", DType::BF16},
    {"torch.DoubleStorage", DType::F64},
    {"torch.LongStorage", DType::I64},
    {"torch.IntStorage", DType::I32},
    {"torch.ShortStorage", DType::I16},
    {"torch.CharStorage", DType::I8},
    {"torch.ByteStorage", DType::U8},
    {"torch.BoolStorage", DType::Bool},
}};

std::optional<DType> storageDType(const std::string& global)
{
    for (const auto& type : kStorageTypes)
        if (global == type.name)
            return type.dtype;
    return std::nullopt;
}

bool isInert(const std::string& global)
{
    return std::any_of(kInertGlobals.begin(), kInertGlobals.end(), [&](const char* name) { return global == name; });
}

bool isAllowedGlobal(const std::string& global)
{
    return global == kOrderedDict || global == kRebuildTensor || global == kRebuildParameter
           || storageDType(global).has_value() || isInert(global);
}

bool isGlobal(const PickleValue* value, const std::string& name)
{
    return value->kind == Kind::Global && value->text == name;
}

bool isObject(const PickleValue* value, const std::string& type)
{
    return value->kind == Kind::Object && value->text == type;
}

bool isNumpyScalar(const std::string& global)
{
    return global == kNumpyScalar || global == kNumpy2Scalar;
}

std::string describe(const PickleValue& value)
{
    if (value.kind == Kind::Object)
        return printable(value.text);
    return std::string("a ") + kindName(value.kind);
}

}  // namespace

const PickleValue* TorchPickle::global(const std::string& module, const std::string& name)
{
    // Refusing here, when the reference is read, means no later opcode can call it.
    const std::string full = module + "." + name;
    if (!isAllowedGlobal(full))
        m_nodes.fail("refusing to load: the checkpoint references the Python global '" + printable(full)
                     + "' (only tensors and plain containers are allowed)");
    PickleValue* value = m_nodes.make(Kind::Global);
    value->text = full;
    return value;
}

const PickleValue* TorchPickle::persistentLoad(const PickleValue& pid)
{
    const auto& items = pid.items;
    const bool valid = pid.kind == Kind::Tuple && items.size() == 5 && items[0]->isString()
                       && items[0]->text == "storage" && items[1]->kind == Kind::Global && storageDType(items[1]->text)
                       && items[2]->isString() && items[3]->isString() && items[4]->kind == Kind::Int
                       && items[4]->integer >= 0;
    if (!valid)
        m_nodes.malformed("unsupported persistent id (expected ('storage', type, key, "
                          "location, numel))");
    PickleValue* value = m_nodes.make(Kind::Storage);
    value->storage = std::make_unique<PickleStorage>(
        PickleStorage{*storageDType(items[1]->text), items[2]->text, items[3]->text, items[4]->integer});
    return value;
}

const PickleValue* TorchPickle::reduce(const PickleValue& callable, const PickleValue& args)
{
    if (callable.kind != Kind::Global || args.kind != Kind::Tuple)
        m_nodes.malformed("REDUCE needs a global and a tuple of arguments");
    if (callable.text == kOrderedDict) {
        if (!args.items.empty())
            m_nodes.malformed("collections.OrderedDict with arguments is not supported");
        return m_nodes.make(Kind::Dict);
    }
    if (callable.text == kRebuildTensor)
        return rebuildTensor(args);
    if (callable.text == kRebuildParameter)
        return rebuildParameter(args);
    return reduceInert(callable.text, args);
}

const PickleValue* TorchPickle::reduceInert(const std::string& callable, const PickleValue& args)
{
    // Each call is accepted only in the exact shape Python's pickler writes, so the
    // inert globals cannot be combined into anything else.
    const auto& a = args.items;
    if (callable == "copyreg._reconstructor") {
        // _reconstructor(cls, object, None) is object.__new__(cls), protocols 0 and 1.
        if (a.size() != 3 || !isGlobal(a[0], kNamespace)
            || !(isGlobal(a[1], "builtins.object") || isGlobal(a[1], "__builtin__.object")) || a[2]->kind != Kind::None)
            badArguments(callable);
        return makeObject(kNamespace);
    }
    if (callable == kNumpyDType) {
        // dtype('f8', align, copy), the flags as bools (old NumPy: ints); its layout
        // follows in a BUILD.
        auto isFlag = [](const PickleValue* v) { return v->kind == Kind::Bool || v->kind == Kind::Int; };
        if (a.size() != 3 || !a[0]->isString() || !isFlag(a[1]) || !isFlag(a[2]))
            badArguments(callable);
        return makeObject(kNumpyDType);
    }
    if (isNumpyScalar(callable)) {
        if (a.size() != 2 || !isObject(a[0], kNumpyDType) || !(a[1]->kind == Kind::Bytes || isObject(a[1], kEncode)))
            badArguments(callable);
        return makeObject(kNumpyScalar);
    }
    if (callable == kEncode) {
        // encode('raw bytes as text', 'latin1'): protocol 2 has no bytes opcode.
        if (a.size() != 2 || !a[0]->isString() || !a[1]->isString())
            badArguments(callable);
        return makeObject(kEncode);
    }
    m_nodes.malformed("calling " + printable(callable) + " is not supported");
}

const PickleValue* TorchPickle::newObject(const PickleValue& type, const PickleValue& args)
{
    // NEWOBJ is cls.__new__(cls, *args): how protocol 2 writes an argparse.Namespace.
    if (type.kind != Kind::Global || args.kind != Kind::Tuple)
        m_nodes.malformed("NEWOBJ needs a global and a tuple of arguments");
    if (type.text != kNamespace)
        m_nodes.malformed("creating " + printable(type.text) + " with NEWOBJ is not supported");
    if (!args.items.empty())
        badArguments(type.text);
    return makeObject(kNamespace);
}

void TorchPickle::build(const PickleValue& target, const PickleValue& state)
{
    // An OrderedDict's state is its instance __dict__ (e.g. state_dict's _metadata), a
    // Namespace's its arguments, a dtype's its layout tuple: none matter to the tensors,
    // so the state is dropped here rather than walked.
    const bool expected = target.kind == Kind::Dict || (isObject(&target, kNamespace) && state.kind == Kind::Dict)
                          || (isObject(&target, kNumpyDType) && state.kind == Kind::Tuple);
    if (!expected)
        m_nodes.malformed("BUILD on " + describe(target) + " with " + describe(state) + " is not supported");
}

const PickleValue* TorchPickle::rebuildTensor(const PickleValue& args)
{
    // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
    const auto& a = args.items;
    auto isIntTuple = [](const PickleValue* v) {
        return v->kind == Kind::Tuple && v->items.size() <= kMaxDims
               && std::all_of(v->items.begin(), v->items.end(),
                              [](const PickleValue* item) { return item->kind == Kind::Int && item->integer >= 0; });
    };
    const bool valid = (a.size() == 6 || a.size() == 7) && a[0]->kind == Kind::Storage && a[1]->kind == Kind::Int
                       && a[1]->integer >= 0 && isIntTuple(a[2]) && isIntTuple(a[3])
                       && a[2]->items.size() == a[3]->items.size();
    if (!valid)
        badArguments(kRebuildTensor);
    auto tensor = std::make_unique<PickleTensor>();
    tensor->storage = a[0];
    tensor->storageOffset = a[1]->integer;
    for (std::size_t i = 0; i < a[2]->items.size(); ++i) {
        tensor->size.push_back(a[2]->items[i]->integer);
        tensor->stride.push_back(a[3]->items[i]->integer);
    }
    PickleValue* value = m_nodes.make(Kind::Tensor);
    value->tensor = std::move(tensor);
    return value;
}

const PickleValue* TorchPickle::rebuildParameter(const PickleValue& args)
{
    // (data, requires_grad, backward_hooks): the parameter is just its tensor.
    if (args.items.size() < 2 || args.items.size() > 3 || args.items[0]->kind != Kind::Tensor)
        badArguments(kRebuildParameter);
    return args.items[0];
}

const PickleValue* TorchPickle::makeObject(const std::string& type)
{
    PickleValue* value = m_nodes.make(Kind::Object);
    value->text = type;
    return value;
}

void TorchPickle::badArguments(const std::string& callable)
{
    m_nodes.malformed("unexpected arguments to " + printable(callable));
}

}  // namespace attnviz::io
