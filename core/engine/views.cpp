#include "core/engine/views.h"

#include "core/engine/engineerror.h"
#include "core/engine/gradientmethods.h"

namespace attnviz::engine {
namespace {

bool isFusion(const std::string& head)
{
    return head == "mean" || head == "max" || head == "min";
}

// Per-head maps [H, h, w] -> the requested columns [K, h, w] and their labels.
torch::Tensor selectHeads(const torch::Tensor& perHead, const std::string& head, std::vector<std::string>& labels)
{
    labels.clear();
    const auto heads = perHead.size(0);
    if (head == "all") {
        for (int64_t h = 0; h < heads; ++h)
            labels.push_back(std::to_string(h));
        return perHead;
    }
    labels.push_back(head);
    if (isFusion(head))
        return fuseHeads(perHead, headFusionFromName(head)).unsqueeze(0);
    char* end = nullptr;
    const long index = std::strtol(head.c_str(), &end, 10);
    if (head.empty() || *end != '\0' || index < 0 || index >= heads)
        throw EngineError("no head '" + head + "' (use 0.." + std::to_string(heads - 1) + ", mean, max, min or all)");
    return perHead.narrow(0, index, 1);
}

std::vector<int> requestedBlocks(const std::string& layer, int depth, const std::string& fallback)
{
    std::vector<int> blocks;
    if (layer == "all") {
        for (int b = 0; b < depth; ++b)
            blocks.push_back(b);
    } else {
        blocks.push_back(blockIndex(layer.empty() ? fallback : layer, depth));
    }
    return blocks;
}

void requireViT(const Classifier& model, const std::string& method)
{
    if (model.spec().family != Family::ViT)
        throw EngineError("method '" + method + "' needs a ViT; a CNN offers gradcam");
}

ViewMaps attentionView(const Trace& trace, const ViewRequest& request)
{
    ViewMaps view;
    std::vector<torch::Tensor> rows;
    const auto& layout = trace.tokens;
    for (int b : requestedBlocks(request.layer, int(trace.attentions.size()), "-1")) {
        torch::Tensor perHead;
        if (request.query) {
            const auto [row, col] = *request.query;
            if (row < 0 || col < 0 || row >= layout.gridH || col >= layout.gridW)
                throw EngineError("query patch " + std::to_string(row) + "," + std::to_string(col) + " outside the "
                                  + std::to_string(layout.gridH) + "x" + std::to_string(layout.gridW) + " grid");
            perHead = queryAttention(trace.attentions[b], layout, layout.prefixTokens() + row * layout.gridW + col);
        } else {
            perHead = clsAttention(trace.attentions[b], layout);
        }
        rows.push_back(selectHeads(perHead, request.head, view.heads));
        view.layers.push_back(std::to_string(b));
    }
    view.maps = torch::stack(rows);
    return view;
}

ViewMaps rolloutView(const Trace& trace, const ViewRequest& request)
{
    if (request.head == "all" || !isFusion(request.head))
        throw EngineError("rollout fuses the heads: use --head mean, max or min");
    RolloutOptions options;
    options.fusion = headFusionFromName(request.head);
    options.discardRatio = request.discardRatio;
    options.startLayer = blockIndex(request.layer.empty() ? "0" : request.layer, int(trace.attentions.size()));
    ViewMaps view;
    view.layers = {"from " + std::to_string(options.startLayer)};
    view.heads = {request.head};
    view.maps = attentionRollout(trace.attentions, trace.tokens, options).unsqueeze(0).unsqueeze(0);
    return view;
}

ViewMaps gradientRolloutView(const Classifier& model, const Trace& trace, const ViewRequest& request)
{
    const int start = blockIndex(request.layer.empty() ? "0" : request.layer, int(trace.attentions.size()));
    const auto result = gradientRollout(model, trace.input, request.classIndex, start);
    ViewMaps view;
    view.classIndex = result.classIndex;
    view.layers = {"from " + std::to_string(start)};
    view.heads = {"mean"};
    view.maps = result.maps[0].unsqueeze(0).unsqueeze(0);
    return view;
}

ViewMaps gradCamView(const Classifier& model, const Trace& trace, const ViewRequest& request)
{
    ViewMaps view;
    if (model.spec().family == Family::ViT) {
        for (int b : requestedBlocks(request.layer, int(trace.attentions.size()), "-1"))
            view.layers.push_back(std::to_string(b));
    } else if (request.layer == "all") {
        for (const auto& [name, tensor] : trace.features)
            view.layers.push_back(name);
    } else {
        view.layers.push_back(request.layer.empty() ? trace.features.back().first : request.layer);
    }
    const auto result = gradCam(model, trace.input, request.classIndex, view.layers);
    view.classIndex = result.classIndex;
    view.heads = {"-"};
    // Layers of a CNN differ in resolution: each row keeps its own size only when
    // there is one; a stack of several is brought to the finest grid.
    std::vector<torch::Tensor> rows;
    auto size = result.maps[0].sizes().vec();
    for (const auto& m : result.maps)
        if (m.size(0) > size[0])
            size = m.sizes().vec();
    for (const auto& m : result.maps) {
        auto resized = m.sizes().vec() == size
                           ? m
                           : torch::nn::functional::interpolate(
                                 m.unsqueeze(0).unsqueeze(0),
                                 torch::nn::functional::InterpolateFuncOptions().size(size).mode(torch::kNearest))[0][0];
        rows.push_back(resized.unsqueeze(0));
    }
    view.maps = torch::stack(rows);
    return view;
}

}  // namespace

const std::vector<std::string>& viewMethodNames()
{
    static const std::vector<std::string> names{"attention", "rollout", "grad-rollout", "gradcam"};
    return names;
}

ViewMaps computeView(const Classifier& model, const Trace& trace, const ViewRequest& request)
{
    if (request.query && request.method != "attention")
        throw EngineError("a query patch only applies to the attention method");
    if (request.head != "mean" && (request.method == "gradcam" || request.method == "grad-rollout"))
        throw EngineError("method '" + request.method + "' has no heads to choose");
    ViewMaps view;
    if (request.method == "attention") {
        requireViT(model, request.method);
        view = attentionView(trace, request);
    } else if (request.method == "rollout") {
        requireViT(model, request.method);
        view = rolloutView(trace, request);
    } else if (request.method == "grad-rollout") {
        requireViT(model, request.method);
        view = gradientRolloutView(model, trace, request);
    } else if (request.method == "gradcam") {
        view = gradCamView(model, trace, request);
    } else {
        throw EngineError("unknown method '" + request.method + "' (attention, rollout, grad-rollout, gradcam)");
    }
    view.method = request.method;
    return view;
}

}  // namespace attnviz::engine
