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

// The block's convs (appended to `out`) and the field of its output.
ReceptiveField residualBlock(const ReceptiveField& in, const std::string& prefix, bool bottleneck, int stride,
                             bool downsample, std::vector<ReceptiveField>& out)
{
    // (kernel, stride) per conv; the stride sits on the 3x3 conv (torchvision v1.5).
    const std::vector<std::pair<int, int>> convs = bottleneck ? std::vector<std::pair<int, int>>{{1, 1}, {3, stride}, {1, 1}}
                                                              : std::vector<std::pair<int, int>>{{3, stride}, {3, 1}};
    ReceptiveField main = in;
    for (std::size_t i = 0; i < convs.size(); ++i) {
        const auto [k, s] = convs[i];
        main = compose(main, prefix + "conv" + std::to_string(i + 1), k, s, k / 2);
        out.push_back(main);
    }
    ReceptiveField shortcut = in;
    if (downsample) {
        shortcut = compose(in, prefix + "downsample.0", 1, stride, 0);
        out.push_back(shortcut);
    }
    ReceptiveField merged = main;
    merged.size = std::max(main.size, shortcut.size);
    return merged;
}

}  // namespace

std::vector<ReceptiveField> resnetReceptiveFields(const ModelSpec& spec)
{
    if (spec.family != Family::ResNet)
        throw EngineError("theoretical receptive fields are computed for CNNs; a ViT's is global after the first block");
    std::vector<ReceptiveField> out;
    ReceptiveField field = compose({}, "conv1", spec.stemKernel, spec.stemStride, spec.stemKernel / 2);
    out.push_back(field);
    if (spec.stemPool) {
        field = compose(field, "maxpool", 3, 2, 1);
        out.push_back(field);
    }
    int channels = spec.stemWidth;
    for (std::size_t s = 0; s < spec.stageBlocks.size(); ++s) {
        for (int b = 0; b < spec.stageBlocks[s]; ++b) {
            const int stride = (s > 0 && b == 0) ? 2 : 1;
            const bool downsample = b == 0 && (stride != 1 || channels != spec.stageWidths[s]);
            const auto prefix = "layer" + std::to_string(s + 1) + "." + std::to_string(b) + ".";
            field = residualBlock(field, prefix, spec.bottleneck, stride, downsample, out);
        }
        channels = spec.stageWidths[s];
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
