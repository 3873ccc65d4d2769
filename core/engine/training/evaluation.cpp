#include "core/engine/training/evaluation.h"

#include "core/engine/engineerror.h"

namespace attnviz::engine {

Evaluation evaluate(const Classifier& model, const ImageSet& set, int batchSize)
{
    torch::InferenceMode guard;
    const int classes = model.spec().numClasses;
    if (classes <= 0)
        throw EngineError("the model has no classifier head to evaluate");
    Evaluation result;
    result.count = set.size();
    result.confusion.assign(std::size_t(classes), std::vector<int64_t>(std::size_t(classes), 0));
    for (int64_t start = 0; start < set.size(); start += batchSize) {
        const auto n = std::min<int64_t>(batchSize, set.size() - start);
        const auto x = normalizeBatch(set.images.narrow(0, start, n), model.spec().preprocessing);
        const auto predicted = model.logits(x, false).argmax(1).to(torch::kCPU);
        const auto truth = set.labels.narrow(0, start, n);
        for (int64_t i = 0; i < n; ++i) {
            const auto t = truth[i].item<int64_t>();
            if (t < 0 || t >= classes)
                throw EngineError("label " + std::to_string(t) + " is outside the model's " + std::to_string(classes)
                                  + " classes");
            ++result.confusion[std::size_t(t)][std::size_t(predicted[i].item<int64_t>())];
        }
    }
    int64_t correct = 0;
    for (int c = 0; c < classes; ++c) {
        int64_t rowTotal = 0;
        for (auto v : result.confusion[std::size_t(c)])
            rowTotal += v;
        correct += result.confusion[std::size_t(c)][std::size_t(c)];
        result.perClassAccuracy.push_back(rowTotal ? double(result.confusion[std::size_t(c)][std::size_t(c)]) / rowTotal
                                                   : 0.0);
    }
    result.accuracy = result.count ? double(correct) / double(result.count) : 0.0;
    return result;
}

}  // namespace attnviz::engine
