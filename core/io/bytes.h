#pragma once

// Small helpers shared by the file readers, which all parse bytes from strangers.

#include <cstdint>
#include <limits>
#include <string>

namespace attnviz::io {

inline std::uint16_t readLe16(const std::uint8_t* p)
{
    return std::uint16_t(p[0] | (p[1] << 8));
}

inline std::uint32_t readLe32(const std::uint8_t* p)
{
    return std::uint32_t(p[0]) | (std::uint32_t(p[1]) << 8) | (std::uint32_t(p[2]) << 16) | (std::uint32_t(p[3]) << 24);
}

inline std::uint64_t readLe64(const std::uint8_t* p)
{
    return std::uint64_t(readLe32(p)) | (std::uint64_t(readLe32(p + 4)) << 32);
}

// a * b into `product`; true (and `product` untouched) when it would overflow.
inline bool multiplyOverflows(std::uint64_t a, std::uint64_t b, std::uint64_t& product)
{
    if (b != 0 && a > std::numeric_limits<std::uint64_t>::max() / b)
        return true;
    product = a * b;
    return false;
}

inline bool startsWith(const std::string& text, const std::string& prefix)
{
    return text.compare(0, prefix.size(), prefix) == 0;
}

inline bool endsWith(const std::string& text, const std::string& suffix)
{
    return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Names read from a file, made safe for a one-line message: control characters
// become '?', and long names are cut at 200 characters.
std::string printable(const std::string& text);

}  // namespace attnviz::io
