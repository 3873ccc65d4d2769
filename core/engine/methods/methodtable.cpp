#include "core/engine/methods/methodtable.h"

#include "core/engine/engineerror.h"
#include "core/engine/methods/cam.h"

namespace attnviz::engine {
namespace {

std::string aModelOf(Family family)
{
    return family == Family::ViT ? "a ViT" : "a CNN";
}

void checkRequest(const MethodInfo& info, const Family family, const ViewRequest& request)
{
    const std::string name = info.name;
    if (!info.supports(family)) {
        const auto other = family == Family::ViT ? Family::CNN : Family::ViT;
        throw EngineError("method '" + name + "' needs " + aModelOf(other) + "; " + aModelOf(family) + " offers "
                          + methodNames(family));
    }
    if (request.query && !info.query && info.layer != MethodLayer::Unit) {
        std::string takers;
        for (const auto& m : methodTable())
            if (m.query)
                takers += (takers.empty() ? "" : ", ") + std::string(m.name);
        throw EngineError("a query position only applies to " + takers);
    }
    if (info.layer == MethodLayer::Input && !request.layer.isDefault())
        throw EngineError("method '" + name + "' has no layer: its map is over the model input");
    if (info.layer == MethodLayer::Unit && !request.query)
        throw EngineError("method '" + name + "' needs the unit whose field it is (--query ROW,COL)");
    const bool meanOfAll = request.head.isFused() && request.head.fusion == HeadFusion::Mean;
    if (info.heads == MethodHeads::None && !meanOfAll)
        throw EngineError("method '" + name + "' has no heads to choose");
    if (info.heads == MethodHeads::Fuse && !request.head.isFused())
        throw EngineError(name + " fuses the heads: use --head mean, max or min");
    if (request.discardRatio != 0.0 && !info.fusesHeads())
        throw EngineError("a discard ratio only applies to rollout and grad-rollout");
    for (const auto& setting : settingTable())
        if (!info.takes(setting.setting) && !request.settings.isDefault(setting.setting))
            throw EngineError(std::string(setting.name) + " only applies to " + methodsTaking(setting.setting));
}

}  // namespace

bool MethodInfo::supports(Family family) const
{
    return families == MethodFamilies::Both || (families == MethodFamilies::ViT) == (family == Family::ViT);
}

const std::vector<MethodInfo>& methodTable()
{
#define ATTNVIZ_METHOD_ROW(id, name, citation, families, source, heads, layer, query, camInput, settings, explains,    \
                           compute)                                                                                    \
    {ViewMethod::id,     name,  citation, MethodFamilies::families, MethodSource::source,     MethodHeads::heads,      \
     MethodLayer::layer, query, camInput, setting_sets::settings,   MethodExplains::explains, compute},
    static const std::vector<MethodInfo> table{ATTNVIZ_VIEW_METHODS(ATTNVIZ_METHOD_ROW)};
#undef ATTNVIZ_METHOD_ROW
    return table;
}

const MethodInfo& methodInfo(ViewMethod method)
{
    const auto& table = methodTable();
    const auto index = std::size_t(method);
    if (index >= table.size())
        throw EngineError("unknown view method " + std::to_string(index));
    return table[index];  // the enum is generated from the rows in their order
}

std::string methodsTaking(MethodSetting setting)
{
    std::string names;
    for (const auto& info : methodTable())
        if (info.takes(setting))
            names += (names.empty() ? "" : ", ") + std::string(info.name);
    return names;
}

MethodSettings settingsFor(ViewMethod method, const MethodSettings& chosen)
{
    const auto& info = methodInfo(method);
    MethodSettings out;
    for (const auto& setting : settingTable())
        if (info.takes(setting.setting))
            out.set(setting.setting, chosen.value(setting.setting));
    return out;
}

std::string viewMethodName(ViewMethod method)
{
    return methodInfo(method).name;
}

ViewMethod viewMethodFromName(const std::string& name)
{
    std::string all;
    for (const auto& info : methodTable()) {
        if (name == info.name)
            return info.method;
        all += (all.empty() ? "" : ", ") + std::string(info.name);
    }
    throw EngineError("unknown method '" + name + "' (" + all + ")");
}

std::string methodNames(Family family)
{
    std::string out;
    for (const auto& info : methodTable())
        if (info.supports(family))
            out += (out.empty() ? "" : ", ") + std::string(info.name);
    return out;
}

ViewMaps computeView(const Classifier& model, const Trace& trace, const ViewRequest& request)
{
    // A batch of one: a gradient CAM of the last layer resumes from the trace (one block
    // of a ViT with gradients, not the whole model).
    return computeViews(model, {&trace}, request).front();
}

std::vector<ViewMaps> computeViews(const Classifier& model, const std::vector<const Trace*>& traces,
                                   const ViewRequest& request)
{
    const auto& info = methodInfo(request.method);
    checkRequest(info, model.spec().family, request);
    if (info.camInput && camNeedsGradient(request.method))
        return gradientCamViewsOfBatch(model, traces, request);
    std::vector<ViewMaps> views;
    views.reserve(traces.size());
    for (const auto* trace : traces) {
        views.push_back(info.compute(model, *trace, request));
        views.back().method = request.method;
    }
    return views;
}

}  // namespace attnviz::engine
