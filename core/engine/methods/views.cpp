#include "core/engine/methods/views.h"

#include "core/engine/engineerror.h"
#include "core/engine/methods/cam.h"
#include "core/engine/methods/gradientmethods.h"
#include "core/engine/methods/gradientsupport.h"
#include "core/engine/methods/transformerattribution.h"

#include <algorithm>

namespace attnviz::engine {
namespace {

// Per-head maps [H, h, w] -> the requested columns [K, h, w] and their labels.
torch::Tensor selectHeads(const torch::Tensor& perHead, const HeadChoice& head, std::vector<std::string>& labels)
{
    labels.clear();
    const auto heads = perHead.size(0);
    switch (head.kind) {
    case HeadChoice::Kind::All:
        for (int64_t h = 0; h < heads; ++h)
            labels.push_back(std::to_string(h));
        return perHead;
    case HeadChoice::Kind::Fused:
        labels.push_back(headChoiceName(head));
        return fuseHeads(perHead, head.fusion).unsqueeze(0);
    case HeadChoice::Kind::One: break;
    }
    if (head.index < 0 || head.index >= heads)
        throw EngineError("no head " + std::to_string(head.index) + " (use 0.." + std::to_string(heads - 1)
                          + ", mean, max, min or all)");
    labels.push_back(headChoiceName(head));
    return perHead.narrow(0, head.index, 1);
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
    if (!request.head.isFused())
        throw EngineError("rollout fuses the heads: use --head mean, max or min");
    RolloutOptions options;
    options.fusion = request.head.fusion;
    options.discardRatio = request.discardRatio;
    options.startLayer = blockIndex(request.layer.empty() ? "0" : request.layer, int(trace.attentions.size()));
    ViewMaps view;
    view.layers = {"from " + std::to_string(options.startLayer)};
    view.heads = {headChoiceName(request.head)};
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
    if (!request.head.isFused())
        throw EngineError("grad-rollout fuses the heads: use --head mean, max or min");
    RolloutOptions options;
    options.fusion = request.head.fusion;
    options.discardRatio = request.discardRatio;
    options.startLayer = startBlock(trace, request);
    return rolledOutView(gradientRollout(model, trace.input, request.classIndex, options), options.startLayer,
                         headChoiceName(request.head));
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

// Layers of a CNN differ in resolution: maps [..., h, w] keep their own size only when
// they all share it; otherwise each is brought to the finest grid (nearest neighbour).
std::vector<torch::Tensor> onFinestGrid(std::vector<torch::Tensor> maps)
{
    std::vector<int64_t> size{maps[0].size(-2), maps[0].size(-1)};
    for (const auto& m : maps)
        if (m.size(-2) > size[0])
            size = {m.size(-2), m.size(-1)};
    for (auto& m : maps) {
        if (m.size(-2) == size[0] && m.size(-1) == size[1])
            continue;
        auto shape = m.sizes().vec();
        shape.end()[-2] = size[0];
        shape.end()[-1] = size[1];
        m = torch::nn::functional::interpolate(m.reshape({1, -1, m.size(-2), m.size(-1)}),  // [1, rest, h, w]
                                               torch::nn::functional::InterpolateFuncOptions().size(size).mode(torch::kNearest))
                .reshape(shape);
    }
    return maps;
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
    std::vector<torch::Tensor> rows;  // [1, h, w] each
    for (const auto& m : result.maps)
        rows.push_back(m.unsqueeze(0));
    view.maps = torch::stack(onFinestGrid(rows));
    return view;
}

struct MethodEntry {
    ViewMethod method;
    const char* name;  // nullptr: the CAM's own name (cam.h)
    std::optional<CamMethod> cam;
};

const MethodEntry kMethods[] = {
    {ViewMethod::Attention, "attention", std::nullopt},
    {ViewMethod::Rollout, "rollout", std::nullopt},
    {ViewMethod::GradRollout, "grad-rollout", std::nullopt},
    {ViewMethod::GenericAttention, "generic-attention", std::nullopt},
    {ViewMethod::TransformerAttribution, "transformer-attribution", std::nullopt},
    {ViewMethod::GradCam, nullptr, CamMethod::GradCam},
    {ViewMethod::GradCamPlusPlus, nullptr, CamMethod::GradCamPlusPlus},
    {ViewMethod::XGradCam, nullptr, CamMethod::XGradCam},
    {ViewMethod::HiResCam, nullptr, CamMethod::HiResCam},
    {ViewMethod::LayerCam, nullptr, CamMethod::LayerCam},
    {ViewMethod::EigenCam, nullptr, CamMethod::EigenCam},
    {ViewMethod::ScoreCam, nullptr, CamMethod::ScoreCam},
    {ViewMethod::AblationCam, nullptr, CamMethod::AblationCam},
    {ViewMethod::EffectiveField, "erf", std::nullopt},
};

const MethodEntry& entryOf(ViewMethod method)
{
    for (const auto& e : kMethods)
        if (e.method == method)
            return e;
    throw EngineError("unknown view method");
}

std::string joinedNames(const std::vector<ViewMethod>& methods)
{
    std::string out;
    for (const auto m : methods)
        out += (out.empty() ? "" : ", ") + viewMethodName(m);
    return out;
}

std::vector<ViewMethod> camMethods()
{
    std::vector<ViewMethod> out;
    for (const auto& e : kMethods)
        if (e.cam)
            out.push_back(e.method);
    return out;
}

}  // namespace

std::string headChoiceName(const HeadChoice& choice)
{
    switch (choice.kind) {
    case HeadChoice::Kind::One: return std::to_string(choice.index);
    case HeadChoice::Kind::All: return "all";
    case HeadChoice::Kind::Fused: break;
    }
    switch (choice.fusion) {
    case HeadFusion::Max: return "max";
    case HeadFusion::Min: return "min";
    case HeadFusion::Mean: break;
    }
    return "mean";
}

HeadChoice headChoiceFromName(const std::string& name)
{
    if (name == "all")
        return HeadChoice::all();
    if (name == "mean" || name == "max" || name == "min")
        return HeadChoice::fused(headFusionFromName(name));
    char* end = nullptr;
    const long index = std::strtol(name.c_str(), &end, 10);
    if (name.empty() || *end != '\0' || index < 0 || index > 4096)
        throw EngineError("no head '" + name + "' (use a head index, mean, max, min or all)");
    return HeadChoice::one(int(index));
}

std::string viewMethodName(ViewMethod method)
{
    const auto& e = entryOf(method);
    return e.cam ? camMethodName(*e.cam) : std::string(e.name);
}

ViewMethod viewMethodFromName(const std::string& name)
{
    for (const auto& e : kMethods)
        if (viewMethodName(e.method) == name)
            return e.method;
    throw EngineError("unknown method '" + name + "' (" + joinedNames(viewMethods()) + ")");
}

const std::vector<ViewMethod>& viewMethods()
{
    static const std::vector<ViewMethod> methods = [] {
        std::vector<ViewMethod> out;
        for (const auto& e : kMethods)
            if (e.method != ViewMethod::EffectiveField)
                out.push_back(e.method);
        return out;
    }();
    return methods;
}

std::optional<CamMethod> camMethodOf(ViewMethod method) { return entryOf(method).cam; }

bool viewNeedsModel(ViewMethod method)
{
    return method != ViewMethod::Attention && method != ViewMethod::Rollout;
}

bool viewRollsOut(ViewMethod method)
{
    return method == ViewMethod::Rollout || method == ViewMethod::GradRollout || method == ViewMethod::GenericAttention
        || method == ViewMethod::TransformerAttribution;
}

bool viewFusesHeads(ViewMethod method) { return method == ViewMethod::Rollout || method == ViewMethod::GradRollout; }

bool viewSupports(ViewMethod method, Family family)
{
    if (camMethodOf(method))
        return true;
    if (method == ViewMethod::EffectiveField)
        return family == Family::CNN;
    return family == Family::ViT;
}

std::string viewRequestKey(const ViewRequest& r)
{
    std::string key = viewMethodName(r.method) + '|' + r.layer + '|' + headChoiceName(r.head) + '|' + std::to_string(r.classIndex) + '|'
                      + std::to_string(r.discardRatio) + '|' + r.vitCamInput;
    if (r.query)
        key += '|' + std::to_string(r.query->first) + ',' + std::to_string(r.query->second);
    return key;
}

ViewMaps effectiveFieldView(const torch::Tensor& erf, const std::string& layer, int row, int col)
{
    ViewMaps view;
    view.method = ViewMethod::EffectiveField;
    view.layers = {layer + " @" + std::to_string(row) + "," + std::to_string(col)};
    view.heads = {"-"};
    view.maps = erf.unsqueeze(0).unsqueeze(0);  // [1, 1, H, W]
    return view;
}

ViewMaps computeView(const Classifier& model, const Trace& trace, const ViewRequest& request)
{
    const auto method = request.method;
    const auto name = viewMethodName(method);
    if (method == ViewMethod::EffectiveField)
        throw EngineError("method 'erf' is a CNN unit's effective receptive field, not a view of a trace (attnviz-cli erf)");
    if (!viewSupports(method, model.spec().family))
        throw EngineError("method '" + name + "' needs a ViT; a CNN offers " + joinedNames(camMethods()));
    if (request.query && method != ViewMethod::Attention)
        throw EngineError("a query patch only applies to the attention method");
    const auto cam = camMethodOf(method);
    if (!(request.head.isFused() && request.head.fusion == HeadFusion::Mean)
        && (cam || method == ViewMethod::GenericAttention || method == ViewMethod::TransformerAttribution))
        throw EngineError("method '" + name + "' has no heads to choose");
    if (request.discardRatio != 0.0 && !viewFusesHeads(method))
        throw EngineError("a discard ratio only applies to rollout and grad-rollout");
    ViewMaps view;
    switch (method) {
    case ViewMethod::Attention: view = attentionView(trace, request); break;
    case ViewMethod::Rollout: view = rolloutView(trace, request); break;
    case ViewMethod::GradRollout: view = gradientRolloutView(model, trace, request); break;
    case ViewMethod::GenericAttention: view = genericAttentionView(model, trace, request); break;
    case ViewMethod::TransformerAttribution: view = transformerAttributionView(model, trace, request); break;
    default: view = camView(model, trace, request, *cam); break;
    }
    view.method = method;
    return view;
}

ViewMaps joinViews(const std::vector<ViewMaps>& parts, ViewAxis axis)
{
    if (parts.empty())
        throw EngineError("no views to join");
    ViewMaps joined = parts.front();
    if (parts.size() == 1)
        return joined;
    std::vector<torch::Tensor> maps;
    for (const auto& part : parts) {
        if (part.method != joined.method || part.classIndex != joined.classIndex)
            throw EngineError("only views of one method and class can be joined");
        const auto& kept = axis == ViewAxis::Layers ? part.heads : part.layers;
        if (kept != (axis == ViewAxis::Layers ? joined.heads : joined.layers))
            throw EngineError("views joined along one axis must agree on the other");
        maps.push_back(part.maps);
    }
    auto& labels = axis == ViewAxis::Layers ? joined.layers : joined.heads;
    labels.clear();
    for (const auto& part : parts) {
        const auto& more = axis == ViewAxis::Layers ? part.layers : part.heads;
        labels.insert(labels.end(), more.begin(), more.end());
    }
    joined.maps = torch::cat(onFinestGrid(maps), axis == ViewAxis::Layers ? 0 : 1);
    return joined;
}

}  // namespace attnviz::engine
