#include "core/engine/cnn/invertedresidual.h"

#include "core/engine/engineerror.h"

namespace attnviz::engine::cnn {

int64_t appendInvertedResidual(Sequence& seq, WeightSource& s, const std::string& prefix, int64_t in, int stride,
                               const InvertedResidualStyle& style, unsigned record)
{
    const auto unit = [&](int k) { return prefix + ".block." + std::to_string(k); };
    int units = 0;
    while (s.has(unit(units) + ".0.weight") || s.has(unit(units) + ".fc1.weight"))
        ++units;
    int lastConv = -1, convs = 0;
    for (int k = 0; k < units; ++k)
        if (s.has(unit(k) + ".0.weight"))
            lastConv = k, ++convs;
    if (convs == 0)
        throw EngineError("block '" + prefix + "' has no convolutions");
    // The last conv projects linearly, unless it is the only one (FusedMBConv with
    // expand ratio 1 is a single conv unit that keeps its activation).
    const int projection = convs > 1 ? lastConv : -1;

    Sequence body;
    int64_t c = in;
    bool strided = false;
    for (int k = 0; k < units; ++k) {
        if (s.has(unit(k) + ".fc1.weight")) {
            body.append(
                readSqueezeExcitation(s, unit(k) + ".fc1", unit(k) + ".fc2", c, style.seActivation, style.seGate));
            continue;
        }
        const auto kernel = s.shapeOf(unit(k) + ".0.weight").at(2);
        const int convStride = (!strided && kernel > 1) ? stride : 1;
        strided = strided || kernel > 1;
        const auto activation = k == projection ? std::nullopt : std::optional<ActivationKind>(style.activation);
        c = appendConvNormAct(body, s, unit(k) + ".0", unit(k) + ".1", c, {convStride}, activation, style.eps);
    }
    if (!strided && stride != 1)
        throw EngineError("block '" + prefix + "' must downsample but has no spatial convolution");

    if (stride == 1 && c == in) {
        auto& residual = named(seq.add<Residual>(), prefix, record);
        residual.main.layers = std::move(body.layers);
    } else {
        auto& plain = named(seq.add<Sequence>(), prefix, record);
        plain.layers = std::move(body.layers);
    }
    return c;
}

}  // namespace attnviz::engine::cnn
