#pragma once

#include "core/engine/modelspec.h"
#include "core/engine/weightsource.h"

#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

namespace attnviz::engine {

// One pre-norm transformer block in timm's layout, whatever the checkpoint's naming.
struct ViTBlockWeights {
    torch::Tensor norm1W, norm1B;
    torch::Tensor qkvW, qkvB;  // [3D, D], [3D]; rows: q, k, v, each head-major
    torch::Tensor projW, projB;
    torch::Tensor ls1;         // [D] LayerScale or undefined
    torch::Tensor norm2W, norm2B;
    torch::Tensor fc1W, fc1B;  // [hidden, D]
    torch::Tensor fc2W, fc2B;  // [D, hidden]
    torch::Tensor ls2;
};

struct ViTWeights {
    torch::Tensor patchW, patchB;  // [D, C, P, P], [D]
    torch::Tensor clsToken;        // [1, 1, D] or undefined
    torch::Tensor distToken;       // [1, 1, D] or undefined
    torch::Tensor regTokens;       // [1, R, D] or undefined
    torch::Tensor posEmbed;        // [1, L, D]
    std::vector<ViTBlockWeights> blocks;
    torch::Tensor normW, normB;      // final norm, undefined with fc_norm
    torch::Tensor fcNormW, fcNormB;  // norm after average pooling
    torch::Tensor headW, headB;      // [classes, D] or undefined
    torch::Tensor headDistW, headDistB;

    // Every defined tensor under its timm name, in checkpoint order.
    std::vector<std::pair<std::string, torch::Tensor*>> named();
};

// Reads the weights of a ViT in `naming`, filling spec.depth, embedDim, patchSize,
// token flags and numClasses from the keys. Heads and preprocessing are not set here.
ViTWeights readViTWeights(WeightSource& source, Naming naming, ModelSpec& spec);

// Which naming a ViT checkpoint uses; false when the keys are not a ViT's.
bool detectViTNaming(const WeightSource& source, Naming& naming);

}  // namespace attnviz::engine
