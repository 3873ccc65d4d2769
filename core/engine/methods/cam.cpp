#include "core/engine/methods/cam.h"

#include "core/engine/cancellation.h"
#include "core/engine/engineerror.h"
#include "core/engine/methods/gradientsupport.h"
#include "core/engine/methods/methodtable.h"

#include <algorithm>

namespace attnviz::engine {
namespace {

namespace F = torch::nn::functional;

// One requested layer: what the model computed there and its name for a replaced pass.
struct CamLayer {
    torch::Tensor target;     // CNN [1, C, h, w]; ViT [1, T, D] (with its graph when differentiable)
    std::string replaceName;  // LayerReplacement::layer
};

CamLayer camLayer(const Classifier& model, const Activations& acts, const std::string& layer, VitCamInput input)
{
    if (model.spec().family != Family::ViT)
        return {acts.feature(layer), layer};
    const int b = blockIndex(layer, int(acts.norm1Outputs.size()));
    if (input == VitCamInput::Norm1Output)
        return {acts.norm1Outputs[b], std::to_string(b) + ".norm1"};
    return {acts.tokenStates[b], std::to_string(b)};
}

// A layer's tensor for image `image` as channels-first grid [C, h, w]; a ViT's prefix
// tokens are dropped (pytorch-grad-cam's reshape_transform).
torch::Tensor asGrid(const torch::Tensor& t, const Activations& acts, bool vit, int64_t image = 0)
{
    return vit ? patchGrid(t[image], acts.tokens) : t[image];
}

// ReLU(Σ_k w_k F_k): weights [C], features [C, h, w] -> [h, w]
torch::Tensor weightedSum(const torch::Tensor& weights, const torch::Tensor& features)
{
    return torch::relu((weights.view({-1, 1, 1}) * features).sum(0));
}

// The five gradient methods; features and grads [C, h, w] -> [h, w].
torch::Tensor gradientCam(ViewMethod method, const torch::Tensor& f, const torch::Tensor& g)
{
    switch (method) {
    case ViewMethod::GradCam: return weightedSum(g.mean({1, 2}), f);
    case ViewMethod::GradCamPlusPlus: {
        // Chattopadhay et al. eq. 19 with exp(score) folded away, as pytorch-grad-cam:
        // a = g² / (2g² + Σ_ij F · g³ + eps), zero where g = 0; w = Σ_ij ReLU(g) a.
        const auto g2 = g * g;
        const auto g3 = g2 * g;
        const auto sumF = f.sum({1, 2}, /*keepdim=*/true);  // [C, 1, 1]
        auto a = g2 / (2 * g2 + sumF * g3 + 1e-6);
        a = torch::where(g != 0, a, torch::zeros_like(a));
        return weightedSum((torch::relu(g) * a).sum({1, 2}), f);
    }
    case ViewMethod::XGradCam: {
        const auto sumF = f.sum({1, 2}, /*keepdim=*/true);
        return weightedSum((g * f / (sumF + 1e-7)).sum({1, 2}), f);
    }
    case ViewMethod::HiResCam: return torch::relu((g * f).sum(0));
    case ViewMethod::LayerCam: return torch::relu((torch::relu(g) * f).sum(0));
    default: throw EngineError("not a gradient CAM: " + viewMethodName(method));
    }
}

// Features [C, h, w] projected on their first principal component over the positions,
// [h, w]. The SVD's sign is arbitrary; it is chosen so that the larger magnitude is
// positive (pytorch-grad-cam's sign correction, Seg-Eigen-CAM eq. 13), then ReLU.
torch::Tensor eigenCam(const torch::Tensor& f)
{
    const auto c = f.size(0);
    auto x = f.reshape({c, -1}).t().to(torch::kFloat64);  // [hw, C]
    x = x - x.mean(0, /*keepdim=*/true);
    const auto vh = std::get<2>(torch::linalg::svd(x, /*full_matrices=*/false, c10::nullopt));  // [k, C]
    auto projection = torch::matmul(x, vh[0]);                                                  // [hw]
    if (projection.min().abs().item<double>() > projection.max().abs().item<double>())
        projection = -projection;
    return torch::relu(projection).reshape({f.size(1), f.size(2)}).to(torch::kFloat32);
}

// Score-CAM weights [C]: each channel, upsampled bilinearly (corners aligned, as
// torch's UpsamplingBilinear2d) to the input and min-max scaled to [0, 1], masks the
// input; the softmax over channels of the class logit of each masked input.
torch::Tensor scoreCamWeights(const Classifier& model, const torch::Tensor& input, const torch::Tensor& f,
                              int classIndex, int batchSize)
{
    const auto c = f.size(0);
    std::vector<torch::Tensor> scores;
    for (int64_t start = 0; start < c; start += batchSize) {
        throwIfCancelled();
        const auto n = std::min<int64_t>(batchSize, c - start);
        auto masks = F::interpolate(f.narrow(0, start, n).unsqueeze(0),
                                    F::InterpolateFuncOptions()
                                        .size(std::vector<int64_t>{input.size(2), input.size(3)})
                                        .mode(torch::kBilinear)
                                        .align_corners(true))[0];  // [n, H, W]
        const auto flat = masks.reshape({n, -1});
        const auto lo = std::get<0>(flat.min(1)).view({n, 1, 1});
        const auto hi = std::get<0>(flat.max(1)).view({n, 1, 1});
        masks = (masks - lo) / (hi - lo + 1e-8);
        const auto masked = input * masks.unsqueeze(1);  // [1, C_in, H, W] * [n, 1, H, W]
        scores.push_back(model.logits(masked, /*training=*/false).select(1, classIndex));
    }
    return torch::softmax(torch::cat(scores), 0);
}

// Ablation-CAM weights [C]: (s - s_k) / s, with s the class logit and s_k the logit
// when channel k of the layer is zeroed, everywhere (for a ViT in every token). Each
// pass runs the layers before the target once and those after it for a batch of
// channels: as many as fit in kAblationBytes of replaced activations, at least
// `minBatch`, so that a layer near the head costs a few forward passes.
constexpr int64_t kAblationBytes = int64_t(64) << 20;

torch::Tensor ablationCamWeights(const Classifier& model, const torch::Tensor& input, const CamLayer& layer,
                                 int classIndex, double score, int minBatch)
{
    const auto original = layer.target[0].detach();  // CNN [C, h, w]; ViT [T, D]
    const bool vit = model.spec().family == Family::ViT;
    const auto c = vit ? original.size(1) : original.size(0);
    const auto bytesPerChannel = original.numel() * int64_t(original.element_size());
    const auto batchSize = std::max<int64_t>(minBatch, kAblationBytes / std::max<int64_t>(bytesPerChannel, 1));
    std::vector<torch::Tensor> scores;
    for (int64_t start = 0; start < c; start += batchSize) {
        throwIfCancelled();
        const auto n = std::min<int64_t>(batchSize, c - start);
        // keep [n, C]: row i zero at channel start + i
        auto keep = torch::ones({n, c}, original.options());
        const auto rows = torch::arange(n, torch::TensorOptions(torch::kLong).device(original.device()));
        keep.index_put_({rows, rows + start}, 0.0);
        const auto value = vit ? original.unsqueeze(0) * keep.unsqueeze(1)         // [n, T, D]
                               : original.unsqueeze(0) * keep.view({n, c, 1, 1});  // [n, C, h, w]
        scores.push_back(model.logitsReplacing(input, {layer.replaceName, value}).select(1, classIndex));
    }
    return (score - torch::cat(scores)) / score;
}

}  // namespace

bool camNeedsGradient(ViewMethod method)
{
    return method != ViewMethod::EigenCam && method != ViewMethod::ScoreCam && method != ViewMethod::AblationCam;
}

ClassMaps classActivationMaps(const Classifier& model, const torch::Tensor& input, int classIndex,
                              const std::vector<std::string>& layers, const CamOptions& options)
{
    if (!methodInfo(options.method).camInput)
        throw EngineError("method '" + viewMethodName(options.method) + "' is not a CAM");
    if (options.batchSize < 1)
        throw EngineError("CAM batch size must be at least 1");
    const bool vit = model.spec().family == Family::ViT;
    const bool gradient = camNeedsGradient(options.method);
    torch::AutoGradMode gradMode(gradient);
    const auto x = input.to(model.device(), torch::kFloat32);
    const auto acts = gradient ? differentiableForward(model, x) : model.activations(x);
    ClassMaps out;
    out.classIndex = classIndex;
    const auto score = classScore(acts.logits, out.classIndex);
    std::vector<CamLayer> targets;
    targets.reserve(layers.size());
    for (const auto& layer : layers)
        targets.push_back(camLayer(model, acts, layer, options.vitInput));

    std::vector<torch::Tensor> grads;
    if (gradient) {
        std::vector<torch::Tensor> tensors;
        tensors.reserve(targets.size());
        for (const auto& t : targets)
            tensors.push_back(t.target);
        grads = gradientsOf(score, tensors);  // one backward for all layers
    }
    for (std::size_t i = 0; i < targets.size(); ++i) {
        const auto f = asGrid(targets[i].target, acts, vit).detach();
        torch::Tensor map;
        switch (options.method) {
        case ViewMethod::EigenCam: map = eigenCam(f); break;
        case ViewMethod::ScoreCam:
            map = weightedSum(scoreCamWeights(model, x, f, out.classIndex, options.batchSize), f);
            break;
        case ViewMethod::AblationCam:
            map = weightedSum(ablationCamWeights(model, x, targets[i], out.classIndex, score.item<double>(),
                                                 options.batchSize),
                              f);
            break;
        default: map = gradientCam(options.method, f, asGrid(grads[i], acts, vit));
        }
        out.maps.push_back(map.to(torch::kCPU, torch::kFloat32));
    }
    return out;
}

namespace {

void checkGradientCam(const CamOptions& options)
{
    if (!methodInfo(options.method).camInput || !camNeedsGradient(options.method))
        throw EngineError("method '" + viewMethodName(options.method) + "' is not a gradient CAM");
}

// The gradient CAMs of a batch's differentiable activations (N images) at `layers`,
// from one backward of the sum of each image's class logit.
std::vector<ClassMaps> camsOfActivations(const Classifier& model, const Activations& acts,
                                         const std::vector<int>& classIndices, const std::vector<std::string>& layers,
                                         const CamOptions& options)
{
    const bool vit = model.spec().family == Family::ViT;
    std::vector<ClassMaps> out(classIndices.size());
    torch::Tensor score;  // Σ_n logit_n[c_n]: its gradient at image n is image n's own
    for (std::size_t n = 0; n < out.size(); ++n) {
        out[n].classIndex = classIndices[n];
        const auto s = classScore(acts.logits, out[n].classIndex, int64_t(n));
        score = score.defined() ? score + s : s;
    }
    std::vector<torch::Tensor> targets;
    targets.reserve(layers.size());
    for (const auto& layer : layers)
        targets.push_back(camLayer(model, acts, layer, options.vitInput).target);
    const auto grads = gradientsOf(score, targets);  // one backward for every image and layer
    for (std::size_t n = 0; n < out.size(); ++n)
        for (std::size_t i = 0; i < targets.size(); ++i) {
            const auto f = asGrid(targets[i], acts, vit, int64_t(n)).detach();
            const auto map = gradientCam(options.method, f, asGrid(grads[i], acts, vit, int64_t(n)));
            out[n].maps.push_back(map.to(torch::kCPU, torch::kFloat32));
        }
    return out;
}

}  // namespace

std::vector<ClassMaps> gradientCamsOfBatch(const Classifier& model, const torch::Tensor& batch,
                                           const std::vector<int>& classIndices, const std::vector<std::string>& layers,
                                           const CamOptions& options)
{
    checkGradientCam(options);
    if (batch.dim() != 4 || std::size_t(batch.size(0)) != classIndices.size())
        throw EngineError("a batch of CAMs takes images [N, C, H, W] and one class per image");
    torch::AutoGradMode gradMode(true);
    const auto acts = differentiableForward(model, batch.to(model.device(), torch::kFloat32));
    return camsOfActivations(model, acts, classIndices, layers, options);
}

namespace {

// What a CAM request computes: the method at each requested layer (ViT blocks, default
// the last; CNN layers, default the last feature; "all").
struct CamRequest {
    CamOptions options;
    std::vector<std::string> layers;
};

CamRequest camRequest(const Classifier& model, const Trace& trace, const ViewRequest& request)
{
    CamRequest r;
    r.options.method = request.method;
    if (model.spec().family == Family::ViT) {
        for (int b : requestedBlocks(request.layer, trace.attention.depth(), -1))
            r.layers.push_back(std::to_string(b));
        r.options.vitInput = request.vitCamInput;
    } else if (request.layer.isAll()) {
        for (const auto& [name, tensor] : trace.features)
            r.layers.push_back(name);
    } else {
        r.layers.push_back(request.layer.isDefault() ? trace.features.back().first : request.layer.text());
    }
    return r;
}

// The view of a CAM request's maps: a row per layer, on the finest grid among them.
ViewMaps camViewOf(const Classifier& model, const CamRequest& r, const ClassMaps& result)
{
    ViewMaps view;
    view.layers = r.layers;
    if (model.spec().family == Family::ViT)
        view.camInput = vitCamInputName(r.options.vitInput);
    view.classIndex = result.classIndex;
    view.heads = {"-"};
    std::vector<torch::Tensor> rows;  // [1, h, w] each
    for (const auto& m : result.maps)
        rows.push_back(m.unsqueeze(0));
    view.maps = torch::stack(onFinestGrid(rows));
    view.method = r.options.method;
    return view;
}

}  // namespace

ViewMaps camView(const Classifier& model, const Trace& trace, const ViewRequest& request)
{
    const auto r = camRequest(model, trace, request);
    return camViewOf(model, r, classActivationMaps(model, trace.input, request.classIndex, r.layers, r.options));
}

namespace {

// Whether the request is for the last layer alone and every trace kept that layer's
// input, so that the CAMs can resume the pass there (Trace::lastLayerInput).
bool resumesAtLastLayer(const Classifier& model, const std::vector<const Trace*>& traces,
                        const std::vector<std::string>& layers)
{
    const auto& first = *traces.front();
    const std::string last = model.spec().family == Family::ViT
                                 ? std::to_string(first.attention.depth() - 1)
                                 : (first.features.empty() ? std::string() : first.features.back().first);
    if (layers.size() != 1 || layers.front() != last)
        return false;
    return std::all_of(traces.begin(), traces.end(), [](const Trace* t) { return t->lastLayerInput.defined(); });
}

}  // namespace

std::vector<ClassMaps> gradientCamsAtLastLayer(const Classifier& model, const std::vector<const Trace*>& traces,
                                               const std::vector<int>& classIndices, const CamOptions& options)
{
    checkGradientCam(options);
    if (traces.empty() || traces.size() != classIndices.size())
        throw EngineError("CAMs of traces take one class per trace");
    std::vector<torch::Tensor> inputs;  // [1, T, D] or [1, C, h, w] each
    inputs.reserve(traces.size());
    for (const auto* t : traces)
        inputs.push_back(t->lastLayerInput);
    torch::AutoGradMode gradMode(true);
    // A leaf that wants gradients: what the last layer computes from it is differentiable.
    const auto resumed = torch::cat(inputs).to(model.device(), torch::kFloat32).detach().requires_grad_(true);
    const auto acts = model.activationsOfLastLayer(resumed, traces.front()->tokens);
    const std::string layer = model.spec().family == Family::ViT ? std::to_string(acts.norm1Outputs.size() - 1)
                                                                 : acts.features.back().first;
    return camsOfActivations(model, acts, classIndices, {layer}, options);
}

std::vector<ViewMaps> gradientCamViewsOfBatch(const Classifier& model, const std::vector<const Trace*>& traces,
                                              const ViewRequest& request)
{
    std::vector<ViewMaps> views;
    views.reserve(traces.size());
    if (traces.empty())
        return views;
    const auto r = camRequest(model, *traces.front(), request);
    const std::vector<int> classes(traces.size(), request.classIndex);
    if (resumesAtLastLayer(model, traces, r.layers)) {
        for (const auto& m : gradientCamsAtLastLayer(model, traces, classes, r.options))
            views.push_back(camViewOf(model, r, m));
        return views;
    }
    std::vector<torch::Tensor> inputs;
    inputs.reserve(traces.size());
    for (const auto* t : traces)
        inputs.push_back(t->input);
    const auto maps = gradientCamsOfBatch(model, torch::cat(inputs), classes, r.layers, r.options);
    for (const auto& m : maps)
        views.push_back(camViewOf(model, r, m));
    return views;
}

}  // namespace attnviz::engine
