// libFuzzer: a model file as a user's model path reaches io::loadCheckpoint. The first
// byte chooses the file's name, hence the reader (safetensors, torch.save zip, sniffed);
// every failure must be an io::FormatError (anything else escapes and is a finding).
#include "core/io/checkpointfile.h"
#include "tests/fuzz/fuzzfile.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    static const char* const kNames[] = {"model.safetensors", "model.pth", "model.bin", "model"};
    if (size == 0)
        return 0;
    const std::string path = attnviz::fuzz::writeScratch(kNames[data[0] % 4], data + 1, size - 1);
    try {
        attnviz::io::loadCheckpoint(path);
    } catch (const attnviz::io::FormatError&) {
    }
    return 0;
}
