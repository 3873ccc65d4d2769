#include "core/engine/swin/swinnet.h"

#include "core/engine/engineerror.h"
#include "core/engine/model/attentionrecord.h"
#include "core/engine/vit/relativebias.h"
#include "core/engine/vit/vitweights.h"

#include <cmath>
#include <string>

namespace attnviz::engine::swin {
namespace {

SwinBlockWeights readBlock(WeightSource& s, const std::string& p, int64_t c, bool shifted)
{
    SwinBlockWeights b;
    readNormWeights(s, p + "norm1", c, b.norm1W, b.norm1B);
    readLinearWeights(s, p + "attn.qkv", {3 * c, c}, b.qkvW, b.qkvB);
    readLinearWeights(s, p + "attn.proj", {c, c}, b.projW, b.projB);
    b.biasTable = s.take(p + "attn.relative_position_bias_table", {-1, -1});
    s.ignore(p + "attn.relative_position_index");  // a buffer: recomputed from the window
    readNormWeights(s, p + "norm2", c, b.norm2W, b.norm2B);
    readLinearWeights(s, p + "mlp.0", {-1, c}, b.fc1W, b.fc1B);
    readLinearWeights(s, p + "mlp.3", {c, b.fc1W.size(0)}, b.fc2W, b.fc2B);
    b.heads = int(b.biasTable.size(1));
    b.shifted = shifted;
    if (c % b.heads != 0)
        throw EngineError("Swin block " + p + ": width " + std::to_string(c) + " does not split into "
                          + std::to_string(b.heads) + " heads");
    return b;
}

// One window attention: x [N, H, W, C] -> [N, H, W, C], and the attention
// [N * windows, heads, w*w, w*w] appended to `attention`.
torch::Tensor windowAttention(const SwinBlockWeights& b, const torch::Tensor& input, int64_t w,
                              std::vector<torch::Tensor>& attention)
{
    const auto n = input.size(0), h = input.size(1), wd = input.size(2), c = input.size(3);
    const auto padB = (w - h % w) % w, padR = (w - wd % w) % w;
    auto x = torch::constant_pad_nd(input, {0, 0, 0, padR, 0, padB});
    const auto ph = h + padB, pw = wd + padR;
    // torchvision: no shift along a side the window covers whole
    const int64_t shiftH = b.shifted && w < ph ? w / 2 : 0, shiftW = b.shifted && w < pw ? w / 2 : 0;
    if (shiftH + shiftW > 0)
        x = torch::roll(x, {-shiftH, -shiftW}, {1, 2});
    const auto windows = (ph / w) * (pw / w);
    x = x.view({n, ph / w, w, pw / w, w, c}).permute({0, 1, 3, 2, 4, 5}).reshape({n * windows, w * w, c});

    const int64_t heads = b.heads, hd = c / heads;
    const auto qkv =
        torch::linear(x, b.qkvW, b.qkvB).reshape({x.size(0), w * w, 3, heads, hd}).permute({2, 0, 3, 1, 4});
    // [H, L, L]: the relative position bias; shifted, plus the mask, per window [n * windows, H, L, L]
    auto bias = b.biasTable.index_select(0, relativeOffsetIndex(int(w), int(w)).to(b.biasTable.device()))
                    .view({w * w, w * w, heads})
                    .permute({2, 0, 1});
    if (shiftH + shiftW > 0)
        bias = (bias.unsqueeze(0) + shiftedWindowMask(ph, pw, w, shiftH, shiftW, bias.options()).unsqueeze(1))
                   .repeat({n, 1, 1, 1});
    const auto a = attentionWeights(qkv[0] * std::pow(double(hd), -0.5), qkv[1], bias);  // [n * windows, H, L, L]
    attention.push_back(a);
    auto y = torch::linear(torch::matmul(a, qkv[2]).transpose(1, 2).reshape({x.size(0), w * w, c}), b.projW, b.projB);
    y = y.view({n, ph / w, pw / w, w, w, c}).permute({0, 1, 3, 2, 4, 5}).reshape({n, ph, pw, c});
    if (shiftH + shiftW > 0)
        y = torch::roll(y, {shiftH, shiftW}, {1, 2});
    return y.narrow(1, 0, h).narrow(2, 0, wd).contiguous();
}

// A region label along one side of the rolled grid: torchvision's three slices [0, n - w),
// [n - w, n - s), [n - s, n), or one region when the side is not shifted. [n]
torch::Tensor regionsAlong(int64_t n, int64_t w, int64_t s)
{
    auto labels = torch::zeros({n}, torch::kInt64);
    if (s > 0) {
        labels.narrow(0, n - w, w - s).fill_(1);
        labels.narrow(0, n - s, s).fill_(2);
    }
    return labels;
}

SwinStageWeights readStage(WeightSource& s, int stage, int64_t c)
{
    SwinStageWeights out;
    const auto prefix = "features." + std::to_string(2 * stage + 1) + ".";
    for (int i = 0; s.has(prefix + std::to_string(i) + ".norm1.weight"); ++i)
        out.blocks.push_back(readBlock(s, prefix + std::to_string(i) + ".", c, i % 2 == 1));
    if (out.blocks.empty())
        throw EngineError("Swin stage " + std::to_string(stage + 1) + " has no blocks (" + prefix + "0.norm1.weight)");
    const auto merge = "features." + std::to_string(2 * stage + 2) + ".";
    if (s.has(merge + "reduction.weight")) {
        readNormWeights(s, merge + "norm", 4 * c, out.mergeNormW, out.mergeNormB);
        out.mergeW = s.take(merge + "reduction.weight", {2 * c, 4 * c});
    }
    return out;
}

// torchvision's PatchMerging: x [N, H, W, C] padded to even sides, its 2 x 2 neighbours
// (0,0), (1,0), (0,1), (1,1) concatenated, normed, projected: [N, H/2, W/2, 2C]
torch::Tensor mergePatches(const SwinStageWeights& st, const torch::Tensor& input, double eps)
{
    const auto x = torch::constant_pad_nd(input, {0, 0, 0, input.size(2) % 2, 0, input.size(1) % 2});
    using torch::indexing::Slice;
    const auto part = [&x](int64_t dy, int64_t dx) {
        return x.index({Slice(), Slice(dy, torch::indexing::None, 2), Slice(dx, torch::indexing::None, 2)});
    };
    const auto merged = torch::cat({part(0, 0), part(1, 0), part(0, 1), part(1, 1)}, -1);
    return torch::linear(torch::layer_norm(merged, {merged.size(-1)}, st.mergeNormW, st.mergeNormB, eps), st.mergeW);
}

}  // namespace

torch::Tensor shiftedWindowMask(int64_t height, int64_t width, int64_t window, int64_t shiftH, int64_t shiftW,
                                const torch::TensorOptions& options)
{
    const auto w = window;
    const auto regions = (regionsAlong(height, w, shiftH).unsqueeze(1) * 3
                          + regionsAlong(width, w, shiftW).unsqueeze(0));
    const auto perWindow = regions.view({height / w, w, width / w, w}).permute({0, 2, 1, 3}).reshape({-1, w * w});
    const auto differ = perWindow.unsqueeze(1) != perWindow.unsqueeze(2);  // [windows, L, L]
    return torch::zeros(differ.sizes(), options).masked_fill(differ.to(options.device()), -100.0);
}

SwinWeights readTorchvisionSwin(WeightSource& s)
{
    SwinWeights w;
    w.patchW = s.take("features.0.0.weight", {-1, 3, -1, -1});
    const int64_t c = w.patchW.size(0);
    w.patchB = s.take("features.0.0.bias", {c});
    readNormWeights(s, "features.0.2", c, w.patchNormW, w.patchNormB);
    int64_t width = c;
    for (int stage = 0; s.has("features." + std::to_string(2 * stage + 1) + ".0.norm1.weight"); ++stage) {
        w.stages.push_back(readStage(s, stage, width));
        if (!w.stages.back().mergeW.defined())
            break;
        width *= 2;
    }
    if (w.stages.empty())
        throw EngineError("no Swin stages (features.1.0.norm1.weight)");
    readNormWeights(s, "norm", width, w.normW, w.normB);
    readLinearWeights(s, "head", {-1, width}, w.headW, w.headB);
    const auto rows = w.stages.front().blocks.front().biasTable.size(0);  // (2w - 1)^2
    const auto side = int64_t(std::lround(std::sqrt(double(rows))));
    if (side * side != rows || side % 2 == 0)
        throw EngineError("a Swin bias table of " + std::to_string(rows) + " rows is no (2w - 1)^2");
    w.window = int((side + 1) / 2);
    return w;
}

SwinOutput swinForward(const SwinWeights& w, const torch::Tensor& images)
{
    SwinOutput out;
    const auto eps = w.layerNormEps;
    const auto norm = [eps](const torch::Tensor& t, const torch::Tensor& weight, const torch::Tensor& bias) {
        return torch::layer_norm(t, {t.size(-1)}, weight, bias, eps);
    };
    const auto stride = w.patchW.size(2);
    auto x = torch::conv2d(images, w.patchW, w.patchB, {stride, stride}).permute({0, 2, 3, 1});  // [N, H, W, C]
    x = norm(x, w.patchNormW, w.patchNormB);
    for (const auto& stage : w.stages) {
        for (const auto& b : stage.blocks) {
            x = x + windowAttention(b, norm(x, b.norm1W, b.norm1B), w.window, out.attention);
            x = x
                + torch::linear(torch::gelu(torch::linear(norm(x, b.norm2W, b.norm2B), b.fc1W, b.fc1B)), b.fc2W,
                                b.fc2B);
        }
        if (stage.mergeW.defined())
            x = mergePatches(stage, x, eps);
    }
    const auto pooled = norm(x, w.normW, w.normB).mean({1, 2});  // [N, 8C]
    out.logits = torch::linear(pooled, w.headW, w.headB);
    return out;
}

}  // namespace attnviz::engine::swin
