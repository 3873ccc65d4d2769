#include "core/engine/evaluation/maskscores.h"

#include "core/engine/engineerror.h"
#include "core/engine/evaluation/faithfulness.h"
#include "core/io/rawtensor.h"

namespace attnviz::engine {
namespace {

namespace F = torch::nn::functional;

// The mask as bool [H, W] on the CPU; throws for a mask that is not 2-D or is empty.
torch::Tensor boolMask(const torch::Tensor& mask)
{
    if (mask.dim() != 2)
        throw EngineError("a mask must be [H, W], got " + io::shapeString(mask.sizes().vec()));
    auto out = mask.to(torch::kCPU).ne(0);
    if (!out.any().item<bool>())
        throw EngineError("the mask is empty (no non-zero pixel)");
    return out;
}

// The map at the mask's resolution, float32 [H, W].
torch::Tensor atMaskSize(const torch::Tensor& map, const torch::Tensor& mask)
{
    return inputSizedSaliency(map, mask.size(0), mask.size(1));
}

// Average ranks (1-based) of a flat tensor's values, ties sharing the mean of their ranks.
torch::Tensor averageRanks(const torch::Tensor& flat)
{
    const auto values = flat.to(torch::kFloat64).contiguous();
    const auto [sorted, order] = values.sort(/*stable=*/true, /*dim=*/0, /*descending=*/false);
    const auto n = values.size(0);
    auto ranks = torch::empty({n}, torch::kFloat64);
    const auto s = sorted.accessor<double, 1>();
    const auto o = order.accessor<int64_t, 1>();
    auto r = ranks.accessor<double, 1>();
    for (int64_t first = 0; first < n;) {
        int64_t last = first;
        while (last + 1 < n && s[last + 1] == s[first])
            ++last;
        const double rank = 0.5 * double(first + last) + 1.0;
        for (int64_t i = first; i <= last; ++i)
            r[o[i]] = rank;
        first = last + 1;
    }
    return ranks;
}

}  // namespace

bool pointingGameHit(const torch::Tensor& map, const torch::Tensor& mask, double tolerance)
{
    const auto m = boolMask(mask);
    const auto full = atMaskSize(map, m);
    const auto width = m.size(1);
    const auto peak = full.reshape({-1}).argmax().item<int64_t>();  // the first maximum
    const auto row = peak / width, col = peak % width;              // integer division: the peak's row
    const double py = double(row), px = double(col);
    const auto points = m.nonzero().to(torch::kFloat64);  // [P, 2]: row, col
    const auto distance = ((points.select(1, 0) - py).square() + (points.select(1, 1) - px).square()).sqrt();
    return distance.min().item<double>() <= tolerance;
}

double energyInMask(const torch::Tensor& map, const torch::Tensor& mask)
{
    const auto m = boolMask(mask);
    const auto positive = atMaskSize(map, m).clamp_min(0).to(torch::kFloat64);
    const double total = positive.sum().item<double>();
    return total > 0 ? positive.masked_select(m).sum().item<double>() / total : 0.0;
}

torch::Tensor maskCoverage(const torch::Tensor& mask, int64_t h, int64_t w)
{
    const auto m = boolMask(mask);
    if (m.size(0) % h != 0 || m.size(1) % w != 0)
        throw EngineError("a mask of " + io::shapeString(m.sizes().vec()) + " does not divide into a "
                          + std::to_string(h) + "x" + std::to_string(w) + " grid");
    return F::adaptive_avg_pool2d(m.to(torch::kFloat32).unsqueeze(0).unsqueeze(0),
                                  F::AdaptiveAvgPool2dFuncOptions({h, w}))
        .squeeze(0)
        .squeeze(0);
}

double topCellsIoU(const torch::Tensor& map, const torch::Tensor& mask)
{
    if (map.dim() != 2)
        throw EngineError("a map must be [h, w], got " + io::shapeString(map.sizes().vec()));
    const auto coverage = maskCoverage(mask, map.size(0), map.size(1)).reshape({-1});
    auto cells = coverage.ge(0.5);
    if (!cells.any().item<bool>())
        cells = coverage.eq(coverage.max());
    const auto k = cells.sum().item<int64_t>();
    const auto flat = map.to(torch::kCPU, torch::kFloat32).reshape({-1});
    const auto order = std::get<1>(flat.sort(/*stable=*/true, /*dim=*/0, /*descending=*/true));
    auto top = torch::zeros_like(cells);
    top.index_put_({order.narrow(0, 0, k)}, true);
    const double both = (top & cells).sum().item<double>();
    const double either = (top | cells).sum().item<double>();
    return both / either;
}

double spearmanCorrelation(const torch::Tensor& a, const torch::Tensor& b)
{
    if (a.sizes() != b.sizes())
        throw EngineError("rank correlation of maps of different shapes: " + io::shapeString(a.sizes().vec()) + " and "
                          + io::shapeString(b.sizes().vec()));
    const auto ra = averageRanks(a.to(torch::kCPU).reshape({-1}));
    const auto rb = averageRanks(b.to(torch::kCPU).reshape({-1}));
    const auto da = ra - ra.mean(), db = rb - rb.mean();
    const double norm = std::sqrt(da.square().sum().item<double>() * db.square().sum().item<double>());
    return norm > 0 ? (da * db).sum().item<double>() / norm : 0.0;
}

}  // namespace attnviz::engine
