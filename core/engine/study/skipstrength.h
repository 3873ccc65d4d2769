#pragma once

#include "core/engine/model/classifier.h"

#include <string>
#include <vector>

namespace attnviz::engine {

// How much one residual addition out = z + f(z) keeps of what came in (Raghu et al.
// 2021, "Do Vision Transformers See Like CNNs?"): the mean norm of the
// residual stream z over the mean norm of the branch f(z), each norm taken over a
// position's features. A ratio well above 1 means the skip dominates, i.e. the block
// changes the representation little.
struct SkipRatio {
    std::string name;          // "3.attn", "3.mlp" (ViT block 3), "layer2.1" (CNN block)
    std::string branch;        // "attention", "mlp" or "block"
    double relativeDepth = 0;  // (i + 1) / additions, i the addition's place in forward order
    // Mean norms on the CLS token (NaN for a CNN or a ViT without CLS), and over the
    // spatial positions (a ViT's patch tokens, prefix tokens excluded; a CNN's pixels).
    double clsSkip = 0, clsBranch = 0;
    double spatialSkip = 0, spatialBranch = 0;

    // skip / branch; +inf where the branch is exactly zero, NaN where there is no CLS.
    double clsRatio() const;
    double spatialRatio() const;
};

// Sums the norms of minibatches so that a folder of any size gives the mean over all its
// images and positions.
class SkipAccumulator {
public:
    // One image's or minibatch's Trace::residuals ([N, P] each); `prefixTokens` the ViT's
    // CLS, distillation and register tokens (0 for a CNN), `hasCls` whether position 0
    // is CLS. A model without residual additions (VGG, DenseNet) adds none.
    void add(const std::vector<ResidualNorms>& norms, int prefixTokens, bool hasCls);
    // One ratio per addition, none for a model without them. Throws EngineError before
    // the first add().
    std::vector<SkipRatio> result() const;

private:
    struct Sums {
        std::string name;
        double clsSkip = 0, clsBranch = 0, spatialSkip = 0, spatialBranch = 0;
        double clsCount = 0, spatialCount = 0;
    };
    std::vector<Sums> m_sums;
    bool m_added = false;
};

}  // namespace attnviz::engine
