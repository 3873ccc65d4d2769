#include "core/engine/methods/view.h"

#include "core/engine/engineerror.h"
#include "core/engine/methods/gradientsupport.h"
#include "core/engine/methods/methodtable.h"

#include <cstdint>
#include <cstdlib>

namespace attnviz::engine {

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

VitCamInput vitCamInputFromName(const std::string& name)
{
    if (name == "norm1")
        return VitCamInput::Norm1Output;
    if (name == "residual")
        return VitCamInput::ResidualStream;
    throw EngineError("unknown ViT CAM input '" + name + "' (use norm1 or residual)");
}

std::string vitCamInputName(VitCamInput input)
{
    return input == VitCamInput::Norm1Output ? "norm1" : "residual";
}

std::string viewRequestKey(const ViewRequest& r)
{
    std::string key = viewMethodName(r.method) + '|' + r.layer.text() + '|' + headChoiceName(r.head) + '|'
                      + std::to_string(r.classIndex) + '|' + std::to_string(r.discardRatio) + '|'
                      + vitCamInputName(r.vitCamInput);
    for (const auto& setting : settingTable())
        key += '|' + r.settings.text(setting.setting);
    if (r.query)
        key += '|' + std::to_string(r.query->first) + ',' + std::to_string(r.query->second);
    if (r.featureBases)  // bases fitted elsewhere: equal only to the same bases
        key += "|bases@" + std::to_string(reinterpret_cast<std::uintptr_t>(r.featureBases.get()));
    return key;
}

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

std::vector<int> requestedBlocks(const LayerSelector& layer, int depth, int fallback)
{
    std::vector<int> blocks;
    if (layer.isAll()) {
        for (int b = 0; b < depth; ++b)
            blocks.push_back(b);
    } else {
        blocks.push_back((layer.isDefault() ? LayerSelector::block(fallback) : layer).blockIn(depth));
    }
    return blocks;
}

int rolloutStartBlock(const Trace& trace, const ViewRequest& request)
{
    const auto start = request.layer.isDefault() ? LayerSelector::block(0) : request.layer;
    return start.blockIn(trace.attention.depth());
}

ViewMaps singleMapView(const torch::Tensor& map, const std::string& layer, const std::string& head)
{
    ViewMaps view;
    view.layers = {layer};
    view.heads = {head};
    view.maps = map.unsqueeze(0).unsqueeze(0);  // [1, 1, h, w]
    return view;
}

ViewMaps rolledOutView(const torch::Tensor& map, int start, const std::string& head, std::optional<int> classIndex)
{
    auto view = singleMapView(map, kRolledOutFrom + std::to_string(start), head);
    view.classIndex = classIndex;
    return view;
}

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
                                               torch::nn::functional::InterpolateFuncOptions().size(size).mode(
                                                   torch::kNearest))
                .reshape(shape);
    }
    return maps;
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
