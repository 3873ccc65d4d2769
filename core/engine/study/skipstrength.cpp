#include "core/engine/study/skipstrength.h"

#include "core/engine/engineerror.h"

#include <cmath>

#include <limits>

namespace attnviz::engine {
namespace {

double skipRatio(double skip, double branch)
{
    if (std::isnan(skip) || std::isnan(branch))
        return std::numeric_limits<double>::quiet_NaN();
    return branch > 0 ? skip / branch : std::numeric_limits<double>::infinity();
}

std::string branchOf(const std::string& name)
{
    const auto dot = name.rfind('.');
    const auto tail = dot == std::string::npos ? std::string() : name.substr(dot + 1);
    if (tail == "attn")
        return "attention";
    if (tail == "mlp")
        return "mlp";
    return "block";
}

}  // namespace

double SkipRatio::clsRatio() const
{
    return skipRatio(clsSkip, clsBranch);
}

double SkipRatio::spatialRatio() const
{
    return skipRatio(spatialSkip, spatialBranch);
}

void SkipAccumulator::add(const std::vector<ResidualNorms>& norms, int prefixTokens, bool hasCls)
{
    if (m_added && m_sums.size() != norms.size())
        throw EngineError("a minibatch measured a different number of residual additions");
    if (!m_added)
        for (const auto& n : norms)
            m_sums.push_back({n.name});
    m_added = true;
    for (std::size_t i = 0; i < norms.size(); ++i) {
        auto& s = m_sums[i];
        const auto skip = norms[i].skip.to(torch::kFloat64), branch = norms[i].branch.to(torch::kFloat64);  // [N, P]
        if (hasCls) {
            s.clsSkip += skip.select(1, 0).sum().item<double>();
            s.clsBranch += branch.select(1, 0).sum().item<double>();
            s.clsCount += double(skip.size(0));
        }
        const auto spatial = [&](const torch::Tensor& t) {
            return t.narrow(1, prefixTokens, t.size(1) - prefixTokens);
        };
        s.spatialSkip += spatial(skip).sum().item<double>();
        s.spatialBranch += spatial(branch).sum().item<double>();
        s.spatialCount += double(spatial(skip).numel());
    }
}

std::vector<SkipRatio> SkipAccumulator::result() const
{
    if (!m_added)
        throw EngineError("no image has been measured yet");
    const double nan = std::numeric_limits<double>::quiet_NaN();
    std::vector<SkipRatio> out;
    for (std::size_t i = 0; i < m_sums.size(); ++i) {
        const auto& s = m_sums[i];
        SkipRatio r;
        r.name = s.name;
        r.branch = branchOf(s.name);
        r.relativeDepth = double(i + 1) / double(m_sums.size());
        r.clsSkip = s.clsCount > 0 ? s.clsSkip / s.clsCount : nan;
        r.clsBranch = s.clsCount > 0 ? s.clsBranch / s.clsCount : nan;
        r.spatialSkip = s.spatialSkip / s.spatialCount;
        r.spatialBranch = s.spatialBranch / s.spatialCount;
        out.push_back(r);
    }
    return out;
}

}  // namespace attnviz::engine
