#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace attnviz::io {

// Element types found in checkpoints, named as safetensors names them.
enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, Bool };

std::size_t dtypeSize(DType type);
std::string dtypeName(DType type);  // "F32", "BF16", ...
std::optional<DType> dtypeFromName(const std::string& name);

}  // namespace attnviz::io
