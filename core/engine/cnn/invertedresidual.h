#pragma once

#include "core/engine/cnn/reading.h"

namespace attnviz::engine::cnn {

// How the inverted-residual blocks of MobileNet v3 and EfficientNet are run.
struct InvertedResidualStyle {
    ActivationKind activation = ActivationKind::SiLU;  // after every conv but the projection
    ActivationKind seActivation = ActivationKind::SiLU;
    ActivationKind seGate = ActivationKind::Sigmoid;
    double eps = 1e-5;  // batch norm
};

// One torchvision MBConv, FusedMBConv or MobileNet v3 InvertedResidual at `prefix`
// ("features.2.0"): its `block.K` are conv + norm (+ activation) units (`block.K.0`,
// `block.K.1`) and squeeze-excitations (`block.K.fc1`, `fc2`) in order, the last of
// several convs projecting without activation; the first spatial conv carries the stride. Added to `seq`
// as a Residual when stride is 1 and channels are kept (stochastic depth is the identity
// in eval). Returns the output channels.
int64_t appendInvertedResidual(Sequence& seq, WeightSource& s, const std::string& prefix, int64_t in, int stride,
                               const InvertedResidualStyle& style, unsigned record);

}  // namespace attnviz::engine::cnn
