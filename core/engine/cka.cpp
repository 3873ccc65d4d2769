#include "core/engine/cka.h"

#include "core/engine/engineerror.h"

#include <cmath>

namespace attnviz::engine {
namespace {

// [n, ...] -> Gram matrix [n, n] in float64 on the CPU
torch::Tensor gram(const torch::Tensor& representation)
{
    const auto x = representation.detach().flatten(1).to(torch::kFloat32);
    return torch::matmul(x, x.t()).to(torch::kCPU, torch::kFloat64);
}

}  // namespace

double unbiasedHsic(const torch::Tensor& k, const torch::Tensor& l)
{
    const auto n = double(k.size(0));
    if (k.dim() != 2 || k.sizes() != l.sizes() || k.size(0) != k.size(1) || n < 4)
        throw EngineError("unbiased HSIC needs two square Gram matrices of the same n > 3");
    // Diagonals zeroed: K~, L~
    const auto kt = k.to(torch::kFloat64) * (1 - torch::eye(k.size(0), torch::kFloat64));
    const auto lt = l.to(torch::kFloat64) * (1 - torch::eye(k.size(0), torch::kFloat64));
    const double trace = (kt * lt).sum().item<double>();  // tr(K~ L~), both symmetric
    const double sums = kt.sum().item<double>() * lt.sum().item<double>() / ((n - 1) * (n - 2));
    const double cross = 2.0 / (n - 2) * torch::matmul(kt.sum(0), lt.sum(1)).item<double>();  // 1' K~ L~ 1
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

CkaAccumulator::CkaAccumulator(int rows, int cols)
    : m_cross(torch::zeros({rows, cols}, torch::kFloat64))
    , m_rowSelf(torch::zeros({rows}, torch::kFloat64))
    , m_colSelf(torch::zeros({cols}, torch::kFloat64))
{
}

void CkaAccumulator::add(const std::vector<torch::Tensor>& rowLayers, const std::vector<torch::Tensor>& colLayers)
{
    if (int64_t(rowLayers.size()) != m_rowSelf.size(0) || int64_t(colLayers.size()) != m_colSelf.size(0))
        throw EngineError("CKA minibatch has a different number of layers than the accumulator");
    std::vector<torch::Tensor> rowGrams, colGrams;
    for (const auto& r : rowLayers)
        rowGrams.push_back(gram(r));
    for (const auto& c : colLayers)
        colGrams.push_back(gram(c));
    for (std::size_t i = 0; i < rowGrams.size(); ++i) {
        m_rowSelf[i] += unbiasedHsic(rowGrams[i], rowGrams[i]);
        for (std::size_t j = 0; j < colGrams.size(); ++j)
            m_cross[i][j] += unbiasedHsic(rowGrams[i], colGrams[j]);
    }
    for (std::size_t j = 0; j < colGrams.size(); ++j)
        m_colSelf[j] += unbiasedHsic(colGrams[j], colGrams[j]);
    ++m_batches;
}

torch::Tensor CkaAccumulator::result() const
{
    if (m_batches == 0)
        throw EngineError("CKA has no minibatch yet");
    const auto denominator = torch::outer(m_rowSelf, m_colSelf).clamp_min(0).sqrt().clamp_min(1e-300);
    return (m_cross / denominator).to(torch::kFloat32);
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
