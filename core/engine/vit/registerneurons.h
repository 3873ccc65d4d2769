#pragma once

#include <cstdint>
#include <map>
#include <vector>

namespace attnviz::engine {

// The "register neurons" of a test-time register (Jiang et al., "Vision Transformers Don't
// Need Trained Registers", NeurIPS 2025): MLP units whose activations write the high-norm
// artifact tokens (Darcet et al. 2024). A VisionTransformer with a test-time register moves
// them off the patches onto one extra token (VisionTransformer::withTestTimeRegister).
struct RegisterNeurons {
    std::map<int, std::vector<int64_t>> units;  // block -> MLP hidden units (after the activation)

    bool empty() const { return units.empty(); }
};

}  // namespace attnviz::engine
