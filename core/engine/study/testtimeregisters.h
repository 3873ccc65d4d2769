#pragma once

#include "core/engine/vit/vit.h"

#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

namespace attnviz::engine {

// Test-time registers (Jiang, Dravid, Efros & Gandelsman, "Vision Transformers Don't Need
// Trained Registers", NeurIPS 2025): the high-norm artifact tokens of a ViT are written by a
// few MLP units ("register neurons"); moved at test time onto an extra token
// (VisionTransformer::withTestTimeRegister), they take the artifacts with them, and the
// attention maps clear without retraining. The search follows the authors' code
// (find_register_neurons, repository nickjiang2378/test-time-registers): each unit scored by
// its mean |activation| at the outlier tokens, kept only where it is sparse, averaged over the
// images that have outliers, ranked within the early blocks.

struct RegisterSearch {
    // A token is an outlier where its norm after block `detectBlock` exceeds `normThreshold`,
    // as the authors do (30 for OpenCLIP ViT-B/16 at its last block, 150 for DINOv2-L at its
    // second to last); NaN, where it is an artifact patch by flagTokens' z rule, which needs
    // no number per model.
    double normThreshold = std::numeric_limits<double>::quiet_NaN();
    int detectBlock = -1;   // negative: from the end (the authors: -1 for CLIP, -2 for DINOv2)
    int highestBlock = -1;  // units of blocks 0..highestBlock; -1: the first half's (depth / 2 - 1)
    int topK = 10;          // units moved (the authors: 10 for OpenCLIP ViT-B/16, 50 for DINOv2-L)
    // The authors' sparsity filter: a unit counts in an image where it is below `sparseBelow`
    // on at least `sparseFraction` of the tokens.
    double sparseBelow = 0.5, sparseFraction = 0.5;
};

struct RankedUnit {
    int block = 0;
    int64_t unit = 0;
    double score = 0;  // its mean |activation| at the outliers, over the images with outliers
};

struct RegisterNeuronSearch {
    std::vector<RankedUnit> ranked;  // every unit of blocks 0..highestBlock, best first
    RegisterNeurons chosen;          // the first topK of them
    int images = 0, imagesWithOutliers = 0;
    int detectBlock = 0, highestBlock = 0;  // as used (counted from 0)
};

// The search over `count` images, image(i) giving the i-th as [1, C, H, W]: one at a
// time, so that memory does not grow with the count. Throws EngineError when no image has
// an outlier (the threshold is too high, or the model has no artifacts) and for options
// outside the model.
RegisterNeuronSearch findRegisterNeurons(const VisionTransformer& vit, std::size_t count,
                                         const std::function<torch::Tensor(std::size_t)>& image,
                                         const RegisterSearch& options = {});
// ... over `inputs`, each [1, C, H, W].
RegisterNeuronSearch findRegisterNeurons(const VisionTransformer& vit, const std::vector<torch::Tensor>& inputs,
                                         const RegisterSearch& options = {});

// What the register does to one image: the traces of the model without it and with it
// (vit.withTestTimeRegister(...)) on the same input.
struct RegisterEffect {
    std::vector<int64_t> artifacts;  // the patches flagged after the last block without the register
    // [L]: the CLS query's attention mass on those patches, mean of the heads, without and
    // with the register, and on the register; NaN without a CLS token.
    torch::Tensor clsOnArtifactsWithout, clsOnArtifactsWith, clsOnRegister;
    // [L, gridH, gridW]: the CLS row over the patches in every block, mean of the heads,
    // without and with the register; undefined without a CLS token.
    torch::Tensor clsMapsWithout, clsMapsWith;
    // Mean norm of the artifact patches after the last block, without and with; the
    // register's (NaN without artifacts).
    double artifactNormWithout = 0, artifactNormWith = 0, registerNorm = 0;
    torch::Tensor logitsWithout, logitsWith;  // [classes] (undefined without a head)
};

RegisterEffect registerEffect(const Trace& without, const Trace& with);

}  // namespace attnviz::engine
