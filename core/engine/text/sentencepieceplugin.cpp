#include "core/engine/text/sentencepieceplugin.h"

#include <sentencepiece_processor.h>

#include <cstring>
#include <string>
#include <vector>

namespace {

void report(const std::string& what, char* error, int errorSize)
{
    if (error && errorSize > 0) {
        std::strncpy(error, what.c_str(), std::size_t(errorSize) - 1);
        error[errorSize - 1] = '\0';
    }
}

const sentencepiece::SentencePieceProcessor& processorOf(const void* p)
{
    return *static_cast<const sentencepiece::SentencePieceProcessor*>(p);
}

}  // namespace

extern "C" {

void* attnviz_spm_load(const char* path, char* error, int errorSize)
{
    auto* processor = new sentencepiece::SentencePieceProcessor;
    const auto status = processor->Load(path);
    if (status.ok())
        return processor;
    report(status.ToString(), error, errorSize);
    delete processor;
    return nullptr;
}

void attnviz_spm_free(void* processor)
{
    delete static_cast<sentencepiece::SentencePieceProcessor*>(processor);
}

int attnviz_spm_encode(const void* processor, const char* text, int* ids, int capacity, char* error, int errorSize)
{
    std::vector<int> out;
    const auto status = processorOf(processor).Encode(text, &out);
    if (!status.ok()) {
        report(status.ToString(), error, errorSize);
        return -1;
    }
    for (int i = 0; i < int(out.size()) && i < capacity; ++i)
        ids[i] = out[std::size_t(i)];
    return int(out.size());
}

int attnviz_spm_end_id(const void* processor)
{
    return processorOf(processor).eos_id();
}

int attnviz_spm_size(const void* processor)
{
    return processorOf(processor).GetPieceSize();
}

}  // extern "C"
