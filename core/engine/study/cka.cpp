#include "core/engine/study/cka.h"

#include "core/engine/engineerror.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace attnviz::engine {
namespace {

// Features summed per slice, so that a float64 copy of a wide representation (a
// ResNet stem at 224 px has ~800k features per image) is never made whole.
constexpr int64_t kFeatureSlice = 1 << 16;

struct GramStats {
    torch::Tensor gram;      // [n, n] float64 on the CPU, of the centred features
    double magnitude = 0.0;  // sum of the squared (uncentred) features
};

// [n, ...] -> the Gram matrix of the features centred over the minibatch, in float64.
// Centring first matters: with a common offset c the uncentred Gram's entries are
// ~p c^2, and the estimator's cancellation of that term loses all precision.
GramStats gramStats(const torch::Tensor& representation)
{
    const auto x = representation.detach().flatten(1);
    const int64_t n = x.size(0), p = x.size(1);
    auto gram = torch::zeros({n, n}, x.options().dtype(torch::kFloat64));
    auto magnitude = torch::zeros({}, x.options().dtype(torch::kFloat64));
    for (int64_t first = 0; first < p; first += kFeatureSlice) {
        auto slice = x.narrow(1, first, std::min(kFeatureSlice, p - first)).to(torch::kFloat64);
        magnitude += slice.pow(2).sum();
        slice = slice - slice.mean(0, /*keepdim=*/true);
        gram.addmm_(slice, slice.t());
    }
    return {gram.to(torch::kCPU), magnitude.item<double>()};
}

// Layers whose CKA is undefined (see CkaAccumulator::degenerateRows).
std::vector<bool> degenerate(const torch::Tensor& self, const torch::Tensor& spread, const torch::Tensor& magnitude)
{
    std::vector<bool> out;
    for (int64_t i = 0; i < self.size(0); ++i) {
        const double s = self[i].item<double>();
        const double d = spread[i].item<double>(), m = magnitude[i].item<double>();
        // Relative RMS spread 1e-6: a few float32 ulps. NaN anywhere counts as degenerate.
        out.push_back(!(s > 0.0) || !(d > 1e-12 * m));
    }
    return out;
}

}  // namespace

double unbiasedHsic(const torch::Tensor& k, const torch::Tensor& l)
{
    if (k.dim() != 2 || k.sizes() != l.sizes() || k.size(0) != k.size(1) || k.size(0) < 4)
        throw EngineError("unbiased HSIC needs two square Gram matrices of the same n > 3");
    return unbiasedHsicMatrix(k.unsqueeze(0), l.unsqueeze(0)).item<double>();
}

torch::Tensor unbiasedHsicMatrix(const torch::Tensor& k, const torch::Tensor& l)
{
    if (k.dim() != 3 || l.dim() != 3 || k.size(1) != k.size(2) || l.sizes().slice(1) != k.sizes().slice(1)
        || k.size(1) < 4)
        throw EngineError("unbiased HSIC needs square Gram matrices of the same n > 3");
    const int64_t size = k.size(1);
    const auto n = double(size);
    const auto offDiagonal = 1 - torch::eye(size, torch::kFloat64);
    // Diagonals zeroed: K~ [P, n, n], L~ [Q, n, n]
    const auto kt = k.to(torch::kFloat64) * offDiagonal;
    const auto lt = l.to(torch::kFloat64) * offDiagonal;
    const auto trace = torch::matmul(kt.flatten(1), lt.flatten(1).t());  // tr(K~ L~), both symmetric
    const auto sums = torch::outer(kt.sum({1, 2}), lt.sum({1, 2})) / ((n - 1) * (n - 2));
    const auto cross = 2.0 / (n - 2) * torch::matmul(kt.sum(1), lt.sum(2).t());  // 1' K~ L~ 1
    return (trace + sums - cross) / (n * (n - 3));
}

double linearCka(const torch::Tensor& x, const torch::Tensor& y)
{
    const auto xc = x.flatten(1).to(torch::kFloat64) - x.flatten(1).to(torch::kFloat64).mean(0, true);
    const auto yc = y.flatten(1).to(torch::kFloat64) - y.flatten(1).to(torch::kFloat64).mean(0, true);
    const double crossNorm = torch::matmul(yc.t(), xc).pow(2).sum().item<double>();
    return crossNorm
           / (torch::matmul(xc.t(), xc).norm().item<double>() * torch::matmul(yc.t(), yc).norm().item<double>());
}

torch::Tensor centredGram(const torch::Tensor& representation)
{
    return gramStats(representation).gram;
}

GramStack gramStack(const std::vector<torch::Tensor>& layers)
{
    std::vector<torch::Tensor> grams;
    auto magnitude = torch::zeros({int64_t(layers.size())}, torch::kFloat64);
    for (std::size_t i = 0; i < layers.size(); ++i) {
        auto stats = gramStats(layers[i]);
        magnitude[int64_t(i)] = stats.magnitude;
        grams.push_back(std::move(stats.gram));
    }
    return {torch::stack(grams), magnitude};
}

GramStack positionGramStack(const torch::Tensor& x)
{
    if (x.dim() != 3)
        throw EngineError("per-position Grams need [n, P, D]");
    const auto features = x.detach().to(torch::kFloat64).transpose(0, 1);  // [P, n, D]
    const auto centred = features - features.mean(1, /*keepdim=*/true);
    return {torch::bmm(centred, centred.transpose(1, 2)).to(torch::kCPU), features.pow(2).sum({1, 2}).to(torch::kCPU)};
}

CkaAccumulator::CkaAccumulator(int rows, int cols)
    : m_cross(torch::zeros({rows, cols}, torch::kFloat64))
    , m_rowSelf(torch::zeros({rows}, torch::kFloat64))
    , m_colSelf(torch::zeros({cols}, torch::kFloat64))
    , m_rowSpread(torch::zeros({rows}, torch::kFloat64))
    , m_rowMagnitude(torch::zeros({rows}, torch::kFloat64))
    , m_colSpread(torch::zeros({cols}, torch::kFloat64))
    , m_colMagnitude(torch::zeros({cols}, torch::kFloat64))
{
}

void CkaAccumulator::add(const std::vector<torch::Tensor>& rowLayers, const std::vector<torch::Tensor>& colLayers)
{
    if (int64_t(rowLayers.size()) != m_rowSelf.size(0) || int64_t(colLayers.size()) != m_colSelf.size(0))
        throw EngineError("CKA minibatch has a different number of layers than the accumulator");
    addGrams(gramStack(rowLayers), gramStack(colLayers));
}

void CkaAccumulator::addGrams(const GramStack& rows, const GramStack& cols)
{
    if (rows.grams.size(0) != m_rowSelf.size(0) || cols.grams.size(0) != m_colSelf.size(0))
        throw EngineError("CKA minibatch has a different number of layers than the accumulator");
    const auto diagonals = [](const torch::Tensor& grams) { return grams.diagonal(0, 1, 2).sum(1); };  // traces [L]
    m_rowSpread += diagonals(rows.grams);
    m_rowMagnitude += rows.magnitude;
    m_colSpread += diagonals(cols.grams);
    m_colMagnitude += cols.magnitude;
    m_rowSelf += unbiasedHsicMatrix(rows.grams, rows.grams).diagonal();
    m_colSelf += unbiasedHsicMatrix(cols.grams, cols.grams).diagonal();
    m_cross += unbiasedHsicMatrix(rows.grams, cols.grams);
    ++m_batches;
}

std::vector<bool> CkaAccumulator::degenerateRows() const
{
    return degenerate(m_rowSelf, m_rowSpread, m_rowMagnitude);
}

std::vector<bool> CkaAccumulator::degenerateCols() const
{
    return degenerate(m_colSelf, m_colSpread, m_colMagnitude);
}

torch::Tensor CkaAccumulator::result() const
{
    if (m_batches == 0)
        throw EngineError("CKA has no minibatch yet");
    const auto flags = [](const std::vector<bool>& v) {
        auto t = torch::zeros({int64_t(v.size())}, torch::kBool);
        for (std::size_t i = 0; i < v.size(); ++i)
            t[int64_t(i)] = bool(v[i]);
        return t;
    };
    const auto undefined = flags(degenerateRows()).unsqueeze(1).logical_or(flags(degenerateCols()).unsqueeze(0));
    // Defined layers have positive self-HSIC; the others are NaN, never divided by ~0.
    const auto denominator = torch::outer(m_rowSelf, m_colSelf).clamp_min(0).sqrt();
    const auto nan = torch::full_like(m_cross, std::numeric_limits<double>::quiet_NaN());
    return torch::where(undefined, nan, m_cross / denominator).to(torch::kFloat32);
}

LayerRepresentations ckaLayers(const Activations& activations)
{
    LayerRepresentations out;
    // tokenStates[0] is the embedding; block l's output is tokenStates[l + 1].
    for (std::size_t l = 1; l < activations.tokenStates.size(); ++l) {
        out.names.push_back("block " + std::to_string(l - 1));
        out.values.push_back(activations.tokenStates[l].detach());
    }
    for (const auto& [name, tensor] : activations.features) {
        out.names.push_back(name);
        out.values.push_back(tensor.detach());
    }
    if (out.values.empty())
        throw EngineError("no layer representations in this forward pass");
    return out;
}

}  // namespace attnviz::engine
