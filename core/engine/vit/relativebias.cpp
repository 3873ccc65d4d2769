#include "core/engine/vit/relativebias.h"

#include <cmath>
#include <vector>

namespace attnviz::engine {
namespace {

// Where the `src` trained offsets -src/2..src/2 sit when stretched to cover -dst/2..dst/2:
// 0, then ±(1 + q + … + q^(i-1)) for i = 1..src/2, with q (between 1.01 and 1.5) found by
// bisection so that the outermost reaches dst/2. Rounded to float as timm's tensors are.
std::vector<double> stretchedOffsets(int src, int dst)
{
    double left = 1.01;
    double right = 1.5;
    double q = left;
    while (right - left > 1e-6) {
        q = (left + right) / 2.0;
        const double reach = (1.0 - std::pow(q, src / 2)) / (1.0 - q);  // geometric sum of src/2 terms
        const int target = dst / 2;                                     // timm's dst // 2: an integer
        (reach > target ? right : left) = q;
    }
    std::vector<double> positive;
    double cur = 1.0;
    for (int i = 0; i < src / 2; ++i) {
        positive.push_back(float(cur));
        cur += std::pow(q, i + 1);
    }
    std::vector<double> offsets;
    for (auto it = positive.rbegin(); it != positive.rend(); ++it)
        offsets.push_back(-*it);
    offsets.push_back(0.0);
    offsets.insert(offsets.end(), positive.begin(), positive.end());
    return offsets;
}

// [dst, src] weights reading the integer offsets -dst/2..dst/2 off values at `points` by
// linear interpolation (timm's RegularGridInterpolator: outside the points, the end value).
torch::Tensor interpolationWeights(const std::vector<double>& points, int dst)
{
    const auto n = int64_t(points.size());
    auto weights = torch::zeros({dst, n}, torch::kFloat64);
    auto w = weights.accessor<double, 2>();
    const int centre = dst / 2;  // the integer offsets -dst // 2 .. dst // 2
    for (int t = 0; t < dst; ++t) {
        const double x = t - centre;
        int64_t right = 0;
        while (right < n && points[std::size_t(right)] < x)
            ++right;
        right = std::min(right, n - 1);
        const int64_t leftIndex = std::max<int64_t>(right - 1, 0);
        double toLeft = std::max(0.0, x - points[std::size_t(leftIndex)]);
        double toRight = std::max(0.0, points[std::size_t(right)] - x);
        if (toLeft == 0.0 && toRight == 0.0)
            toLeft = toRight = 1.0;
        w[t][leftIndex] += toRight / (toLeft + toRight);
        w[t][right] += toLeft / (toLeft + toRight);
    }
    return weights;
}

}  // namespace

torch::Tensor relativeOffsetIndex(int gh, int gw)
{
    const int64_t n = int64_t(gh) * gw;
    auto index = torch::empty({n, n}, torch::kInt64);
    auto a = index.accessor<int64_t, 2>();
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < n; ++j) {
            const int64_t dy = i / gw - j / gw + gh - 1;
            const int64_t dx = i % gw - j % gw + gw - 1;
            a[i][j] = dy * (2 * gw - 1) + dx;
        }
    return index.view({-1});
}

torch::Tensor relativePositionIndex(int gh, int gw)
{
    const int64_t n = int64_t(gh) * gw;
    const int64_t offsets = int64_t(2 * gh - 1) * (2 * gw - 1);
    auto index = torch::empty({n + 1, n + 1}, torch::kInt64);
    index.narrow(0, 1, n).narrow(1, 1, n).copy_(relativeOffsetIndex(gh, gw).view({n, n}));
    auto a = index.accessor<int64_t, 2>();
    for (int64_t t = 0; t <= n; ++t) {
        a[0][t] = offsets;      // class token to any token
        a[t][0] = offsets + 1;  // any token to the class token
    }
    a[0][0] = offsets + 2;
    return index.view({-1});
}

torch::Tensor resizeRelativeBiasTable(const torch::Tensor& table, int side, int gh, int gw)
{
    const int src = 2 * side - 1;
    const int dstH = 2 * gh - 1;
    const int dstW = 2 * gw - 1;
    if (dstH == src && dstW == src)
        return table;
    const auto heads = table.size(1);
    const auto patchRows = table.narrow(0, 0, int64_t(src) * src);
    // [src*src, H] -> [H, src, src] (rows dy, columns dx), in double for the weights
    const auto grid = patchRows.t().reshape({heads, src, src}).to(torch::kFloat64);
    const auto wy = interpolationWeights(stretchedOffsets(src, dstH), dstH).to(table.device());
    const auto wx = interpolationWeights(stretchedOffsets(src, dstW), dstW).to(table.device());
    const auto resized = torch::matmul(torch::matmul(wy, grid), wx.t());  // [H, dstH, dstW]
    return torch::cat({resized.reshape({heads, int64_t(dstH) * dstW}).t().to(table.scalar_type()),
                       table.narrow(0, int64_t(src) * src, table.size(0) - int64_t(src) * src)});
}

}  // namespace attnviz::engine
