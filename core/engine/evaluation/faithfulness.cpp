#include "core/engine/evaluation/faithfulness.h"

#include "core/engine/cancellation.h"
#include "core/engine/engineerror.h"
#include "core/io/rawtensor.h"

#include <algorithm>
#include <cmath>

namespace attnviz::engine {

namespace F = torch::nn::functional;

std::string substrateName(Substrate substrate)
{
    return substrate == Substrate::Blur ? "blur" : "zero";
}

Substrate substrateFromName(const std::string& name)
{
    if (name == "blur")
        return Substrate::Blur;
    if (name == "zero")
        return Substrate::Zero;
    throw EngineError("unknown substrate '" + name + "' (blur, zero)");
}

double causalArea(const std::vector<double>& p)
{
    if (p.size() < 2)
        throw EngineError("a causal curve needs at least two points");
    double sum = 0.0;
    for (const double v : p)
        sum += v;
    return (sum - p.front() / 2 - p.back() / 2) / double(p.size() - 1);
}

namespace {

constexpr int kBlurSize = 11;       // RISE: klen
constexpr double kBlurSigma = 5.0;  // RISE: nsig

// scipy.ndimage.gaussian_filter1d(delta at the centre of kBlurSize samples, σ): a Gaussian
// truncated at 4σ whose taps outside the window fold back by scipy's default 'reflect'
// boundary (d c b a | a b c d | d c b a), so the kBlurSize weights still sum to 1.
std::vector<double> reflectedGaussian()
{
    const int radius = int(std::lround(4.0 * kBlurSigma));
    std::vector<double> taps(2 * radius + 1);
    double total = 0.0;
    for (int j = -radius; j <= radius; ++j)
        total += taps[j + radius] = std::exp(-0.5 * (j / kBlurSigma) * (j / kBlurSigma));
    std::vector<double> kernel(kBlurSize, 0.0);
    const int centre = kBlurSize / 2, period = 2 * kBlurSize;
    for (int j = -radius; j <= radius; ++j) {
        int q = ((centre + j) % period + period) % period;
        if (q >= kBlurSize)
            q = period - 1 - q;
        kernel[q] += taps[j + radius] / total;
    }
    return kernel;
}

// The rank of each pixel of `saliency` [H, W] in decreasing order (0 = most salient),
// as [H·W] int64; equal values keep row-major order.
torch::Tensor saliencyRanks(const torch::Tensor& saliency)
{
    const auto flat = saliency.reshape({-1});
    const auto order = std::get<1>(flat.sort(/*stable=*/true, /*dim=*/0, /*descending=*/true));
    auto ranks = torch::empty_like(order);
    ranks.index_put_({order}, torch::arange(order.size(0), order.options()));
    return ranks;
}

torch::Tensor substrateOf(const torch::Tensor& input, Substrate substrate)
{
    return substrate == Substrate::Blur ? blurredSubstrate(input) : torch::zeros_like(input);
}

}  // namespace

torch::Tensor inputSizedSaliency(const torch::Tensor& saliency, int64_t height, int64_t width)
{
    if (saliency.dim() != 2 || saliency.size(0) < 1 || saliency.size(1) < 1)
        throw EngineError("a saliency map must be [h, w], got " + io::shapeString(saliency.sizes().vec()));
    auto map = saliency.to(torch::kCPU, torch::kFloat32);
    if (map.size(0) == height && map.size(1) == width)
        return map;
    if (map.size(0) > height || map.size(1) > width)
        throw EngineError("a saliency map of " + io::shapeString(saliency.sizes().vec())
                          + " is larger than the input's " + std::to_string(height) + " x " + std::to_string(width));
    return F::interpolate(map.unsqueeze(0).unsqueeze(0), F::InterpolateFuncOptions()
                                                             .size(std::vector<int64_t>{height, width})
                                                             .mode(torch::kBilinear)
                                                             .align_corners(false))
        .squeeze(0)
        .squeeze(0);
}

torch::Tensor blurredSubstrate(const torch::Tensor& input)
{
    const auto k1 = reflectedGaussian();
    const auto taps = torch::tensor(std::vector<float>(k1.begin(), k1.end()));
    const auto channels = input.size(1);
    const auto kernel = torch::outer(taps, taps).expand({channels, 1, kBlurSize, kBlurSize}).contiguous();
    return F::conv2d(input.to(torch::kFloat32), kernel.to(input.device()),
                     F::Conv2dFuncOptions().padding(kBlurSize / 2).groups(channels));
}

CausalCurve causalCurve(const Classifier& model, const torch::Tensor& input, const torch::Tensor& saliency,
                        int classIndex, CausalMode mode, const FaithfulnessOptions& options,
                        const FaithfulnessProgress& progress)
{
    if (input.dim() != 4 || input.size(0) != 1)
        throw EngineError("a causal curve takes one image [1, C, H, W], got " + io::shapeString(input.sizes().vec()));
    if (options.steps < 1 || options.batch < 1)
        throw EngineError("a causal curve needs at least one step and a batch of at least one");
    torch::InferenceMode guard;
    const auto height = input.size(2), width = input.size(3), pixels = height * width;
    const auto ranks = saliencyRanks(inputSizedSaliency(saliency, height, width)).reshape({1, 1, height, width});

    // RISE: `step` pixels change per step, n = ceil(H·W / step) steps, n + 1 points.
    const auto step = (pixels + options.steps - 1) / options.steps;
    const auto points = (pixels + step - 1) / step + 1;
    const auto image = input.to(torch::kCPU, torch::kFloat32);
    const auto substrate = substrateOf(image, mode == CausalMode::Deletion ? options.deletionSubstrate
                                                                           : options.insertionSubstrate);
    const auto& start = mode == CausalMode::Deletion ? image : substrate;   // [1, C, H, W]
    const auto& finish = mode == CausalMode::Deletion ? substrate : image;  // what replaced pixels become

    CausalCurve curve;
    const int passes = int((points + options.batch - 1) / options.batch);
    for (int64_t first = 0, pass = 0; first < points; first += options.batch, ++pass) {
        throwIfCancelled();
        const auto count = std::min<int64_t>(options.batch, points - first);
        // [count, 1, 1, 1] pixels replaced at each point; a pixel is replaced once its rank is below
        const auto replaced = (torch::arange(first, first + count, torch::kInt64) * step).clamp_max(pixels);
        const auto masks = ranks < replaced.reshape({count, 1, 1, 1});  // [count, 1, H, W]
        const auto batch = torch::where(masks, finish, start);          // [count, C, H, W]
        const auto logits = model.logits(batch.to(model.device()), /*training=*/false);
        if (!logits.defined())
            throw EngineError("deletion and insertion need a model with a classifier head");
        if (classIndex >= logits.size(1))
            throw EngineError("class " + std::to_string(classIndex) + " is not among the model's "
                              + std::to_string(logits.size(1)));
        const auto probabilities = logits.softmax(1).select(1, classIndex).to(torch::kCPU, torch::kFloat64);
        for (int64_t i = 0; i < count; ++i) {
            curve.fractions.push_back(double(replaced[i].item<int64_t>()) / double(pixels));
            curve.probabilities.push_back(probabilities[i].item<double>());
        }
        if (progress)
            progress(int(pass + 1), passes);
    }
    curve.auc = causalArea(curve.probabilities);
    return curve;
}

Faithfulness faithfulness(const Classifier& model, const torch::Tensor& input, const torch::Tensor& saliency,
                          int classIndex, const FaithfulnessOptions& options, const FaithfulnessProgress& progress)
{
    Faithfulness result;
    result.classIndex = classIndex;
    if (classIndex < 0) {
        torch::InferenceMode guard;
        const auto logits = model.logits(input.to(model.device()), /*training=*/false);
        if (!logits.defined())
            throw EngineError("deletion and insertion need a model with a classifier head");
        result.classIndex = int(logits.argmax(1).item<int64_t>());
    }
    // The two curves report as one run of passes.
    int half = 0;
    const auto report = [&](int done, int total) {
        if (progress)
            progress(half * total + done, 2 * total);
    };
    result.deletion = causalCurve(model, input, saliency, result.classIndex, CausalMode::Deletion, options, report);
    half = 1;
    result.insertion = causalCurve(model, input, saliency, result.classIndex, CausalMode::Insertion, options, report);
    return result;
}

}  // namespace attnviz::engine
