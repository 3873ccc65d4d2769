#include "core/io/bytes.h"

namespace attnviz::io {

std::string printable(const std::string& text)
{
    constexpr std::size_t kMaxLength = 200;
    std::string out;
    for (char c : text.substr(0, kMaxLength))
        out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
    if (text.size() > kMaxLength)
        out += "...";
    return out;
}

}  // namespace attnviz::io
