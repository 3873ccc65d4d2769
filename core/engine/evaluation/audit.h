#pragma once

#include "core/engine/evaluation/faithfulness.h"
#include "core/engine/methods/methodtable.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace attnviz::engine {

// The audit (docs/audit.md): every method's map of one image scored against the mask
// of the object that decides its class, by its effect on the model, and by whether it
// changes when the model's weights are randomised.

// The methods of the audit a model offers: every method of its family that maps what
// decides the class, from the trace or explaining the class; not erf and similarity, which
// answer about one place (a unit's field, the patches like one patch), nor feature PCA's
// colours, which map no evidence.
std::vector<ViewMethod> auditableMethods(Family family);
// Those of them that run at most one pass of their own per image: the audit's default in
// the window and `--methods quick`, since the others (MethodSource::Passes) take minutes
// per image on a large model.
std::vector<ViewMethod> quickAuditableMethods(Family family);

// The map a method shows by default (its last block or layer, the heads' mean), for
// `classIndex` (< 0: the top-1 class) where it explains one: [h, w] on the CPU.
torch::Tensor auditMap(const Classifier& model, const Trace& trace, ViewMethod method, int classIndex);

struct ImageScores {
    // With a mask: the pointing game, the energy inside the mask, the top cells' IoU.
    std::optional<bool> pointingHit;
    std::optional<double> energy, iou;
    // Without one too: the areas under the deletion and insertion curves.
    std::optional<double> deletionAuc, insertionAuc;
};

// The pointing game's tolerance in a model's input pixels: Zhang et al.'s 15 px at a
// 224-px input, scaled to the input's width (`at224` to choose another).
inline constexpr double kPointingToleranceAt224 = 15.0;
double pointingTolerance(const Preprocessing& input, double at224 = kPointingToleranceAt224);

struct AuditOptions {
    double tolerance = 0.0;  // pointing game, in model-input pixels
    bool causal = true;      // deletion / insertion
    FaithfulnessOptions faithfulness;
};

// One method's scores for one image. mask: bool [H, W] at the model input's pixels, or
// undefined. classIndex: the class whose object the mask shows (< 0: top-1).
ImageScores scoreMap(const Classifier& model, const Trace& trace, const torch::Tensor& map, const torch::Tensor& mask,
                     int classIndex, const AuditOptions& options);

// The rank correlation of each method's map with its map under the cascading
// randomisation (randomisation.h): [method][step], and the steps' module names.
// `originals`: the learned model's maps of `trace`, one per method, as auditMap gave
// them for `classIndex`; each step runs one forward pass over trace.input.
struct RandomisationCurves {
    std::vector<std::string> steps;
    std::vector<std::vector<double>> spearman;
};
RandomisationCurves randomisationCurves(const Classifier& model, const Trace& trace,
                                        const std::vector<ViewMethod>& methods,
                                        const std::vector<torch::Tensor>& originals, int classIndex,
                                        std::uint64_t seed);

// A method passes the randomisation check when its map's rank correlation with the
// original, averaged over images, has fallen below this in absolute value once every
// module is random.
inline constexpr double kRandomisationPassBelow = 0.5;

}  // namespace attnviz::engine
