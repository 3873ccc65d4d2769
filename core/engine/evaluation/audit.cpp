#include "core/engine/evaluation/audit.h"

#include "core/engine/engineerror.h"
#include "core/engine/evaluation/maskscores.h"
#include "core/engine/evaluation/randomisation.h"

#include <algorithm>

namespace attnviz::engine {

std::vector<ViewMethod> auditableMethods(Family family)
{
    std::vector<ViewMethod> out;
    for (const auto& info : methodTable())
        if (info.supports(family) && (info.source == MethodSource::Trace || info.explainsClass()))
            out.push_back(info.method);
    return out;
}

std::vector<ViewMethod> quickAuditableMethods(Family family)
{
    auto out = auditableMethods(family);
    out.erase(std::remove_if(out.begin(), out.end(), [](ViewMethod m) { return methodInfo(m).runsManyPasses(); }),
              out.end());
    return out;
}

torch::Tensor auditMap(const Classifier& model, const Trace& trace, ViewMethod method, int classIndex)
{
    ViewRequest request;
    request.method = method;
    request.head = HeadChoice::fused(HeadFusion::Mean);
    request.classIndex = methodInfo(method).explainsClass() ? classIndex : -1;
    return computeView(model, trace, request).maps[0][0].to(torch::kCPU, torch::kFloat32);  // [h, w]
}

double pointingTolerance(const Preprocessing& input, double at224)
{
    return at224 * input.inputSize[2] / 224.0;
}

ImageScores scoreMap(const Classifier& model, const Trace& trace, const torch::Tensor& map, const torch::Tensor& mask,
                     int classIndex, const AuditOptions& options)
{
    ImageScores s;
    if (mask.defined()) {
        s.pointingHit = pointingGameHit(map, mask, options.tolerance);
        s.energy = energyInMask(map, mask);
        s.iou = topCellsIoU(map, mask);
    }
    if (options.causal && trace.logits.defined()) {
        const auto f = faithfulness(model, trace.input, map, classIndex, options.faithfulness);
        s.deletionAuc = f.deletion.auc;
        s.insertionAuc = f.insertion.auc;
    }
    return s;
}

RandomisationCurves randomisationCurves(const Classifier& model, const Trace& trace,
                                        const std::vector<ViewMethod>& methods,
                                        const std::vector<torch::Tensor>& originals, int classIndex, std::uint64_t seed)
{
    if (originals.size() != methods.size())
        throw EngineError("the randomisation check needs one original map per method");
    // The learned model's class throughout: a random model's top-1 is another class.
    if (classIndex < 0 && trace.logits.defined())
        classIndex = int(trace.logits.argmax(1).item<int64_t>());
    const auto& input = trace.input;
    RandomisationCurves curves;
    curves.spearman.resize(methods.size());
    cascadingRandomisation(model, seed, [&](int, const std::string& module) {
        curves.steps.push_back(module);
        const auto randomised = model.forward(input);
        for (std::size_t m = 0; m < methods.size(); ++m)
            curves.spearman[m].push_back(
                spearmanCorrelation(originals[m], auditMap(model, randomised, methods[m], classIndex)));
    });
    return curves;
}

}  // namespace attnviz::engine
