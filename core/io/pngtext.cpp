#include "core/io/pngtext.h"

#include "core/io/bytes.h"
#include "core/io/rawtensor.h"

#include <zlib.h>

#include <cstdint>

namespace attnviz::io {
namespace {

const std::string kSignature("\x89PNG\r\n\x1a\n", 8);

std::uint32_t readBe32(const std::string& data, std::size_t at)
{
    return std::uint32_t(std::uint8_t(data[at])) << 24 | std::uint32_t(std::uint8_t(data[at + 1])) << 16
           | std::uint32_t(std::uint8_t(data[at + 2])) << 8 | std::uint32_t(std::uint8_t(data[at + 3]));
}

void appendBe32(std::string& out, std::uint32_t value)
{
    for (int shift = 24; shift >= 0; shift -= 8)
        out.push_back(char((value >> shift) & 0xff));
}

// CRC-32 over the chunk type and data, as the PNG spec defines it (zlib's crc32).
std::uint32_t chunkCrc(const std::string& typeAndData)
{
    return std::uint32_t(crc32(0L, reinterpret_cast<const Bytef*>(typeAndData.data()), uInt(typeAndData.size())));
}

void checkKeyword(const std::string& keyword)
{
    bool ok = !keyword.empty() && keyword.size() <= 79 && keyword.front() != ' ' && keyword.back() != ' '
              && keyword.find("  ") == std::string::npos;
    for (unsigned char c : keyword)
        ok = ok && ((c >= 32 && c <= 126) || c >= 161);
    if (!ok)
        throw FormatError("PNG text keyword '" + printable(keyword) + "' is not 1-79 printable Latin-1 characters");
}

std::string chunk(const std::string& type, const std::string& data)
{
    std::string out;
    appendBe32(out, std::uint32_t(data.size()));
    const auto typeAndData = type + data;
    out += typeAndData;
    appendBe32(out, chunkCrc(typeAndData));
    return out;
}

// Calls visit(type, data) for every chunk after the signature, checking lengths and CRCs.
template <typename Visit>
void forEachChunk(const std::string& png, Visit visit)
{
    if (!startsWith(png, kSignature))
        throw FormatError("not a PNG stream (bad signature)");
    std::size_t at = kSignature.size();
    while (at < png.size()) {
        if (png.size() - at < 12)
            throw FormatError("PNG chunk at byte " + std::to_string(at) + " is truncated");
        const std::uint32_t length = readBe32(png, at);
        if (length > png.size() - at - 12)
            throw FormatError("PNG chunk at byte " + std::to_string(at) + " claims " + std::to_string(length)
                              + " bytes past the end of the stream");
        const auto typeAndData = png.substr(at + 4, 4 + std::size_t(length));
        if (chunkCrc(typeAndData) != readBe32(png, at + 8 + length))
            throw FormatError("PNG chunk '" + printable(typeAndData.substr(0, 4)) + "' has a bad CRC");
        visit(typeAndData.substr(0, 4), typeAndData.substr(4), at, std::size_t(length) + 12);
        at += std::size_t(length) + 12;
    }
}

}  // namespace

std::string addPngText(const std::string& png, const TextEntries& entries)
{
    std::string text;
    for (const auto& [keyword, value] : entries) {
        checkKeyword(keyword);
        if (value.find('\0') != std::string::npos)
            throw FormatError("PNG text for '" + keyword + "' contains a NUL byte");
        text += chunk("tEXt", keyword + std::string(1, '\0') + value);
    }
    std::size_t afterHeader = 0;
    forEachChunk(png, [&](const std::string& type, const std::string&, std::size_t at, std::size_t size) {
        if (type == "IHDR" && afterHeader == 0)
            afterHeader = at + size;
    });
    if (afterHeader == 0)
        throw FormatError("PNG stream has no IHDR chunk");
    return png.substr(0, afterHeader) + text + png.substr(afterHeader);
}

TextEntries readPngText(const std::string& png)
{
    TextEntries out;
    forEachChunk(png, [&](const std::string& type, const std::string& data, std::size_t, std::size_t) {
        if (type != "tEXt")
            return;
        const auto nul = data.find('\0');
        if (nul == std::string::npos)
            throw FormatError("PNG tEXt chunk has no keyword separator");
        out.emplace_back(data.substr(0, nul), data.substr(nul + 1));
    });
    return out;
}

}  // namespace attnviz::io
