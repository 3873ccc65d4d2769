#include "core/engine/model/predictions.h"

namespace attnviz::engine {

std::vector<Prediction> topK(const torch::Tensor& logits, const std::vector<std::string>& labels, int k, bool sigmoid)
{
    std::vector<Prediction> out;
    if (!logits.defined() || logits.numel() == 0 || k <= 0)
        return out;
    const auto scores = logits.reshape({-1}).to(torch::kFloat64);
    const auto probs = sigmoid ? torch::sigmoid(scores) : torch::softmax(scores, 0);
    const auto best = probs.topk(std::min<int64_t>(k, probs.size(0)));
    const auto values = std::get<0>(best);
    const auto indices = std::get<1>(best);
    for (int64_t i = 0; i < indices.size(0); ++i) {
        Prediction p;
        p.index = int(indices[i].item<int64_t>());
        p.label = p.index < int(labels.size()) ? labels[std::size_t(p.index)] : "class " + std::to_string(p.index);
        p.probability = values[i].item<double>();
        out.push_back(p);
    }
    return out;
}

std::vector<Prediction> topK(const torch::Tensor& logits, const ModelSpec& spec, int k)
{
    return topK(logits, spec.labels, k, spec.sigmoidScores);
}

}  // namespace attnviz::engine
