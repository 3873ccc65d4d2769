#include "core/io/safetensors.h"

#include "core/io/atomicfile.h"
#include "core/io/bytes.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>

namespace attnviz::io {
namespace {

constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;

struct Entry {
    std::string name;
    RawTensor tensor;  // bytes not yet read
    std::uint64_t begin = 0;
    std::uint64_t end = 0;
};

[[noreturn]] void fail(const std::string& path, const std::string& why)
{
    throw FormatError("'" + path + "' is not a valid safetensors file: " + why);
}

// numel * elementSize, refusing overflow of the 64-bit byte count.
std::uint64_t checkedByteCount(const std::vector<std::int64_t>& shape, std::size_t elementSize,
                               bool& overflow)
{
    std::uint64_t n = elementSize;
    overflow = false;
    for (auto d : shape) {
        if (d != 0 && n > std::numeric_limits<std::uint64_t>::max() / std::uint64_t(d))
            overflow = true;
        n *= std::uint64_t(d);
    }
    return n;
}

Entry parseEntry(const std::string& path, const std::string& name, const nlohmann::json& j)
{
    if (!j.is_object() || !j.contains("dtype") || !j.contains("shape") || !j.contains("data_offsets"))
        fail(path, "entry '" + printable(name) + "' needs dtype, shape and data_offsets");
    const auto& jt = j["dtype"];
    const auto dtype = jt.is_string() ? dtypeFromName(jt.get<std::string>()) : std::nullopt;
    if (!dtype)
        fail(path, "entry '" + printable(name) + "' has an unknown dtype " + jt.dump());
    Entry e;
    e.name = name;
    e.tensor.dtype = *dtype;
    const auto& js = j["shape"];
    if (!js.is_array())
        fail(path, "entry '" + printable(name) + "' has a shape that is not a list");
    for (const auto& d : js) {
        if (!d.is_number_unsigned() || d.get<std::uint64_t>() > std::uint64_t(std::numeric_limits<std::int64_t>::max()))
            fail(path, "entry '" + printable(name) + "' has a bad dimension " + d.dump());
        e.tensor.shape.push_back(d.get<std::int64_t>());
    }
    const auto& jo = j["data_offsets"];
    if (!jo.is_array() || jo.size() != 2 || !jo[0].is_number_unsigned() || !jo[1].is_number_unsigned())
        fail(path, "entry '" + printable(name) + "' needs data_offsets [begin, end]");
    e.begin = jo[0].get<std::uint64_t>();
    e.end = jo[1].get<std::uint64_t>();
    if (e.end < e.begin)
        fail(path, "entry '" + printable(name) + "' ends before it begins");
    bool overflow = false;
    const auto bytes = checkedByteCount(e.tensor.shape, dtypeSize(e.tensor.dtype), overflow);
    if (overflow || bytes != e.end - e.begin)
        fail(path, "entry '" + printable(name) + "' " + dtypeName(e.tensor.dtype) + " " + e.tensor.shapeString()
                       + " does not match its " + std::to_string(e.end - e.begin) + " data bytes");
    return e;
}

StringMap parseMetadata(const std::string& path, const nlohmann::json& j)
{
    if (!j.is_object())
        fail(path, "__metadata__ is not an object");
    StringMap out;
    for (const auto& [key, value] : j.items()) {
        if (!value.is_string())
            fail(path, "__metadata__ value of '" + printable(key) + "' is not a string");
        out[key] = value.get<std::string>();
    }
    return out;
}

// Offsets must tile [0, last end) with no hole and no overlap.
void checkTiling(const std::string& path, std::vector<Entry>& entries, std::uint64_t bufferBytes)
{
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    std::uint64_t expected = 0;
    for (const auto& e : entries) {
        if (e.begin != expected)
            fail(path, "entry '" + printable(e.name) + "' starts at byte " + std::to_string(e.begin) + ", expected "
                           + std::to_string(expected) + " (hole or overlap in the data buffer)");
        expected = e.end;
    }
    if (expected != bufferBytes)
        fail(path, "the data buffer holds " + std::to_string(bufferBytes) + " bytes but the tensors cover "
                       + std::to_string(expected));
}

}  // namespace

SafetensorsFile readSafetensors(const std::string& path)
{
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in)
        throw FormatError("cannot open '" + path + "'");
    const auto fileSize = std::uint64_t(in.tellg());
    in.seekg(0);
    std::uint8_t lenBytes[8];
    if (fileSize < 8 || !in.read(reinterpret_cast<char*>(lenBytes), 8))
        fail(path, "shorter than its 8-byte header length");
    const std::uint64_t headerLen = readLe64(lenBytes);
    if (headerLen > kMaxHeaderBytes)
        fail(path, "header length " + std::to_string(headerLen) + " exceeds the 100 MB limit");
    if (headerLen > fileSize - 8)
        fail(path, "header length " + std::to_string(headerLen) + " runs past the end of the file");
    std::string header(headerLen, '\0');
    if (!in.read(header.data(), std::streamsize(headerLen)))
        fail(path, "cannot read the header");
    if (header.empty() || header.front() != '{')
        fail(path, "the header does not start with '{'");

    nlohmann::json j;
    try {
        j = nlohmann::json::parse(header);
    } catch (const nlohmann::json::exception& e) {
        fail(path, std::string("the header is not valid UTF-8 JSON (") + e.what() + ")");
    }
    if (!j.is_object())
        fail(path, "the header is not a JSON object");

    SafetensorsFile result;
    std::vector<Entry> entries;
    for (const auto& [name, value] : j.items()) {
        if (name == "__metadata__")
            result.metadata = parseMetadata(path, value);
        else
            entries.push_back(parseEntry(path, name, value));
    }
    const std::uint64_t dataStart = 8 + headerLen;
    checkTiling(path, entries, fileSize - dataStart);

    for (auto& e : entries) {
        // Read into an aligned buffer of its own: data written before safetensors 0.3.1 may
        // be unaligned, and the engine adopts each buffer as a tensor without a copy.
        e.tensor.bytes = ByteBuffer(e.end - e.begin);
        in.seekg(std::streamoff(dataStart + e.begin));
        if (!e.tensor.bytes.empty() && !in.read(reinterpret_cast<char*>(e.tensor.bytes.data()),
                                                std::streamsize(e.tensor.bytes.size())))
            fail(path, "cannot read the data of '" + printable(e.name) + "'");
        result.tensors.emplace(e.name, std::move(e.tensor));
    }
    return result;
}

void writeSafetensors(const std::string& path, const TensorMap& tensors, const StringMap& metadata)
{
    nlohmann::json header = nlohmann::json::object();
    if (!metadata.empty())
        header["__metadata__"] = metadata;
    std::uint64_t offset = 0;
    for (const auto& [name, t] : tensors) {
        if (t.bytes.size() != std::uint64_t(t.numel()) * dtypeSize(t.dtype))
            throw FormatError("cannot write '" + name + "': " + std::to_string(t.bytes.size())
                              + " bytes for " + dtypeName(t.dtype) + " " + t.shapeString());
        header[name] = {{"dtype", dtypeName(t.dtype)},
                        {"shape", t.shape},
                        {"data_offsets", {offset, offset + t.bytes.size()}}};
        offset += t.bytes.size();
    }
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');  // keeps the data buffer 8-aligned

    AtomicFile file(path);
    unsigned char lenBytes[8];
    for (int i = 0; i < 8; ++i)
        lenBytes[i] = static_cast<unsigned char>((std::uint64_t(text.size()) >> (8 * i)) & 0xff);
    file.write(lenBytes, 8);
    file.write(text.data(), text.size());
    for (const auto& entry : tensors)
        file.write(entry.second.bytes.data(), entry.second.bytes.size());
    file.commit();
}

}  // namespace attnviz::io
