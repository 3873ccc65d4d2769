#include "core/io/rawtensor.h"

#include <sstream>

namespace attnviz::io {

std::int64_t RawTensor::numel() const
{
    std::int64_t n = 1;
    for (auto d : shape)
        n *= d;
    return n;
}

std::string RawTensor::shapeString() const { return io::shapeString(shape); }

std::string shapeString(const std::vector<std::int64_t>& shape)
{
    std::ostringstream out;
    out << '[';
    for (std::size_t i = 0; i < shape.size(); ++i)
        out << (i ? ", " : "") << shape[i];
    out << ']';
    return out.str();
}

}  // namespace attnviz::io
