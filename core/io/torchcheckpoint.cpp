#include "core/io/torchcheckpoint.h"

#include "core/io/bytes.h"

#include "core/io/pickle.h"
#include "core/io/zipreader.h"

#include <array>
#include <cstring>
#include <fstream>
#include <limits>

namespace attnviz::io {
namespace {

constexpr std::array<const char*, 4> kWrapperKeys{"model", "state_dict", "teacher", "student"};
// Views and shared storages legitimately copy some bytes more than once; far more
// than the file holds means a hostile view (say, a zero stride over a huge size).
constexpr std::uint64_t kMaxExpansion = 8;
constexpr std::uint64_t kMaxExpansionSlack = 16 << 20;

bool addOverflows(std::uint64_t a, std::uint64_t b, std::uint64_t& sum)
{
    if (a > std::numeric_limits<std::uint64_t>::max() - b)
        return true;
    sum = a + b;
    return false;
}

// Pre-1.6 torch.save wrote a bare pickle stream (PROTO opcode first), not a zip.
void refuseLegacyFormat(const std::string& path)
{
    std::ifstream file(path, std::ios::binary);
    if (!file)
        throw FormatError(path + ": cannot open the file");
    char head[2] = {};
    file.read(head, sizeof head);
    if (file.gcount() == 2 && static_cast<unsigned char>(head[0]) == 0x80 && head[1] <= 5)
        throw FormatError(path
                          + " is a legacy (pre-1.6) torch.save file; re-save it with "
                            "torch.save(obj, path) from PyTorch >= 1.6 or convert it to "
                            "safetensors");
}

// The archive's top folder is named after the file torch.save first wrote, so it
// varies: "archive/", "model/", ...
std::string archivePrefix(const ZipReader& zip)
{
    for (const auto& entry : zip.entries())
        if (endsWith(entry.name, "/data.pkl")) {
            const std::string prefix = entry.name.substr(0, entry.name.size() - 8);
            if (zip.find(prefix + "constants.pkl"))
                throw FormatError(zip.path()
                                  + " is a TorchScript archive (torch.jit.save), not a "
                                    "state dict; save model.state_dict() with torch.save");
            return prefix;
        }
    throw FormatError(zip.path()
                      + " is a zip archive but not a torch.save checkpoint "
                        "(it has no data.pkl)");
}

void checkByteOrder(ZipReader& zip, const std::string& prefix)
{
    const ZipEntry* entry = zip.find(prefix + "byteorder");
    if (!entry)
        return;  // written since PyTorch 2.1; older files are little-endian
    if (entry->uncompressedSize > 16)
        throw FormatError(zip.path() + ": the byteorder entry is malformed");
    const auto bytes = zip.read(*entry);
    if (std::string(bytes.begin(), bytes.end()) != "little")
        throw FormatError(zip.path() + ": big-endian checkpoints are not supported");
}

bool holdsTensor(const PickleValue& dict)
{
    for (const auto& [key, value] : dict.entries)
        if (value->kind == PickleValue::Kind::Tensor)
            return true;
    return false;
}

// A training checkpoint keeps the state dict under one of a few keys, next to
// epochs, optimizer state and arguments.
const PickleValue& selectStateDict(const PickleValue& root, const std::string& path)
{
    if (root.kind != PickleValue::Kind::Dict)
        throw FormatError(path + ": the checkpoint holds a " + kindName(root.kind) + ", not a dict of tensors");
    if (holdsTensor(root))
        return root;
    for (const char* key : kWrapperKeys) {
        const PickleValue* inner = root.find(key);
        if (inner && inner->kind == PickleValue::Kind::Dict && holdsTensor(*inner))
            return *inner;
    }
    return root;
}

std::string keyList(const PickleValue& dict)
{
    constexpr std::size_t kMaxKeys = 10;
    std::string list;
    std::size_t count = 0;
    for (const auto& [key, value] : dict.entries) {
        if (!key->isString())
            continue;
        if (count++ == kMaxKeys) {
            list += ", ...";
            break;
        }
        list += (list.empty() ? "" : ", ") + printable(key->text);
    }
    return list.empty() ? "none" : list;
}

bool isContiguous(const PickleTensor& tensor)
{
    std::int64_t expected = 1;
    for (std::size_t d = tensor.size.size(); d-- > 0;) {
        if (tensor.size[d] != 1 && tensor.stride[d] != expected)
            return false;
        expected *= tensor.size[d];
    }
    return true;
}

// Steps a row-major multi-index, keeping `source` (in elements) in step with it;
// false once every index has been visited.
bool advance(std::vector<std::int64_t>& index, const std::vector<std::int64_t>& size,
             const std::vector<std::int64_t>& stride, std::uint64_t& source)
{
    for (std::size_t d = index.size(); d-- > 0;) {
        if (++index[d] < size[d]) {
            source += stride[d];
            return true;
        }
        source -= (size[d] - 1) * stride[d];
        index[d] = 0;
    }
    return false;
}

// Copies a strided view out of `window` (the storage from the view's first element
// on) into row-major order; the innermost dimension moves as one run when its stride
// is 1.
void gather(const std::uint8_t* window, const PickleTensor& tensor, std::size_t elementSize, std::uint8_t* dest)
{
    std::vector<std::int64_t> size = tensor.size;
    std::vector<std::int64_t> stride = tensor.stride;
    std::size_t runBytes = elementSize;
    if (!size.empty() && stride.back() == 1) {
        runBytes *= static_cast<std::size_t>(size.back());
        size.pop_back();
        stride.pop_back();
    }
    std::vector<std::int64_t> index(size.size(), 0);
    std::uint64_t source = 0;
    do {
        std::memcpy(dest, window + source * elementSize, runBytes);
        dest += runBytes;
    } while (advance(index, size, stride, source));
}

class TensorBuilder {
public:
    TensorBuilder(ZipReader& zip, const std::string& prefix)
        : m_zip(zip)
        , m_dataDir(prefix + "data/")
        , m_budget(zip.fileSize() * kMaxExpansion + kMaxExpansionSlack)
    {
    }

    RawTensor build(const std::string& name, const PickleTensor& tensor)
    {
        const PickleStorage& storage = *tensor.storage->storage;
        RawTensor out;
        out.dtype = storage.dtype;
        out.shape = tensor.size;
        const std::uint64_t elementSize = dtypeSize(storage.dtype);
        const std::uint64_t numel = elementCount(name, tensor);
        if (numel == 0)
            return out;
        const ZipEntry& entry = storageEntry(name, storage);
        const std::uint64_t last = lastElement(name, tensor);
        const std::uint64_t storageNumel = entry.uncompressedSize / elementSize;
        if (last >= storageNumel)
            fail(name, "has shape " + shapeString(tensor.size) + " with strides " + shapeString(tensor.stride)
                           + " and offset " + std::to_string(tensor.storageOffset) + ", which reaches element "
                           + std::to_string(last) + ", outside its storage '" + printable(storage.key) + "' of "
                           + std::to_string(storageNumel) + " elements");
        out.bytes = ByteBuffer(reserve(name, numel * elementSize));
        const std::uint64_t start = static_cast<std::uint64_t>(tensor.storageOffset);
        if (isContiguous(tensor)) {
            m_zip.read(entry, start * elementSize, out.bytes.data(), out.bytes.size());
        } else {
            std::vector<std::uint8_t> window((last - start + 1) * elementSize);
            m_zip.read(entry, start * elementSize, window.data(), window.size());
            gather(window.data(), tensor, elementSize, out.bytes.data());
        }
        return out;
    }

private:
    std::uint64_t elementCount(const std::string& name, const PickleTensor& tensor) const
    {
        std::uint64_t numel = 1;
        for (auto extent : tensor.size)
            if (multiplyOverflows(numel, static_cast<std::uint64_t>(extent), numel))
                fail(name, "has too many elements");
        std::uint64_t bytes = 0;
        if (multiplyOverflows(numel, dtypeSize(tensor.storage->storage->dtype), bytes))
            fail(name, "has too many elements");
        return numel;
    }

    // The highest storage index the view touches; strides are never negative, so the
    // lowest one is the storage offset.
    std::uint64_t lastElement(const std::string& name, const PickleTensor& tensor) const
    {
        std::uint64_t last = static_cast<std::uint64_t>(tensor.storageOffset);
        for (std::size_t d = 0; d < tensor.size.size(); ++d) {
            std::uint64_t reach = 0;
            if (multiplyOverflows(static_cast<std::uint64_t>(tensor.size[d] - 1),
                                  static_cast<std::uint64_t>(tensor.stride[d]), reach)
                || addOverflows(last, reach, last))
                fail(name, "has strides that overflow");
        }
        return last;
    }

    const ZipEntry& storageEntry(const std::string& name, const PickleStorage& storage) const
    {
        const ZipEntry* entry = m_zip.find(m_dataDir + storage.key);
        if (!entry)
            fail(name, "refers to storage '" + printable(storage.key) + "', which the archive does not contain");
        return *entry;
    }

    std::uint64_t reserve(const std::string& name, std::uint64_t bytes)
    {
        if (bytes > m_budget)
            fail(name, "would expand the tensors to more than " + std::to_string(kMaxExpansion)
                           + " times the file size; refusing to allocate that much");
        m_budget -= bytes;
        return bytes;
    }

    [[noreturn]] void fail(const std::string& name, const std::string& problem) const
    {
        throw FormatError(m_zip.path() + ": tensor '" + printable(name) + "' " + problem);
    }

    ZipReader& m_zip;
    std::string m_dataDir;
    std::uint64_t m_budget;
};

}  // namespace

TensorMap readTorchCheckpoint(const std::string& path)
{
    refuseLegacyFormat(path);
    ZipReader zip(path);
    const std::string prefix = archivePrefix(zip);
    checkByteOrder(zip, prefix);
    const std::vector<std::uint8_t> pickle = zip.read(*zip.find(prefix + "data.pkl"));

    Unpickler unpickler(path);
    const PickleValue& stateDict = selectStateDict(unpickler.load(pickle.data(), pickle.size()), path);

    TensorBuilder builder(zip, prefix);
    TensorMap tensors;
    for (const auto& [key, value] : stateDict.entries)
        if (key->isString() && value->kind == PickleValue::Kind::Tensor)
            tensors[key->text] = builder.build(key->text, *value->tensor);
    if (tensors.empty())
        throw FormatError(path + ": the checkpoint holds no tensors (top-level keys: " + keyList(stateDict) + ")");
    return tensors;
}

}  // namespace attnviz::io
