#pragma once

// The method table: what each view method is, said once (the rows are in methodlist.h).
// The CLI's parser and help, the window's method box, the export planner and
// docs/methods.md's list read it; nothing else names a method's properties.

#include "core/engine/methods/methodlist.h"
#include "core/engine/methods/view.h"
#include "core/engine/model/classifier.h"

#include <string>
#include <vector>

namespace attnviz::engine {

// Which models a method applies to.
enum class MethodFamilies { ViT, CNN, Both };
// What a method is derived from: the cached trace alone, or passes of the model of its
// own, which run on a worker and are cached per request: a forward and a backward (Pass:
// gradients, a unit's field; two for a SigLIP's LeGrad) or one per channel, step, sample or
// window (Passes: Score-CAM, integrated gradients, SmoothGrad, occlusion; minutes per image
// on a large model).
enum class MethodSource { Trace, Pass, Passes };
// Its heads: none (one map), any head, all of them or a fusion (Choose), or a fusion
// (mean | max | min) that is part of the method, with a discard ratio (Fuse).
enum class MethodHeads { None, Choose, Fuse };
// What its `layer` is: a ViT block or CNN layer, the last by default, or "all" (Pick); the
// first block rolled out, 0 by default (RolloutStart); the first block whose signal is
// summed, by default the last two (SumFrom); the CNN layer of the unit asked about (Unit);
// none, the map being over the model input (Input).
enum class MethodLayer { Pick, RolloutStart, SumFrom, Unit, Input };
// What its map answers: where the evidence for a class is (Class: --class, the Class box,
// the audit); about one place (Place: a unit's field, the patches like one patch); or
// neither (Nothing: attention, rollouts, feature PCA, the baselines).
enum class MethodExplains { Class, Place, Nothing };

// A method's compute function: its maps for one request, from the cached trace and, for
// the other sources, passes of the model over trace.input. Throws EngineError.
using ComputeView = ViewMaps (*)(const Classifier& model, const Trace& trace, const ViewRequest& request);

// The compute functions, each defined in its method's file.
#define ATTNVIZ_METHOD_COMPUTE(id, name, citation, families, source, heads, layer, query, camInput, settings,          \
                               explains, compute)                                                                      \
    ViewMaps compute(const Classifier& model, const Trace& trace, const ViewRequest& request);
ATTNVIZ_VIEW_METHODS(ATTNVIZ_METHOD_COMPUTE)
#undef ATTNVIZ_METHOD_COMPUTE

struct MethodInfo {
    ViewMethod method;
    const char* name;      // as on the command line and in the window: "gradcam++"
    const char* citation;  // who defined it: "Selvaraju et al. 2017"
    MethodFamilies families;
    MethodSource source;
    MethodHeads heads;
    MethodLayer layer;
    bool query;            // takes a query patch in place of CLS (--query, a click on a ViT)
    bool camInput;         // a CAM: on a ViT it reads a block's norm1 output or its residual stream
    SettingMask settings;  // its own settings (methodsettings.h): --steps, --noise, ...
    MethodExplains explains;
    ComputeView compute;

    bool supports(Family family) const;
    bool needsModel() const { return source != MethodSource::Trace; }
    bool runsManyPasses() const { return source == MethodSource::Passes; }
    // Whether the window computes it on its worker: passes of the model, or every block's
    // whole matrix recomputed from the trace (T² · hd per head and block: seconds at
    // thousands of tokens). What stays on the GUI thread reads rows the trace keeps.
    bool onWorker() const { return needsModel() || rollsOut(); }
    bool rollsOut() const { return layer == MethodLayer::RolloutStart; }
    // Its layer is the first of the blocks it reads, the rest following (rollouts, LeGrad).
    bool startsAtBlock() const { return rollsOut() || layer == MethodLayer::SumFrom; }
    bool takesLayer() const { return layer == MethodLayer::Pick || layer == MethodLayer::Unit; }  // the layer box
    bool fusesHeads() const { return heads == MethodHeads::Fuse; }
    bool takes(MethodSetting setting) const { return (settings & settingBit(setting)) != 0; }
    bool explainsClass() const { return explains == MethodExplains::Class; }  // --class
};

// Every method, in the order of docs/methods.md.
const std::vector<MethodInfo>& methodTable();
const MethodInfo& methodInfo(ViewMethod method);
std::string viewMethodName(ViewMethod method);  // "attention", "gradcam++", "erf", ...
// Throws EngineError naming every method for a name that is none of them.
ViewMethod viewMethodFromName(const std::string& name);
// The methods for one family, "a, b, c".
std::string methodNames(Family family);

// The methods that take `setting`, "a, b".
std::string methodsTaking(MethodSetting setting);
// `chosen` with every setting `method` does not take back at its default: what a request
// for `method` carries when settings were chosen for all methods at once (the window).
MethodSettings settingsFor(ViewMethod method, const MethodSettings& chosen);

// Checks the request against the method's row (family, heads, query, discard ratio,
// settings) and
// runs its compute function. Throws EngineError with a one-line reason for a method or
// option the model lacks.
ViewMaps computeView(const Classifier& model, const Trace& trace, const ViewRequest& request);

// The views of one request for several traces of one input size, equal to computeView
// on each: a gradient CAM's from one pass and one backward over all their inputs
// (cam.h: gradientCamViewsOfBatch), every other method's image by image.
std::vector<ViewMaps> computeViews(const Classifier& model, const std::vector<const Trace*>& traces,
                                   const ViewRequest& request);

}  // namespace attnviz::engine
