#include "core/engine/receptivefield.h"

#include "core/engine/engineerror.h"

#include <algorithm>
#include <cmath>

namespace attnviz::engine {
namespace {

// One conv or pool of kernel k, stride s, padding p applied after `in`.
ReceptiveField compose(const ReceptiveField& in, std::string name, int k, int s, int p)
{
    ReceptiveField out;
    out.name = std::move(name);
    out.size = in.size + (k - 1) * in.jump;
    out.jump = in.jump * s;
    out.start = in.start + ((k - 1) / 2.0 - p) * in.jump;
    return out;
}

ReceptiveField compose(const ReceptiveField& in, std::string name, const ModelSpec::Conv& conv)
{
    return compose(in, std::move(name), conv.kernel, conv.stride, conv.padding);
}

// The block's convs (appended to `out`) and the field of its output: each conv with
// the kernel, stride and padding the loaded weights gave it.
ReceptiveField residualBlock(const ReceptiveField& in, const std::string& prefix, const ModelSpec::ResidualBlock& block,
                             std::vector<ReceptiveField>& out)
{
    ReceptiveField main = in;
    for (std::size_t i = 0; i < block.convs.size(); ++i) {
        main = compose(main, prefix + "conv" + std::to_string(i + 1), block.convs[i]);
        out.push_back(main);
    }
    ReceptiveField shortcut = in;
    if (block.downsample) {
        shortcut = compose(in, prefix + "downsample.0", *block.downsample);
        out.push_back(shortcut);
    }
    // The sum sees what either path sees: the union of the two boxes (both paths have
    // the same jump, or their outputs could not be added).
    const double lo = std::min(main.start - (main.size - 1) / 2, shortcut.start - (shortcut.size - 1) / 2);
    const double hi = std::max(main.start + (main.size - 1) / 2, shortcut.start + (shortcut.size - 1) / 2);
    ReceptiveField merged = main;
    merged.size = hi - lo + 1;
    merged.start = (lo + hi) / 2;
    return merged;
}

}  // namespace

std::vector<ReceptiveField> resnetReceptiveFields(const ModelSpec& spec)
{
    if (spec.family != Family::ResNet)
        throw EngineError("theoretical receptive fields are computed for CNNs; a ViT's is global after the first block");
    bool described = spec.blocks.size() == spec.stageBlocks.size();
    for (std::size_t s = 0; described && s < spec.blocks.size(); ++s)
        described = int(spec.blocks[s].size()) == spec.stageBlocks[s];
    if (!described)
        throw EngineError("the model spec does not describe every residual block's convolutions");
    std::vector<ReceptiveField> out;
    // The stem conv's padding is kernel / 2 and the pool is 3x3, stride 2, padding 1, as in ResNet::run.
    ReceptiveField field = compose({}, "conv1", spec.stemKernel, spec.stemStride, spec.stemKernel / 2);
    out.push_back(field);
    if (spec.stemPool) {
        field = compose(field, "maxpool", 3, 2, 1);
        out.push_back(field);
    }
    for (std::size_t s = 0; s < spec.blocks.size(); ++s) {
        for (std::size_t b = 0; b < spec.blocks[s].size(); ++b) {
            const auto prefix = "layer" + std::to_string(s + 1) + "." + std::to_string(b) + ".";
            field = residualBlock(field, prefix, spec.blocks[s][b], out);
        }
        field.name = "layer" + std::to_string(s + 1);
        out.push_back(field);
    }
    return out;
}

std::vector<ReceptiveField> stageReceptiveFields(const ModelSpec& spec)
{
    std::vector<ReceptiveField> stages;
    for (auto& field : resnetReceptiveFields(spec))
        if (field.name.find('.') == std::string::npos)  // not a block's own conv ("layer1.0.conv1")
            stages.push_back(std::move(field));
    return stages;
}

PixelBox receptiveBox(const ReceptiveField& f, int row, int col, int inputHeight, int inputWidth)
{
    const double half = (f.size - 1) / 2.0;
    const double cx = f.start + col * f.jump;
    const double cy = f.start + row * f.jump;
    auto clip = [](double v, int n) { return std::clamp(int(std::lround(v)), 0, n - 1); };
    return {clip(cx - half, inputWidth), clip(cy - half, inputHeight), clip(cx + half, inputWidth),
            clip(cy + half, inputHeight)};
}

}  // namespace attnviz::engine
