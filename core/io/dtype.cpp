#include "core/io/dtype.h"

#include <array>
#include <utility>

namespace attnviz::io {
namespace {

struct DTypeInfo {
    DType type;
    const char* name;
    std::size_t size;
};

constexpr std::array<DTypeInfo, 10> kDTypes{{
    {DType::F64, "F64", 8},
    {DType::F32, "F32", 4},
    {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2},
    {DType::I64, "I64", 8},
    {DType::I32, "I32", 4},
    {DType::I16, "I16", 2},
    {DType::I8, "I8", 1},
    {DType::U8, "U8", 1},
    {DType::Bool, "BOOL", 1},
}};

const DTypeInfo& infoOf(DType type)
{
    for (const auto& info : kDTypes)
        if (info.type == type)
            return info;
    return kDTypes[1];  // unreachable: every enumerator is listed
}

}  // namespace

std::size_t dtypeSize(DType type)
{
    return infoOf(type).size;
}

std::string dtypeName(DType type)
{
    return infoOf(type).name;
}

std::optional<DType> dtypeFromName(const std::string& name)
{
    for (const auto& info : kDTypes)
        if (name == info.name)
            return info.type;
    return std::nullopt;
}

}  // namespace attnviz::io
