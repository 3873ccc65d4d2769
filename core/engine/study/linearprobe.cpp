#include "core/engine/study/linearprobe.h"

#include "core/engine/cancellation.h"
#include "core/engine/engineerror.h"
#include "core/engine/study/cka.h"

#include "core/io/idxdataset.h"

#include <algorithm>
#include <filesystem>

namespace attnviz::engine {
namespace {

double accuracy(const torch::Tensor& logits, const torch::Tensor& labels)
{
    return labels.numel() ? logits.argmax(1).eq(labels).to(torch::kFloat64).mean().item<double>() : 0.0;
}

// Concatenates each layer's minibatches into [N, D], freeing them layer by layer, so the
// features are never held twice.
std::vector<torch::Tensor> concatenated(std::vector<std::vector<torch::Tensor>>& perLayer)
{
    std::vector<torch::Tensor> out;
    for (auto& parts : perLayer) {
        out.push_back(torch::cat(parts));
        parts = {};
    }
    return out;
}

}  // namespace

std::vector<PooledLayer> pooledLayers(const Activations& activations)
{
    const auto layers = ckaLayers(activations);  // ViT [n, T, D], CNN [n, C, h, w]
    const auto& layout = activations.tokens;
    std::vector<PooledLayer> out;
    for (std::size_t i = 0; i < layers.values.size(); ++i) {
        const auto value = layers.values[i].to(torch::kCPU, torch::kFloat32);
        const auto& name = layers.names[i];
        const double depth = double(i + 1) / double(layers.values.size());
        if (value.dim() == 4) {
            out.push_back({name, "gap", depth, value.mean({2, 3})});
            continue;
        }
        if (layout.hasCls)
            out.push_back({name, "cls", depth, value.select(1, 0).contiguous()});
        out.push_back(
            {name, "mean", depth, value.narrow(1, layout.prefixTokens(), layout.gridH * layout.gridW).mean(1)});
    }
    return out;
}

ProbeScore fitLinearProbe(const torch::Tensor& trainX, const torch::Tensor& trainY, const torch::Tensor& testX,
                          const torch::Tensor& testY, int classes, const ProbeOptions& options)
{
    if (trainX.dim() != 2 || trainX.size(0) != trainY.size(0) || trainX.size(0) == 0 || testX.size(1) != trainX.size(1)
        || testX.size(0) != testY.size(0))
        throw EngineError("a probe needs features [N, D] and labels [N] for both splits");
    if (classes < 2)
        throw EngineError("a probe needs at least 2 classes");
    torch::NoGradGuard outside;
    const auto x = trainX.to(torch::kFloat64);
    const auto mean = x.mean(0, true);
    auto scale = x.std(0, /*unbiased=*/false, true);
    scale = torch::where(scale > 1e-12, scale, torch::ones_like(scale));  // a constant feature stays 0
    const auto train = ((x - mean) / scale).to(torch::kFloat32);
    const auto test = ((testX.to(torch::kFloat64) - mean) / scale).to(torch::kFloat32);
    const auto labels = trainY.to(torch::kLong);

    auto weight = torch::zeros({train.size(1), classes}).requires_grad_(true);
    auto bias = torch::zeros({classes}).requires_grad_(true);
    torch::optim::LBFGS optimizer(
        {weight, bias},
        torch::optim::LBFGSOptions(1.0).max_iter(options.iterations).history_size(20).line_search_fn("strong_wolfe"));
    const auto loss = [&] {
        optimizer.zero_grad();
        torch::AutoGradMode enabled(true);
        auto value = torch::nn::functional::cross_entropy(torch::addmm(bias, train, weight), labels)
                     + 0.5 * options.l2 * weight.pow(2).sum();
        value.backward();
        return value;
    };
    optimizer.step(loss);
    ProbeScore score;
    score.trainAccuracy = accuracy(torch::addmm(bias, train, weight), labels);
    score.testAccuracy = accuracy(torch::addmm(bias, test, weight), testY.to(torch::kLong));
    return score;
}

ProbeData probeDataFrom(const ImageSet& train, const ImageSet& test, const Preprocessing& p)
{
    ProbeData data;
    data.trainLabels = train.labels;
    data.testLabels = test.labels;
    if (train.size() == 0 || test.size() == 0)
        throw EngineError("a probe needs images in both the training and the held-out split");
    data.classes = int(std::max(train.labels.max().item<int64_t>(), test.labels.max().item<int64_t>())) + 1;
    data.load = [train, test, p](bool held, std::size_t first, std::size_t count) {
        const auto& set = held ? test : train;
        return normalizeBatch(set.images.narrow(0, int64_t(first), int64_t(count)), p);
    };
    return data;
}

LabelledSet openIdxSet(const std::string& dir, const LabelledSetOptions& o)
{
    const auto train = toImageSet(io::readIdxDataset(dir, o.trainSplit)).first(int64_t(o.limit));
    const auto test = toImageSet(io::readIdxDataset(dir, o.testSplit)).first(int64_t(o.testLimit));
    return {"IDX files, splits " + o.trainSplit + " / " + o.testSplit,
            [train, test](const Preprocessing& p) { return probeDataFrom(train, test, p); }};
}

ProbeStudy probeLayers(const Classifier& model, const ProbeData& data, int batchSize, const ProbeOptions& options,
                       const ProbeProgress& progress)
{
    const std::size_t trainCount = std::size_t(data.trainLabels.numel()),
                      testCount = std::size_t(data.testLabels.numel());
    if (trainCount == 0 || testCount == 0)
        throw EngineError("a probe needs images in both the training and the held-out split");
    batchSize = std::max(1, batchSize);
    ProbeStudy study;
    study.trainImages = trainCount;
    study.testImages = testCount;
    study.classes = data.classes;
    std::vector<PooledLayer> layers;                   // the first minibatch's, for their names
    std::vector<std::vector<torch::Tensor>> parts[2];  // [split][layer] minibatches [n, D]
    std::size_t done = 0;
    for (const bool test : {false, true}) {
        const std::size_t count = test ? testCount : trainCount;
        auto& split = parts[test ? 1 : 0];
        for (std::size_t first = 0; first < count; first += std::size_t(batchSize)) {
            const auto n = std::min(std::size_t(batchSize), count - first);
            std::vector<PooledLayer> pooled;
            {
                torch::NoGradGuard noGrad;
                pooled = pooledLayers(model.activations(data.load(test, first, n)));
            }
            split.resize(pooled.size());
            for (std::size_t l = 0; l < pooled.size(); ++l)
                split[l].push_back(pooled[l].value);
            if (layers.empty())
                layers = std::move(pooled);
            done += n;
            throwIfCancelled();
            if (progress && !progress(done, trainCount + testCount))
                throw EngineError("the probes stopped after " + std::to_string(done) + " of "
                                  + std::to_string(trainCount + testCount) + " images");
        }
    }
    const auto train = concatenated(parts[0]), test = concatenated(parts[1]);
    for (std::size_t l = 0; l < train.size(); ++l) {
        throwIfCancelled();
        study.layers.push_back(
            {layers[l].name, layers[l].pooling, layers[l].relativeDepth,
             fitLinearProbe(train[l], data.trainLabels, test[l], data.testLabels, data.classes, options)});
    }
    return study;
}

}  // namespace attnviz::engine
