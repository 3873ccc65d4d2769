#include "core/engine/evaluation/randomisation.h"

#include <cctype>

namespace attnviz::engine {
namespace {

constexpr double kConstantSpread = 0.02;

// "blocks.3.attn.qkv.weight" -> "blocks.3"; "head.weight" -> "head".
std::string moduleOf(const std::string& name)
{
    const auto first = name.find('.');
    if (first == std::string::npos)
        return name;
    const auto second = name.find('.', first + 1);
    const auto part = name.substr(first + 1, second == std::string::npos ? std::string::npos : second - first - 1);
    const bool index = !part.empty()
                       && std::all_of(part.begin(), part.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
    return index ? name.substr(0, second) : name.substr(0, first);
}

// Puts the learned weights back however the check ends.
class WeightsBackup {
public:
    explicit WeightsBackup(const std::vector<ParameterGroup>& groups)
        : m_groups(groups)
    {
        for (const auto& g : groups)
            for (const auto& t : g.tensors)
                m_copies.push_back(t.detach().clone());
    }
    ~WeightsBackup()
    {
        torch::NoGradGuard noGrad;
        std::size_t i = 0;
        for (const auto& g : m_groups)
            for (const auto& t : g.tensors)
                t.detach().copy_(m_copies[i++]);
    }
    WeightsBackup(const WeightsBackup&) = delete;
    WeightsBackup& operator=(const WeightsBackup&) = delete;

private:
    const std::vector<ParameterGroup>& m_groups;
    std::vector<torch::Tensor> m_copies;
};

void randomise(const torch::Tensor& tensor, torch::Generator& generator)
{
    torch::NoGradGuard noGrad;
    const auto values = tensor.detach().to(torch::kFloat64);
    const double mean = values.mean().item<double>();
    // A constant tensor (a zero bias, a unit norm weight) would come back unchanged:
    // it gets timm's initialisation spread, 0.02, instead.
    const double spread = tensor.numel() > 1 ? values.std().item<double>() : 0.0;
    const double std = spread > 0 ? spread : kConstantSpread;
    const auto noise = at::normal(mean, std, tensor.sizes(), generator, tensor.options().device(torch::kCPU));
    tensor.detach().copy_(noise);
}

}  // namespace

std::vector<ParameterGroup> parameterGroups(const Classifier& model)
{
    std::vector<ParameterGroup> groups;
    for (auto& [name, tensor] : model.namedParameters()) {
        const auto module = moduleOf(name);
        if (groups.empty() || groups.back().name != module)
            groups.push_back({module, {}, {}});
        groups.back().parameters.push_back(name);
        groups.back().tensors.push_back(tensor);
    }
    return groups;
}

void cascadingRandomisation(const Classifier& model, std::uint64_t seed,
                            const std::function<void(int, const std::string&)>& visit)
{
    const auto groups = parameterGroups(model);
    const WeightsBackup backup(groups);
    auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
    int step = 0;
    for (auto g = groups.rbegin(); g != groups.rend(); ++g) {
        for (const auto& t : g->tensors)
            randomise(t, generator);
        visit(++step, g->name);
    }
}

}  // namespace attnviz::engine
