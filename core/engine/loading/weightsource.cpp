#include "core/engine/loading/weightsource.h"

#include "core/engine/engineerror.h"
#include "core/engine/tensorconvert.h"
#include "core/io/bytes.h"

namespace attnviz::engine {

std::vector<std::int64_t> WeightSource::shapeOf(const std::string& key) const
{
    auto it = m_tensors.find(key);
    if (it == m_tensors.end())
        throw EngineError("checkpoint is missing the key '" + io::printable(key) + "'");
    return it->second.shape;
}

torch::Tensor WeightSource::take(const std::string& key, const std::vector<std::int64_t>& shape)
{
    const auto actual = shapeOf(key);
    bool match = actual.size() == shape.size();
    for (std::size_t i = 0; match && i < shape.size(); ++i)
        match = shape[i] < 0 || shape[i] == actual[i];
    if (!match)
        throw EngineError("key '" + io::printable(key) + "' has shape " + io::shapeString(actual) + ", expected "
                          + io::shapeString(shape));
    const auto& raw = m_tensors.at(key);
    if (raw.dtype == io::DType::Bool || raw.dtype == io::DType::I64 || raw.dtype == io::DType::I32)
        throw EngineError("key '" + io::printable(key) + "' holds " + io::dtypeName(raw.dtype)
                          + " values, expected floats");
    m_taken.insert(key);
    return toTorch(raw).to(torch::kFloat32);
}

torch::Tensor WeightSource::takeIfPresent(const std::string& key, const std::vector<std::int64_t>& shape)
{
    return has(key) ? take(key, shape) : torch::Tensor();
}

bool WeightSource::hasAnyUnder(const std::string& prefix) const
{
    const auto next = m_tensors.lower_bound(prefix);  // the keys are sorted: the first one >= prefix
    return next != m_tensors.end() && next->first.rfind(prefix, 0) == 0;
}

void WeightSource::ignoreWhere(const std::vector<std::string>& prefixes, bool underOne)
{
    for (const auto& entry : m_tensors) {
        bool under = false;
        for (const auto& prefix : prefixes)
            under = under || entry.first.rfind(prefix, 0) == 0;
        if (under == underOne)
            m_taken.insert(entry.first);
    }
}

void WeightSource::ignoreAllExcept(const std::vector<std::string>& prefixes)
{
    ignoreWhere(prefixes, false);
}

void WeightSource::ignoreAllUnder(const std::vector<std::string>& prefixes)
{
    ignoreWhere(prefixes, true);
}

void WeightSource::expectAllTaken(const std::string& modelName) const
{
    for (const auto& entry : m_tensors) {
        if (!m_taken.count(entry.first))
            throw EngineError("unexpected key '" + io::printable(entry.first) + "' " + entry.second.shapeString()
                              + " for a " + modelName + ": not a checkpoint attnviz can read completely");
    }
}

int countIndexed(const WeightSource& s, const std::string& prefix, const std::string& suffix, int first)
{
    const auto key = [&](int n) {
        std::string k = prefix;
        k += std::to_string(first + n);
        k += suffix;
        return k;
    };
    int n = 0;
    while (s.has(key(n)))
        ++n;
    return n;
}

}  // namespace attnviz::engine
