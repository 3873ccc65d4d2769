#include "core/imaging/imageheader.h"

#include <cstring>

namespace attnviz::imaging {
namespace {

long long bigEndian(const unsigned char* p, int bytes)
{
    long long v = 0;
    for (int i = 0; i < bytes; ++i)
        v = (v << 8) | p[i];
    return v;
}

// IHDR is always the first chunk: width and height at bytes 16 and 20.
std::optional<std::pair<long long, long long>> pngDimensions(const std::vector<unsigned char>& b)
{
    if (b.size() < 24 || std::memcmp(b.data() + 12, "IHDR", 4) != 0)
        return std::nullopt;
    return std::make_pair(bigEndian(&b[16], 4), bigEndian(&b[20], 4));
}

// Walks the marker segments up to the first start-of-frame (SOF0..SOF15 but DHT,
// JPG and DAC), whose payload holds height then width.
std::optional<std::pair<long long, long long>> jpegDimensions(const std::vector<unsigned char>& b)
{
    std::size_t pos = 2;
    while (pos + 9 < b.size()) {
        if (b[pos] != 0xFF)
            return std::nullopt;
        const unsigned char marker = b[pos + 1];
        if (marker == 0xFF) {  // fill byte
            ++pos;
            continue;
        }
        const auto length = std::size_t(bigEndian(&b[pos + 2], 2));
        const bool startOfFrame = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
        if (startOfFrame)
            return std::make_pair(bigEndian(&b[pos + 7], 2), bigEndian(&b[pos + 5], 2));
        if (length < 2)
            return std::nullopt;
        pos += 2 + length;
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::pair<long long, long long>> headerDimensions(const std::vector<unsigned char>& bytes)
{
    static const unsigned char kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (bytes.size() >= 8 && std::memcmp(bytes.data(), kPng, 8) == 0)
        return pngDimensions(bytes);
    if (bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF)
        return jpegDimensions(bytes);
    return std::nullopt;
}

}  // namespace attnviz::imaging
