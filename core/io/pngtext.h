#pragma once

#include <string>
#include <utility>
#include <vector>

namespace attnviz::io {

// Keyword / text pairs of PNG tEXt chunks (PNG spec 11.3.4.3).
using TextEntries = std::vector<std::pair<std::string, std::string>>;

// The PNG byte stream with one tEXt chunk per entry inserted right after IHDR.
// Keywords are 1-79 printable Latin-1 characters without leading, trailing or double
// spaces; texts carry no NUL. Throws FormatError for a stream that is not a PNG or a
// keyword or text the format cannot hold.
std::string addPngText(const std::string& png, const TextEntries& entries);

// Every tEXt chunk of a PNG byte stream, checking the signature, each chunk's length
// against the buffer and its CRC. Throws FormatError on a malformed stream.
TextEntries readPngText(const std::string& png);

}  // namespace attnviz::io
