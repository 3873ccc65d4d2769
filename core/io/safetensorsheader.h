#pragma once

#include "core/io/dtype.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace attnviz::io {

struct SafetensorsHeaderEntry {
    std::string name;
    DType dtype = DType::F32;
    std::vector<std::int64_t> shape;
    std::uint64_t begin = 0;  // data_offsets, relative to the data buffer
    std::uint64_t end = 0;
};

struct SafetensorsHeader {
    std::vector<SafetensorsHeaderEntry> entries;  // in file order
    std::map<std::string, std::string> metadata;  // "__metadata__"
};

// Parses the JSON header of a .safetensors file as a stream of events, keeping only
// what it describes: memory stays a small multiple of the text (no document is
// built), fields the format does not define are skipped however deep they nest (up to
// serde_json's 128 levels, the reference reader's limit), and a tensor name or field
// given twice is an error rather than a silent choice. Checks each entry's fields and
// types, not yet the offsets against the file. Throws FormatError with the reason
// alone (the caller names the file).
SafetensorsHeader parseSafetensorsHeader(const std::string& text);

}  // namespace attnviz::io
