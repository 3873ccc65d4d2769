#include "core/engine/training/trainer.h"

#include "core/engine/cancellation.h"
#include "core/engine/engineerror.h"

#include <chrono>
#include <cmath>
#include <utility>

namespace attnviz::engine {
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start)
{
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// Shifts each image by up to 2 pixels (zero fill) and flips half of them.
torch::Tensor augmentBatch(const torch::Tensor& bytes)
{
    constexpr int kPad = 2;
    const auto h = bytes.size(2);
    const auto w = bytes.size(3);
    const auto padded = torch::constant_pad_nd(bytes, {kPad, kPad, kPad, kPad}, 0);
    const auto offsets = torch::randint(0, 2 * kPad + 1, {bytes.size(0), 2}, torch::kInt64);
    std::vector<torch::Tensor> shifted;
    shifted.reserve(std::size_t(bytes.size(0)));
    for (int64_t i = 0; i < bytes.size(0); ++i)
        shifted.push_back(
            padded[i].narrow(1, offsets[i][0].item<int64_t>(), h).narrow(2, offsets[i][1].item<int64_t>(), w));
    auto out = torch::stack(shifted);
    const auto flip = torch::rand({bytes.size(0), 1, 1, 1}) < 0.5;
    return torch::where(flip, out.flip({3}), out);
}

double learningRateAt(int64_t step, int64_t warmupSteps, int64_t totalSteps, double peak)
{
    if (step < warmupSteps)
        return peak * double(step + 1) / double(warmupSteps);
    const double progress = double(step - warmupSteps) / double(std::max<int64_t>(1, totalSteps - warmupSteps));
    return peak * 0.5 * (1.0 + std::cos(M_PI * std::min(1.0, progress)));
}

// One optimizer step on the images `index` [B] of `data`: their mean loss and how many
// the model got right, both measured before the step.
std::pair<double, int64_t> trainStep(Classifier& model, const ImageSet& data, const torch::Tensor& index,
                                     const TrainOptions& o, torch::optim::Optimizer& optimizer)
{
    auto bytes = data.images.index_select(0, index);
    if (o.augment)
        bytes = augmentBatch(bytes);
    const auto x = normalizeBatch(bytes, model.spec().preprocessing).to(model.device());
    const auto y = data.labels.index_select(0, index).to(model.device());
    optimizer.zero_grad();
    const auto logits = model.logits(x, true);
    const auto loss = torch::nn::functional::cross_entropy(
        logits, y, torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(o.labelSmoothing));
    loss.backward();
    optimizer.step();
    return {loss.item<double>(), logits.argmax(1).eq(y).sum().item<int64_t>()};
}

}  // namespace

bool train(Classifier& model, const ImageSet& data, const TrainOptions& o, const TrainCallbacks& callbacks)
{
    if (data.size() < o.batchSize)
        throw EngineError("training needs at least one full batch of " + std::to_string(o.batchSize) + " images");
    const int classes = model.spec().numClasses;
    if (classes <= 0 || data.labels.min().item<int64_t>() < 0 || data.labels.max().item<int64_t>() >= classes)
        throw EngineError("the labels run from " + std::to_string(data.labels.min().item<int64_t>()) + " to "
                          + std::to_string(data.labels.max().item<int64_t>()) + " but the model has "
                          + std::to_string(classes) + " classes");
    torch::manual_seed(o.seed);
    auto params = model.parameters();
    for (auto& p : params)
        p.requires_grad_(true);
    torch::optim::AdamW optimizer(params, torch::optim::AdamWOptions(o.learningRate).weight_decay(o.weightDecay));
    auto batches = data.size() / o.batchSize;  // the last partial batch is dropped
    if (o.maxBatchesPerEpoch > 0)
        batches = std::min(batches, o.maxBatchesPerEpoch);
    const int64_t totalSteps = batches * o.epochs;
    const auto runStart = Clock::now();
    int64_t step = 0;

    for (int epoch = 1; epoch <= o.epochs; ++epoch) {
        const auto epochStart = Clock::now();
        const auto order = torch::randperm(data.size(), torch::kInt64);
        double lossSum = 0.0;
        int64_t correct = 0;
        for (int64_t b = 0; b < batches; ++b, ++step) {
            if (cancellationRequested())
                return false;
            static_cast<torch::optim::AdamWOptions&>(optimizer.param_groups()[0].options())
                .lr(learningRateAt(step, batches, totalSteps, o.learningRate));
            try {
                const auto [loss, right] = trainStep(model, data, order.narrow(0, b * o.batchSize, o.batchSize), o,
                                                     optimizer);
                lossSum += loss;
                correct += right;
            } catch (const Cancelled&) {
                return false;  // the model's own checks stopped it within the batch
            }
            if (callbacks.progress && ((b + 1) % 20 == 0 || b + 1 == batches)) {
                const double elapsed = secondsSince(runStart);
                const double rate = double((step + 1) * o.batchSize) / elapsed;
                callbacks.progress({epoch, o.epochs, b + 1, batches, lossSum / double(b + 1), rate,
                                    double(totalSteps - step - 1) * o.batchSize / rate});
            }
        }
        if (callbacks.epochDone)
            callbacks.epochDone({epoch, lossSum / double(batches), double(correct) / double(batches * o.batchSize),
                                 secondsSince(epochStart)});
    }
    return true;
}

}  // namespace attnviz::engine
