#include "core/io/pickle.h"

#include "core/io/rawtensor.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace attnviz::io {
namespace {

namespace op {
constexpr std::uint8_t Proto = 0x80, Frame = 0x95, Stop = '.';
constexpr std::uint8_t None = 'N', NewTrue = 0x88, NewFalse = 0x89;
constexpr std::uint8_t BinInt = 'J', BinInt1 = 'K', BinInt2 = 'M', Long1 = 0x8a, Long4 = 0x8b;
constexpr std::uint8_t BinFloat = 'G';
constexpr std::uint8_t BinUnicode = 'X', ShortBinUnicode = 0x8c, BinUnicode8 = 0x8d;
constexpr std::uint8_t BinString = 'T', ShortBinString = 'U';
constexpr std::uint8_t BinBytes = 'B', ShortBinBytes = 'C', BinBytes8 = 0x8e;
constexpr std::uint8_t EmptyDict = '}', EmptyList = ']', EmptyTuple = ')';
constexpr std::uint8_t Mark = '(', Tuple = 't', Tuple1 = 0x85, Tuple2 = 0x86, Tuple3 = 0x87;
constexpr std::uint8_t Append = 'a', Appends = 'e', SetItem = 's', SetItems = 'u';
constexpr std::uint8_t BinPut = 'q', LongBinPut = 'r', Memoize = 0x94;
constexpr std::uint8_t BinGet = 'h', LongBinGet = 'j';
constexpr std::uint8_t Global = 'c', StackGlobal = 0x93;
constexpr std::uint8_t Reduce = 'R', NewObj = 0x81, Build = 'b', BinPersId = 'Q';
}  // namespace op

constexpr std::size_t kMaxGlobalNameLength = 1024;

std::string hexByte(std::uint8_t value)
{
    char text[8];
    std::snprintf(text, sizeof text, "0x%02x", value);
    return text;
}

}  // namespace

const char* kindName(PickleValue::Kind kind)
{
    using Kind = PickleValue::Kind;
    switch (kind) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::BigInt: return "big int";
    case Kind::Float: return "float";
    case Kind::String: return "string";
    case Kind::Bytes: return "bytes";
    case Kind::Tuple: return "tuple";
    case Kind::List: return "list";
    case Kind::Dict: return "dict";
    case Kind::Global: return "global";
    case Kind::Object: return "object";
    case Kind::Storage: return "storage";
    case Kind::Tensor: return "tensor";
    }
    return "value";
}

const PickleValue* PickleValue::find(const std::string& key) const
{
    for (auto it = entries.rbegin(); it != entries.rend(); ++it)
        if (it->first->isString() && it->first->text == key)
            return it->second;
    return nullptr;
}

// Bounds-checked access to the pickle bytes: every length read from the data is
// checked against what remains before anything is allocated for it.
class Unpickler::Reader {
public:
    Reader(const std::uint8_t* data, std::size_t size, const Unpickler& owner)
        : m_data(data)
        , m_size(size)
        , m_owner(owner)
    {
    }

    std::size_t offset() const { return m_pos; }

    const std::uint8_t* take(std::uint64_t count)
    {
        if (count > m_size - m_pos)
            m_owner.malformed("the data ends in the middle of an opcode (truncated?)");
        const std::uint8_t* start = m_data + m_pos;
        m_pos += count;
        return start;
    }

    std::uint8_t byte() { return *take(1); }

    std::uint64_t uintLE(int width)
    {
        const std::uint8_t* p = take(width);
        std::uint64_t value = 0;
        for (int i = width; i-- > 0;)
            value = (value << 8) | p[i];
        return value;
    }

    std::string text(std::uint64_t length)
    {
        const std::uint8_t* p = take(length);
        return std::string(reinterpret_cast<const char*>(p), length);
    }

    std::string line()
    {
        const std::size_t limit = std::min(m_size - m_pos, kMaxGlobalNameLength);
        const auto* start = m_data + m_pos;
        const auto* end = static_cast<const std::uint8_t*>(std::memchr(start, '\n', limit));
        if (!end)
            m_owner.malformed("GLOBAL name is unterminated or too long");
        std::string result(reinterpret_cast<const char*>(start), end - start);
        m_pos += result.size() + 1;
        return result;
    }

private:
    const std::uint8_t* m_data;
    std::size_t m_size;
    std::size_t m_pos = 0;
    const Unpickler& m_owner;
};

Unpickler::Unpickler(std::string context)
    : m_context(std::move(context))
{
    m_none = make(PickleValue::Kind::None);
    PickleValue* yes = make(PickleValue::Kind::Bool);
    yes->boolean = true;
    m_true = yes;
    m_false = make(PickleValue::Kind::Bool);
    m_smallInts.assign(256, nullptr);
}

const PickleValue& Unpickler::load(const std::uint8_t* data, std::size_t size)
{
    m_stack.clear();
    m_marks.clear();
    m_memo.clear();
    Reader in(data, size, *this);
    while (step(in)) { }
    return *pop();
}

bool Unpickler::step(Reader& in)
{
    m_offset = in.offset();
    const std::uint8_t code = in.byte();
    switch (code) {
    case op::Proto:
        if (in.byte() > 5)
            malformed("unsupported pickle protocol");
        break;
    case op::Frame:
        in.take(8);  // a framing hint for streaming readers; the data is all here
        break;
    case op::Stop: return false;
    case op::Mark:
        if (m_marks.size() >= kMaxNesting)
            malformed("nested deeper than " + std::to_string(kMaxNesting) + " levels");
        m_marks.push_back(m_stack.size());
        break;
    case op::EmptyDict: push(make(PickleValue::Kind::Dict)); break;
    case op::EmptyList: push(make(PickleValue::Kind::List)); break;
    case op::EmptyTuple: push(makeTuple({})); break;
    case op::Tuple: push(makeTuple(popToMark())); break;
    case op::Tuple1:
    case op::Tuple2:
    case op::Tuple3: {
        std::vector<const PickleValue*> items(code - op::Tuple1 + 1);
        for (auto it = items.rbegin(); it != items.rend(); ++it)
            *it = pop();
        push(makeTuple(std::move(items)));
        break;
    }
    case op::Append: {
        const PickleValue* item = pop();
        appendItems(top(), {item});
        break;
    }
    case op::Appends: {
        auto items = popToMark();
        appendItems(top(), items);
        break;
    }
    case op::SetItem: {
        const PickleValue* value = pop();
        const PickleValue* key = pop();
        setItems(top(), {key, value});
        break;
    }
    case op::SetItems: {
        auto items = popToMark();
        setItems(top(), items);
        break;
    }
    case op::BinPut: memoize(in.byte()); break;
    case op::LongBinPut: memoize(in.uintLE(4)); break;
    case op::Memoize: memoize(m_memo.size()); break;
    case op::BinGet: push(recall(in.byte())); break;
    case op::LongBinGet: push(recall(in.uintLE(4))); break;
    case op::Global: {
        const std::string module = in.line();
        push(m_torch.global(module, in.line()));
        break;
    }
    case op::StackGlobal: {
        const PickleValue* name = pop();
        const PickleValue* module = pop();
        if (!name->isString() || !module->isString())
            malformed("STACK_GLOBAL needs two strings");
        push(m_torch.global(module->text, name->text));
        break;
    }
    case op::Reduce: {
        const PickleValue* args = pop();
        const PickleValue* callable = pop();
        push(m_torch.reduce(*callable, *args));
        break;
    }
    case op::NewObj: {
        const PickleValue* args = pop();
        const PickleValue* type = pop();
        push(m_torch.newObject(*type, *args));
        break;
    }
    case op::Build: {
        const PickleValue* state = pop();
        m_torch.build(*top(), *state);
        break;
    }
    case op::BinPersId: push(m_torch.persistentLoad(*pop())); break;
    default: loadScalar(code, in); break;
    }
    return true;
}

void Unpickler::loadScalar(std::uint8_t code, Reader& in)
{
    switch (code) {
    case op::None: push(m_none); break;
    case op::NewTrue: push(m_true); break;
    case op::NewFalse: push(m_false); break;
    case op::BinInt: push(makeInt(static_cast<std::int32_t>(in.uintLE(4)))); break;
    case op::BinInt1: push(makeSmallInt(in.byte())); break;
    case op::BinInt2: push(makeInt(static_cast<std::int64_t>(in.uintLE(2)))); break;
    case op::Long1: {
        const std::size_t size = in.byte();
        push(makeLong(in.take(size), size));
        break;
    }
    case op::Long4: {
        const auto size = static_cast<std::int32_t>(in.uintLE(4));
        if (size < 0)
            malformed("negative LONG4 length");
        push(makeLong(in.take(size), static_cast<std::size_t>(size)));
        break;
    }
    case op::BinFloat: {
        const std::uint8_t* p = in.take(8);
        std::uint64_t bits = 0;
        for (int i = 0; i < 8; ++i)  // big-endian, unlike every other number in pickle
            bits = (bits << 8) | p[i];
        PickleValue* value = make(PickleValue::Kind::Float);
        std::memcpy(&value->real, &bits, sizeof bits);
        push(value);
        break;
    }
    case op::BinUnicode: push(makeString(in.text(in.uintLE(4)))); break;
    case op::BinUnicode8: push(makeString(in.text(in.uintLE(8)))); break;
    case op::ShortBinUnicode:
    case op::ShortBinString: push(makeString(in.text(in.byte()))); break;
    case op::BinString: {
        const auto length = static_cast<std::int32_t>(in.uintLE(4));
        if (length < 0)
            malformed("negative BINSTRING length");
        push(makeString(in.text(static_cast<std::uint64_t>(length))));
        break;
    }
    case op::BinBytes: push(makeBytes(in.text(in.uintLE(4)))); break;
    case op::ShortBinBytes: push(makeBytes(in.text(in.byte()))); break;
    case op::BinBytes8: push(makeBytes(in.text(in.uintLE(8)))); break;
    default: malformed("unsupported opcode " + hexByte(code) + " (only the opcodes torch.save writes are accepted)");
    }
}

PickleValue* Unpickler::make(PickleValue::Kind kind)
{
    if (m_values.size() >= kMaxValues)
        fail("the pickle data holds more than " + std::to_string(kMaxValues) + " objects; refusing to load it");
    m_values.emplace_back();
    m_values.back().kind = kind;
    return &m_values.back();
}

PickleValue* Unpickler::mutableNode(const PickleValue* value)
{
    // Every node lives in m_values, which is not const: handing out const pointers only
    // keeps callers from editing the tree.
    return const_cast<PickleValue*>(value);
}

void Unpickler::push(const PickleValue* value)
{
    if (m_stack.size() >= kMaxValues)
        malformed("the stack is too deep");
    m_stack.push_back(value);
}

const PickleValue* Unpickler::pop()
{
    const PickleValue* value = top();
    m_stack.pop_back();
    return value;
}

const PickleValue* Unpickler::top()
{
    const std::size_t floor = m_marks.empty() ? 0 : m_marks.back();
    if (m_stack.size() <= floor)
        malformed("stack underflow");
    return m_stack.back();
}

std::vector<const PickleValue*> Unpickler::popToMark()
{
    if (m_marks.empty())
        malformed("no MARK to pop to");
    const std::size_t base = m_marks.back();
    m_marks.pop_back();
    std::vector<const PickleValue*> items(m_stack.begin() + base, m_stack.end());
    m_stack.resize(base);
    return items;
}

void Unpickler::memoize(std::uint64_t index)
{
    if (index >= kMaxMemo)
        malformed("memo index " + std::to_string(index) + " is too large");
    if (index >= m_memo.size())
        m_memo.resize(index + 1, nullptr);
    m_memo[index] = top();
}

const PickleValue* Unpickler::recall(std::uint64_t index)
{
    if (index >= m_memo.size() || !m_memo[index])
        malformed("memo slot " + std::to_string(index) + " is empty");
    return m_memo[index];
}

void Unpickler::setItems(const PickleValue* dict, const std::vector<const PickleValue*>& items)
{
    if (dict->kind != PickleValue::Kind::Dict)
        malformed(std::string("SETITEM(S) on a ") + kindName(dict->kind));
    if (items.size() % 2 != 0)
        malformed("SETITEMS with an odd number of items");
    auto& entries = mutableNode(dict)->entries;
    for (std::size_t i = 0; i < items.size(); i += 2)
        entries.emplace_back(items[i], items[i + 1]);
}

void Unpickler::appendItems(const PickleValue* list, const std::vector<const PickleValue*>& items)
{
    if (list->kind != PickleValue::Kind::List)
        malformed(std::string("APPEND(S) on a ") + kindName(list->kind));
    auto& target = mutableNode(list)->items;
    target.insert(target.end(), items.begin(), items.end());
}

const PickleValue* Unpickler::makeTuple(std::vector<const PickleValue*> items)
{
    PickleValue* value = make(PickleValue::Kind::Tuple);
    value->items = std::move(items);
    return value;
}

const PickleValue* Unpickler::makeInt(std::int64_t number)
{
    PickleValue* value = make(PickleValue::Kind::Int);
    value->integer = number;
    return value;
}

const PickleValue* Unpickler::makeSmallInt(std::uint8_t number)
{
    // Sizes, strides and offsets repeat endlessly: share their nodes.
    if (!m_smallInts[number])
        m_smallInts[number] = makeInt(number);
    return m_smallInts[number];
}

const PickleValue* Unpickler::makeLong(const std::uint8_t* bytes, std::size_t size)
{
    // Little-endian two's complement of any length; wider than 64 bits stays opaque.
    if (size == 0)
        return makeInt(0);
    const std::uint8_t fill = (bytes[size - 1] & 0x80) ? 0xff : 0x00;
    const std::size_t width = std::min<std::size_t>(size, 8);
    for (std::size_t i = width; i < size; ++i)
        if (bytes[i] != fill)
            return make(PickleValue::Kind::BigInt);
    if (size > 8 && (bytes[7] & 0x80) != (fill & 0x80))
        return make(PickleValue::Kind::BigInt);
    std::uint64_t bits = fill ? ~std::uint64_t(0) : 0;
    for (std::size_t i = width; i-- > 0;)  // the fill's ones that stay on top sign-extend
        bits = (bits << 8) | bytes[i];
    std::int64_t number;
    std::memcpy(&number, &bits, sizeof number);
    return makeInt(number);
}

const PickleValue* Unpickler::makeString(std::string text)
{
    PickleValue* value = make(PickleValue::Kind::String);
    value->text = std::move(text);
    return value;
}

const PickleValue* Unpickler::makeBytes(std::string bytes)
{
    PickleValue* value = make(PickleValue::Kind::Bytes);
    value->text = std::move(bytes);
    return value;
}

void Unpickler::fail(const std::string& problem) const
{
    throw FormatError(m_context + ": " + problem);
}

void Unpickler::malformed(const std::string& problem) const
{
    fail("malformed pickle data at byte " + std::to_string(m_offset) + ": " + problem);
}

}  // namespace attnviz::io
