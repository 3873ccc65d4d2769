#include "core/engine/methods/layerselector.h"

#include "core/engine/engineerror.h"

#include <cerrno>
#include <climits>
#include <cstdlib>

namespace attnviz::engine {
namespace {

constexpr const char* kAll = "all";

}  // namespace

LayerSelector LayerSelector::block(int index)
{
    LayerSelector s;
    s.m_kind = Kind::Block;
    s.m_block = index;
    return s;
}

LayerSelector LayerSelector::all()
{
    LayerSelector s;
    s.m_kind = Kind::All;
    return s;
}

LayerSelector LayerSelector::pool()
{
    LayerSelector s;
    s.m_kind = Kind::Pool;
    return s;
}

LayerSelector LayerSelector::named(std::string name)
{
    LayerSelector s;
    s.m_kind = Kind::Named;
    s.m_name = std::move(name);
    return s;
}

LayerSelector LayerSelector::parse(const std::string& text)
{
    if (text.empty())
        return {};
    if (text == kAll)
        return all();
    if (text == kPoolLayer)
        return pool();
    // A block: an optional minus and digits only, within int ("+3", " 3" and "3.0" are names).
    const bool digits = text.find_first_not_of("0123456789", text[0] == '-' ? 1 : 0) == std::string::npos
                        && text != "-";
    if (digits) {
        errno = 0;
        const long value = std::strtol(text.c_str(), nullptr, 10);
        if (errno == 0 && value >= INT_MIN && value <= INT_MAX)
            return block(int(value));
    }
    return named(text);
}

int LayerSelector::blockIn(int depth) const
{
    const long index = m_block < 0 ? long(depth) + m_block : m_block;
    if (m_kind != Kind::Block || index < 0 || index >= depth)
        throw EngineError("no block '" + text() + "' (the ViT has blocks 0.." + std::to_string(depth - 1)
                          + "; -1 is the last)");
    return int(index);
}

std::string LayerSelector::text() const
{
    switch (m_kind) {
    case Kind::Default: return {};
    case Kind::Block: return std::to_string(m_block);
    case Kind::All: return kAll;
    case Kind::Pool: return kPoolLayer;
    case Kind::Named: return m_name;
    }
    return {};
}

}  // namespace attnviz::engine
