// libFuzzer: config.json and, after the first NUL byte, preprocessor_config.json, through
// io::parseModelConfig; every failure must be an io::FormatError.
#include "core/io/modelconfig.h"
#include "core/io/rawtensor.h"
#include "tests/fuzz/fuzzfile.h"

#include <algorithm>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::uint8_t* split = std::find(data, data + size, 0);
    const std::string config = attnviz::fuzz::writeScratch("config.json", data, std::size_t(split - data));
    std::string preprocessor;
    if (split != data + size)
        preprocessor = attnviz::fuzz::writeScratch("preprocessor_config.json", split + 1,
                                                   std::size_t(data + size - split - 1));
    try {
        attnviz::io::parseModelConfig(config, preprocessor);
    } catch (const attnviz::io::FormatError&) {
    }
    return 0;
}
