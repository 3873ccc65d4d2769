#include "core/engine/views.h"

#include "core/engine/engineerror.h"
#include "core/engine/cam.h"
#include "core/engine/gradientmethods.h"
#include "core/engine/gradientsupport.h"
#include "core/engine/transformerattribution.h"

#include <algorithm>

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

ViewMaps attentionView(const Trace& trace, const ViewRequest& request)
{
    ViewMaps view;
    std::vector<torch::Tensor> rows;
    const auto& layout = trace.tokens;
    // An attention-pooling head stands for the CLS token a SigLIP lacks: its map is the
    // default, and "all" ends with it (a query patch is a block's token: blocks only).
    const bool hasPool = trace.poolAttention.defined();
    const bool poolOnly = request.layer == kPoolLayer || (request.layer.empty() && hasPool && !request.query);
    if (poolOnly && !hasPool)
        throw EngineError("this model has no attention-pooling head (layer '" + std::string(kPoolLayer) + "')");
    if (poolOnly && request.query)
        throw EngineError("a query patch selects a block's token; the attention pool's only query is its latent");
    const bool withPool = poolOnly || (request.layer == "all" && hasPool && !request.query);
    const auto blocks = poolOnly ? std::vector<int>{} : requestedBlocks(request.layer, int(trace.attentions.size()), "-1");
    for (int b : blocks) {
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
    if (withPool) {
        rows.push_back(selectHeads(poolAttentionMap(trace.poolAttention, layout), request.head, view.heads));
        view.layers.push_back(kPoolLayer);
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

int startBlock(const Trace& trace, const ViewRequest& request)
{
    return blockIndex(request.layer.empty() ? "0" : request.layer, int(trace.attentions.size()));
}

// A single rolled-out map [gridH, gridW] as a one-cell view.
ViewMaps rolledOutView(const ClassMaps& result, int start, const std::string& head)
{
    ViewMaps view;
    view.classIndex = result.classIndex;
    view.layers = {"from " + std::to_string(start)};
    view.heads = {head};
    view.maps = result.maps[0].unsqueeze(0).unsqueeze(0);
    return view;
}

ViewMaps gradientRolloutView(const Classifier& model, const Trace& trace, const ViewRequest& request)
{
    if (!isFusion(request.head))
        throw EngineError("grad-rollout fuses the heads: use --head mean, max or min");
    RolloutOptions options;
    options.fusion = headFusionFromName(request.head);
    options.discardRatio = request.discardRatio;
    options.startLayer = startBlock(trace, request);
    return rolledOutView(gradientRollout(model, trace.input, request.classIndex, options), options.startLayer,
                         request.head);
}

ViewMaps genericAttentionView(const Classifier& model, const Trace& trace, const ViewRequest& request)
{
    const int start = startBlock(trace, request);
    return rolledOutView(genericAttention(model, trace.input, request.classIndex, start), start, "mean");
}

ViewMaps transformerAttributionView(const Classifier& model, const Trace& trace, const ViewRequest& request)
{
    const int start = startBlock(trace, request);
    return rolledOutView(transformerAttribution(model, trace.input, request.classIndex, start), start, "mean");
}

ViewMaps camView(const Classifier& model, const Trace& trace, const ViewRequest& request, CamMethod method)
{
    ViewMaps view;
    CamOptions options;
    options.method = method;
    if (model.spec().family == Family::ViT) {
        for (int b : requestedBlocks(request.layer, int(trace.attentions.size()), "-1"))
            view.layers.push_back(std::to_string(b));
        options.vitInput = vitCamInputFromName(request.vitCamInput);
        view.camInput = vitCamInputName(options.vitInput);
    } else if (request.layer == "all") {
        for (const auto& [name, tensor] : trace.features)
            view.layers.push_back(name);
    } else {
        view.layers.push_back(request.layer.empty() ? trace.features.back().first : request.layer);
    }
    const auto result = classActivationMaps(model, trace.input, request.classIndex, view.layers, options);
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

// The methods explained by a ViT's attention (not the CAM family).
const std::vector<std::string>& attentionMethodNames()
{
    static const std::vector<std::string> names{"attention", "rollout", "grad-rollout", "generic-attention",
                                                "transformer-attribution"};
    return names;
}

std::string joined(const std::vector<std::string>& names)
{
    std::string out;
    for (const auto& n : names)
        out += (out.empty() ? "" : ", ") + n;
    return out;
}

}  // namespace

const std::vector<std::string>& viewMethodNames()
{
    static const std::vector<std::string> names = [] {
        auto out = attentionMethodNames();
        for (const auto& cam : camMethodNames())
            out.push_back(cam);
        return out;
    }();
    return names;
}

std::string viewRequestKey(const ViewRequest& r)
{
    std::string key = r.method + '|' + r.layer + '|' + r.head + '|' + std::to_string(r.classIndex) + '|'
                      + std::to_string(r.discardRatio) + '|' + r.vitCamInput;
    if (r.query)
        key += '|' + std::to_string(r.query->first) + ',' + std::to_string(r.query->second);
    return key;
}

ViewMaps effectiveFieldView(const torch::Tensor& erf, const std::string& layer, int row, int col)
{
    ViewMaps view;
    view.method = "erf";
    view.layers = {layer + " @" + std::to_string(row) + "," + std::to_string(col)};
    view.heads = {"-"};
    view.maps = erf.unsqueeze(0).unsqueeze(0);  // [1, 1, H, W]
    return view;
}

bool viewNeedsModel(const std::string& method)
{
    return method != "attention" && method != "rollout";
}

bool viewRollsOut(const std::string& method)
{
    return method == "rollout" || method == "grad-rollout" || method == "generic-attention"
        || method == "transformer-attribution";
}

bool viewFusesHeads(const std::string& method)
{
    return method == "rollout" || method == "grad-rollout";
}

bool viewSupports(const std::string& method, Family family)
{
    if (camMethodFromName(method))
        return true;
    const auto& vitOnly = attentionMethodNames();
    return family == Family::ViT && std::find(vitOnly.begin(), vitOnly.end(), method) != vitOnly.end();
}

ViewMaps computeView(const Classifier& model, const Trace& trace, const ViewRequest& request)
{
    const auto& names = viewMethodNames();
    if (std::find(names.begin(), names.end(), request.method) == names.end())
        throw EngineError("unknown method '" + request.method + "' (" + joined(names) + ")");
    if (!viewSupports(request.method, model.spec().family))
        throw EngineError("method '" + request.method + "' needs a ViT; a CNN offers " + joined(camMethodNames()));
    if (request.query && request.method != "attention")
        throw EngineError("a query patch only applies to the attention method");
    const auto cam = camMethodFromName(request.method);
    if (request.head != "mean" && (cam || request.method == "generic-attention"
                                   || request.method == "transformer-attribution"))
        throw EngineError("method '" + request.method + "' has no heads to choose");
    if (request.discardRatio != 0.0 && request.method != "rollout" && request.method != "grad-rollout")
        throw EngineError("a discard ratio only applies to rollout and grad-rollout");
    ViewMaps view;
    if (cam)
        view = camView(model, trace, request, *cam);
    else if (request.method == "attention")
        view = attentionView(trace, request);
    else if (request.method == "rollout")
        view = rolloutView(trace, request);
    else if (request.method == "grad-rollout")
        view = gradientRolloutView(model, trace, request);
    else if (request.method == "generic-attention")
        view = genericAttentionView(model, trace, request);
    else
        view = transformerAttributionView(model, trace, request);
    view.method = request.method;
    return view;
}

}  // namespace attnviz::engine
