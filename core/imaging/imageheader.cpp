#include "core/imaging/imageheader.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>

namespace attnviz::imaging {
namespace {

using Bytes = std::vector<unsigned char>;

// Reads `count` bytes at `pos` as an unsigned integer; false when they are not all there.
bool readInt(const Bytes& b, std::uint64_t pos, int count, bool bigEndian, std::uint64_t& value)
{
    if (pos > b.size() || std::uint64_t(count) > b.size() - pos)
        return false;
    value = 0;
    for (int i = 0; i < count; ++i) {
        const std::uint64_t byte = b[std::size_t(pos) + std::size_t(bigEndian ? i : count - 1 - i)];
        value = (value << 8) | byte;
    }
    return true;
}

bool startsWith(const Bytes& b, const char* signature, std::size_t length, std::size_t at = 0)
{
    return b.size() >= at + length && std::memcmp(b.data() + at, signature, length) == 0;
}

// Sides as declared, clamped to 2^40 (no format allows more, and no check may overflow).
void setSize(ImageHeader& h, std::uint64_t width, std::uint64_t height)
{
    constexpr std::uint64_t kMaxSide = std::uint64_t(1) << 40;
    h.width = static_cast<long long>(std::min(width, kMaxSide));
    h.height = static_cast<long long>(std::min(height, kMaxSide));
}

// IHDR is always the first chunk: width and height at bytes 16 and 20.
void readPng(const Bytes& b, ImageHeader& h)
{
    std::uint64_t w = 0, height = 0;
    if (startsWith(b, "IHDR", 4, 12) && readInt(b, 16, 4, true, w) && readInt(b, 20, 4, true, height))
        setSize(h, w, height);
}

bool isStartOfFrame(unsigned marker)
{
    return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
}

// Walks the marker segments to the first start of frame as libjpeg does: bytes
// between segments that are not a marker are skipped (libjpeg warns and goes on), fill
// bytes (0xFF 0xFF) too, and the markers without a length (TEM, RSTn) are stepped over.
void readJpeg(const Bytes& b, ImageHeader& h)
{
    std::size_t pos = 2;
    while (pos < b.size()) {
        while (pos < b.size() && b[pos] != 0xFF)
            ++pos;
        while (pos < b.size() && b[pos] == 0xFF)
            ++pos;
        if (pos >= b.size())
            return;
        const unsigned marker = b[pos++];
        if (marker == 0x00 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8))
            continue;  // a stuffed zero, TEM, RST0..7, SOI: no length follows
        if (marker == 0xD9 || marker == 0xDA)
            return;  // the image ends, or its data starts, before any frame
        std::uint64_t length = 0, height = 0, width = 0;
        if (!readInt(b, pos, 2, true, length) || length < 2)
            return;
        if (isStartOfFrame(marker)) {
            // length (2), precision (1), height (2), width (2)
            if (readInt(b, pos + 3, 2, true, height) && readInt(b, pos + 5, 2, true, width))
                setSize(h, width, height);
            return;
        }
        pos += std::size_t(length);
    }
}

// BITMAPCOREHEADER (12 bytes: 16-bit sides) or BITMAPINFOHEADER and its successors
// (40 and more: signed 32-bit sides, a negative height for top-down rows).
void readBmp(const Bytes& b, ImageHeader& h)
{
    std::uint64_t dibSize = 0, w = 0, height = 0;
    if (!readInt(b, 14, 4, false, dibSize))
        return;
    if (dibSize == 12 && readInt(b, 18, 2, false, w) && readInt(b, 20, 2, false, height)) {
        setSize(h, w, height);
    } else if (dibSize >= 40 && readInt(b, 18, 4, false, w) && readInt(b, 22, 4, false, height)) {
        const auto signedSide = [](std::uint64_t v) { return std::int64_t(std::int32_t(std::uint32_t(v))); };
        const std::int64_t sw = signedSide(w), sh = signedSide(height);
        setSize(h, std::uint64_t(sw < 0 ? -sw : sw), std::uint64_t(sh < 0 ? -sh : sh));
    }
}

// The first image file directory of a TIFF or BigTIFF: ImageWidth (256), ImageLength
// (257), and TileWidth / TileLength (322, 323). As libtiff does, the first entry of a
// tag counts and later repeats are ignored; an entry for the size that is not one SHORT
// or LONG (or LONG8 in BigTIFF) leaves the size unknown, so the file is refused rather
// than sized differently from the decoder.
void readTiff(const Bytes& b, ImageHeader& h, bool bigEndian, bool big)
{
    std::uint64_t ifd = 0, count = 0;
    const int offsetSize = big ? 8 : 4;
    if (!readInt(b, big ? 8 : 4, offsetSize, bigEndian, ifd) || !readInt(b, ifd, big ? 8 : 2, bigEndian, count))
        return;
    const std::uint64_t entrySize = big ? 20 : 12;
    const std::uint64_t first = ifd + (big ? 8 : 2);
    constexpr std::uint64_t kUnread = ~std::uint64_t(0);
    constexpr std::uint64_t kAbsent = kUnread - 1;
    std::uint64_t values[4] = {kAbsent, kAbsent, kAbsent, kAbsent};  // width, height, tile width, tile height
    for (std::uint64_t i = 0; i < count && first + i * entrySize < b.size(); ++i) {
        const std::uint64_t at = first + i * entrySize;
        std::uint64_t tag = 0, type = 0, n = 0, value = 0;
        if (!readInt(b, at, 2, bigEndian, tag) || !readInt(b, at + 2, 2, bigEndian, type)
            || !readInt(b, at + 4, offsetSize, bigEndian, n))
            return;
        const int slot = tag == 256 ? 0 : tag == 257 ? 1 : tag == 322 ? 2 : tag == 323 ? 3 : -1;
        if (slot < 0 || values[slot] != kAbsent)
            continue;                                                                       // not a size, or a repeat
        const int valueSize = type == 3 ? 2 : type == 4 ? 4 : (type == 16 && big) ? 8 : 0;  // SHORT, LONG, LONG8
        const bool read = valueSize && n == 1 && readInt(b, at + 4 + offsetSize, valueSize, bigEndian, value);
        values[slot] = read ? value : kUnread;
    }
    const auto known = [&](int slot) { return values[slot] != kAbsent && values[slot] != kUnread; };
    if (known(0) && known(1) && values[0] && values[1])
        setSize(h, values[0], values[1]);
    if (values[2] == kUnread || values[3] == kUnread)
        h.width.reset();  // tiles of a size we cannot read: refuse the file
    else if (known(2) && known(3)) {
        const double tile = double(values[2]) * double(values[3]);
        h.tilePixels = tile > 9e18 ? std::numeric_limits<long long>::max() : static_cast<long long>(tile);
    }
}

// RIFF....WEBP, then a simple lossy ('VP8 '), lossless ('VP8L') or extended ('VP8X')
// bitstream, each with its own way of storing the size.
void readWebp(const Bytes& b, ImageHeader& h)
{
    std::uint64_t w = 0, height = 0;
    if (startsWith(b, "VP8 ", 4, 12)) {
        if (b.size() > 25 && b[23] == 0x9d && b[24] == 0x01 && b[25] == 0x2a && readInt(b, 26, 2, false, w)
            && readInt(b, 28, 2, false, height))
            setSize(h, w & 0x3fff, height & 0x3fff);
    } else if (startsWith(b, "VP8L", 4, 12)) {
        std::uint64_t bits = 0;
        if (b.size() > 20 && b[20] == 0x2f && readInt(b, 21, 4, false, bits))
            setSize(h, (bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1);
    } else if (startsWith(b, "VP8X", 4, 12)) {
        if (readInt(b, 24, 3, false, w) && readInt(b, 27, 3, false, height))
            setSize(h, w + 1, height + 1);
        h.animated = b.size() > 20 && (b[20] & 0x02);
    }
}

}  // namespace

ImageHeader readImageHeader(const Bytes& bytes)
{
    ImageHeader h;
    if (startsWith(bytes, "\x89PNG\r\n\x1a\n", 8)) {
        h.format = "PNG";
        readPng(bytes, h);
    } else if (startsWith(bytes, "\xff\xd8\xff", 3)) {
        h.format = "JPEG";
        readJpeg(bytes, h);
    } else if (startsWith(bytes, "BM", 2)) {
        h.format = "BMP";
        readBmp(bytes, h);
    } else if (startsWith(bytes, "II*\0", 4) || startsWith(bytes, "MM\0*", 4)) {
        h.format = "TIFF";
        readTiff(bytes, h, bytes[0] == 'M', false);
    } else if (startsWith(bytes, "II+\0", 4) || startsWith(bytes, "MM\0+", 4)) {
        h.format = "TIFF";
        readTiff(bytes, h, bytes[0] == 'M', true);
    } else if (startsWith(bytes, "RIFF", 4) && startsWith(bytes, "WEBP", 4, 8)) {
        h.format = "WebP";
        readWebp(bytes, h);
    } else if (startsWith(bytes, "GIF87a", 6) || startsWith(bytes, "GIF89a", 6)) {
        h.unsupported = "GIF";
    }
    return h;
}

}  // namespace attnviz::imaging
