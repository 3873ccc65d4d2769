#include "core/io/safetensors.h"

#include "core/io/atomicfile.h"
#include "core/io/bytes.h"
#include "core/io/safetensorsheader.h"

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
std::uint64_t checkedByteCount(const std::vector<std::int64_t>& shape, std::size_t elementSize, bool& overflow)
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

Entry checkedEntry(const std::string& path, SafetensorsHeaderEntry&& h)
{
    Entry e;
    e.name = std::move(h.name);
    e.tensor.dtype = h.dtype;
    e.tensor.shape = std::move(h.shape);
    e.begin = h.begin;
    e.end = h.end;
    if (e.end < e.begin)
        fail(path, "entry '" + printable(e.name) + "' ends before it begins");
    bool overflow = false;
    const auto bytes = checkedByteCount(e.tensor.shape, dtypeSize(e.tensor.dtype), overflow);
    if (overflow || bytes != e.end - e.begin)
        fail(path, "entry '" + printable(e.name) + "' " + dtypeName(e.tensor.dtype) + " " + e.tensor.shapeString()
                       + " does not match its " + std::to_string(e.end - e.begin) + " data bytes");
    return e;
}

// Offsets must tile [0, last end) with no hole and no overlap.
void checkTiling(const std::string& path, std::vector<Entry>& entries, std::uint64_t bufferBytes)
{
    std::sort(entries.begin(), entries.end(),
              [](const Entry& a, const Entry& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
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

// The first 8 bytes of a file that is no safetensors file, as a user would recognise them.
std::string describeStart(const std::uint8_t (&bytes)[8])
{
    if (bytes[0] == 'P' && bytes[1] == 'K')
        return "a zip archive (a torch.save file? name it .pth)";
    if (std::all_of(std::begin(bytes), std::end(bytes), [](std::uint8_t b) { return b >= 0x20 && b < 0x7f; }))
        return "text (\"" + std::string(std::begin(bytes), std::end(bytes)) + "…\")";
    std::string hex = "the bytes";
    for (const auto b : bytes) {
        const char digits[] = "0123456789abcdef";
        hex += {' ', digits[b >> 4], digits[b & 15]};
    }
    return hex;
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
    // Anything else named .safetensors (a text file, a torch.save zip) is said to be so,
    // not read as a header length of some 10^18 bytes.
    char first = '\0';
    if (fileSize > 8 && in.read(&first, 1) && first != '{')
        fail(path, "it starts with " + describeStart(lenBytes)
                       + ", not with the 8-byte header length and the '{' "
                         "of a safetensors file");
    in.seekg(8);
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

    SafetensorsHeader parsed;
    try {
        parsed = parseSafetensorsHeader(header);
    } catch (const FormatError& e) {
        fail(path, e.what());
    }
    SafetensorsFile result;
    result.metadata = std::move(parsed.metadata);
    std::vector<Entry> entries;
    entries.reserve(parsed.entries.size());
    for (auto& h : parsed.entries)
        entries.push_back(checkedEntry(path, std::move(h)));
    const std::uint64_t dataStart = 8 + headerLen;
    checkTiling(path, entries, fileSize - dataStart);

    for (auto& e : entries) {
        // Read into an aligned buffer of its own: data written before safetensors 0.3.1 may
        // be unaligned, and the engine adopts each buffer as a tensor without a copy.
        e.tensor.bytes = ByteBuffer(e.end - e.begin);
        in.seekg(std::streamoff(dataStart + e.begin));
        if (!e.tensor.bytes.empty()
            && !in.read(reinterpret_cast<char*>(e.tensor.bytes.data()), std::streamsize(e.tensor.bytes.size())))
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
            throw FormatError("cannot write '" + name + "': " + std::to_string(t.bytes.size()) + " bytes for "
                              + dtypeName(t.dtype) + " " + t.shapeString());
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
