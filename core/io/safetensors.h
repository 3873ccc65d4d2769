#pragma once

#include "core/io/rawtensor.h"

#include <map>
#include <string>

namespace attnviz::io {

using StringMap = std::map<std::string, std::string>;

struct SafetensorsFile {
    TensorMap tensors;
    StringMap metadata;  // the optional "__metadata__" entry
};

// Reads a .safetensors file, making every check of the reference reader: header
// length bounded and inside the file, UTF-8 JSON object, known dtypes, offsets that
// tile the data buffer exactly, byte counts that match the shapes (overflow-checked),
// and a buffer that ends at the end of the file. Throws FormatError.
SafetensorsFile readSafetensors(const std::string& path);

// Writes tensors (and metadata) to a temporary file beside `path` and renames it into
// place, so an interrupted write never leaves a half-written file. Data is 8-aligned.
void writeSafetensors(const std::string& path, const TensorMap& tensors, const StringMap& metadata = {});

}  // namespace attnviz::io
