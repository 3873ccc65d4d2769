// libFuzzer: the tEXt chunks of a PNG byte stream (io::readPngText, which reads the
// metadata of exported figures), and, when they read, writing one more and reading it
// back, which must give the same entries plus the new one (in some place: a malformed
// stream may hold text chunks before its IHDR). Failures: io::FormatError.
#include "core/io/pngtext.h"
#include "core/io/rawtensor.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string png(reinterpret_cast<const char*>(data), size);
    try {
        auto entries = attnviz::io::readPngText(png);
        const attnviz::io::TextEntries added{{"Fuzz", "value"}};
        auto again = attnviz::io::readPngText(attnviz::io::addPngText(png, added));
        entries.push_back(added.front());
        std::sort(entries.begin(), entries.end());
        std::sort(again.begin(), again.end());
        if (again != entries)
            std::abort();
    } catch (const attnviz::io::FormatError&) {
    }
    return 0;
}
