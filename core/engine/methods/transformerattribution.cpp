#include "core/engine/methods/transformerattribution.h"

#include "core/engine/cancellation.h"
#include "core/engine/engineerror.h"
#include "core/engine/methods/attentionmaps.h"
#include "core/engine/methods/methodtable.h"
#include "core/engine/methods/rollout.h"
#include "core/engine/model/attentionrecord.h"
#include "core/engine/vit/vit.h"

#include <array>
#include <cmath>
#include <functional>
#include <optional>
#include <utility>

namespace attnviz::engine {
namespace {

using torch::Tensor;

// LRP keeps quotients R / z finite by moving z this far away from zero (on its own side).
constexpr double kStabiliser = 1e-9;

Tensor f64(const Tensor& t)
{
    return t.defined() ? t.to(torch::kFloat64) : t;
}

// r / z elementwise (broadcasting), with z pushed kStabiliser away from zero on its own
// side; 0 where z is exactly 0, so that a unit with no contribution passes nothing on.
// In place where it can: at thousands of tokens r and z are [T, T] and each temporary is
// another hundred megabytes.
Tensor ratio(const Tensor& r, const Tensor& z)
{
    const auto den = z.sign().mul_(kStabiliser).add_(z);  // 0 exactly where z is 0
    return (r / den).masked_fill_(den == 0, 0);
}

// ---- the forward pass, float64, one image, kept for the backward relevance pass ----

// A linear layer's input and its product with the weights, bias not included: the alpha
// rule needs both, and the product is the forward's own x W^T. [N, in], [N, out]
struct LinearPass {
    Tensor input;
    Tensor product;
};

// One block's intermediates; all [T, ...] for the single image. The attention matrices
// are not kept: they are computed one head at a time (attendByHead, headStep), so that
// only a few [T, T] exist at once, whatever the number of heads.
struct BlockPass {
    Tensor input;      // x [T, D], the residual stream entering the block
    LinearPass qkv;    // LN1(x) [T, D] -> [T, 3D]
    Tensor qkvOutput;  // [T, 3D], on the graph from x when the pass is differentiated
    Tensor q, k, v;    // [H, T, hd], off the graph; q unscaled (1/sqrt(hd) is applied to q k^T)
    Tensor merged;     // A v with the heads side by side [T, D]: a leaf, where the graph from the output stops
    LinearPass proj;   // merged [T, D] -> [T, D]
    Tensor branch1;    // ls1 * proj [T, D]
    Tensor mid;        // y = x + branch1 [T, D]
    LinearPass fc1;    // LN2(y) [T, D] -> [T, hidden]
    LinearPass fc2;    // GELU(fc1) [T, hidden] -> [T, D]
    Tensor branch2;    // ls2 * fc2 [T, D]
    Tensor output;     // y + branch2 [T, D]
};

Tensor layerNorm(const Tensor& x, const Tensor& w, const Tensor& b, double eps)
{
    return w.defined() ? torch::layer_norm(x, {x.size(-1)}, f64(w), f64(b), eps) : x;
}

// x W^T + b, recording x and x W^T in `record`.
Tensor linear(LinearPass& record, const Tensor& x, const Tensor& w, const Tensor& b)
{
    record.input = x;
    record.product = torch::matmul(x, f64(w).t());
    return b.defined() ? record.product + f64(b) : record.product;
}

Tensor layerScale(const Tensor& x, const Tensor& gamma)
{
    return gamma.defined() ? x * f64(gamma) : x;
}

// One head's attention, as the model computes it: q, k [T, hd] -> softmax(q k^T / sqrt(hd)) [T, T]
Tensor headAttention(const Tensor& q, const Tensor& k)
{
    return attentionWeights(q / std::sqrt(double(q.size(-1))), k, {});
}

// A v for every head, side by side in the fused layout (head-major), one head's [T, T]
// at a time and off the graph. q, k, v [H, T, hd] -> [T, H * hd]
Tensor attendByHead(const Tensor& q, const Tensor& k, const Tensor& v)
{
    torch::NoGradGuard noGrad;
    std::vector<Tensor> heads;
    for (int64_t h = 0; h < q.size(0); ++h)
        heads.push_back(torch::matmul(headAttention(q[h], k[h]), v[h]));
    return torch::cat(heads, 1);
}

// The block as VisionTransformer::block computes it, in float64. Under grad mode the
// graph runs from x to qkvOutput and, through the residual, from x and `merged` to the
// output; the attention between them is differentiated head by head (headStep).
BlockPass blockForward(const ViTBlockWeights& b, const Tensor& x, int heads, double eps)
{
    BlockPass p;
    const auto t = x.size(0), d = x.size(1), hd = d / heads;
    p.input = x;
    p.qkvOutput = linear(p.qkv, layerNorm(x, b.norm1W, b.norm1B, eps), b.qkvW, b.qkvB);
    // [T, 3D] -> [3, H, T, hd]
    const auto qkv = p.qkvOutput.detach().reshape({t, 3, heads, hd}).permute({1, 2, 0, 3});
    p.q = qkv[0];
    p.k = qkv[1];
    p.v = qkv[2];
    p.merged = attendByHead(p.q, p.k, p.v).requires_grad_(torch::GradMode::is_enabled());
    p.branch1 = layerScale(linear(p.proj, p.merged, b.projW, b.projB), b.ls1);
    p.mid = x + p.branch1;
    const auto hidden = torch::gelu(linear(p.fc1, layerNorm(p.mid, b.norm2W, b.norm2B, eps), b.fc1W, b.fc1B));
    p.branch2 = layerScale(linear(p.fc2, hidden, b.fc2W, b.fc2B), b.ls2);
    p.output = p.mid + p.branch2;
    return p;
}

// The head on the class token: final norm, then the linear classifier.
struct HeadPass {
    LinearPass head;  // LN(tokens)[cls] [1, D] -> [1, classes]
    Tensor logits;    // [1, classes]
};

HeadPass headForward(const ViTWeights& w, const Tensor& tokens, double eps)
{
    HeadPass h;
    h.logits = linear(h.head, layerNorm(tokens, w.normW, w.normB, eps).narrow(0, 0, 1), w.headW, w.headB);
    return h;
}

// ---- LRP rules ----

// LRP alpha=1, beta=0 through y = x W^T (+ bias, which takes no relevance): each output's
// relevance is shared among the inputs in proportion to their positive contributions
// (x_j w_ij)+. r [N, out] -> [N, in]. Conserves sum(r).
// With x = x+ + x-, W = W+ + W-, the positive part z = x+ W+^T + x- W-^T equals
// (x W^T + |x| |W|^T) / 2 and its backward likewise: x W^T is the forward's, and only one
// extra copy of the weights (|W|) is needed instead of two (W+, W-).
Tensor linearRelevance(const LinearPass& pass, const Tensor& weight, const Tensor& r)
{
    const auto x = pass.input.detach(), xAbs = x.abs();
    const auto w = f64(weight), wAbs = w.abs();
    const auto z = (pass.product.detach() + torch::matmul(xAbs, wAbs.t())) / 2;  // [N, out]
    const auto s = ratio(r, z);
    return (x * torch::matmul(s, w) + xAbs * torch::matmul(s, wAbs)) / 2;
}

// z = a + b with relevance r: the generic rule gives a * r / z and b * r / z; each part is
// then rescaled so that the totals are sum(r) split as |sum_a| : |sum_b| (the authors'
// normalisation, which keeps conservation when the generic parts have opposite signs).
std::pair<Tensor, Tensor> addRelevance(const Tensor& a, const Tensor& b, const Tensor& r)
{
    const auto s = ratio(r, a + b);
    const auto ra = a * s, rb = b * s;
    const auto sumA = ra.sum(), sumB = rb.sum();
    const auto both = sumA.abs() + sumB.abs();
    const auto total = r.sum();
    const auto shareA = ratio(sumA.abs(), both) * total, shareB = ratio(sumB.abs(), both) * total;
    return {ra * ratio(shareA, sumA), rb * ratio(shareB, sumB)};
}

// z = x y (batched matmul) with relevance r: the generic rule on both operands, each
// operand getting half so that the total is conserved.
// x [H, T, K], y [H, K, M], r [H, T, M] -> {[H, T, K], [H, K, M]}
std::pair<Tensor, Tensor> matmulRelevance(const Tensor& x, const Tensor& y, const Tensor& r)
{
    const auto s = ratio(r, torch::matmul(x, y));
    return {torch::matmul(s, y.transpose(-2, -1)).mul_(x).div_(2),
            torch::matmul(x.transpose(-2, -1), s).mul_(y).div_(2)};
}

// Relevance at the block's output [T, D] back through the MLP branch and both residual
// Adds, as far as the attention's merged heads A v. LayerNorm, GELU and LayerScale pass
// relevance unchanged; where the stream forks into residual and branch, the two
// relevances add up.
struct BranchRelevance {
    Tensor inputResidual;        // at the block's input through the first residual [T, D]
    Tensor context;              // at A v, the heads side by side [T, D]
    double attentionBranch = 0;  // total entering the attention branch
};

BranchRelevance branchRelevance(const ViTBlockWeights& b, const BlockPass& p, const Tensor& r)
{
    BranchRelevance out;
    const auto [rMidResidual, rBranch2] = addRelevance(p.mid.detach(), p.branch2.detach(), r);
    const auto rNormed2 = linearRelevance(p.fc1, b.fc1W, linearRelevance(p.fc2, b.fc2W, rBranch2));
    const auto [rInputResidual, rBranch1] = addRelevance(p.input.detach(), p.branch1.detach(), rMidResidual + rNormed2);
    out.inputResidual = rInputResidual;
    out.attentionBranch = rBranch1.sum().item<double>();
    out.context = linearRelevance(p.proj, b.projW, rBranch1);
    return out;
}

// One head of a block, differentiated and explained on its own: its attention A, the
// score's gradient at A and the relevance R^A that reaches A [T, T]; and, when the
// block's input is wanted, the gradient and the relevance at the head's q, k and v
// [T, hd] (through A v, the softmax and q k^T).
struct HeadStep {
    Tensor attention, gradient, relevance;            // [T, T]
    std::array<Tensor, 3> gradientQkv, relevanceQkv;  // q, k, v [T, hd]; undefined unless toInput
};

// q, k, v [T, hd] off the graph; gContext and rContext: the score's gradient and the
// relevance at this head's A v [T, hd].
HeadStep headStep(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& gContext, const Tensor& rContext,
                  bool toInput)
{
    HeadStep s;
    {
        torch::AutoGradMode enableGrad(true);
        const auto qg = q.detach().requires_grad_(true), kg = k.detach().requires_grad_(true),
                   vg = v.detach().requires_grad_(true);
        const auto attention = headAttention(qg, kg);
        const auto g = torch::autograd::grad({torch::matmul(attention, vg)}, {attention, qg, kg, vg}, {gContext});
        s.attention = attention.detach();
        s.gradient = g[0];
        if (toInput)
            s.gradientQkv = {g[1], g[2], g[3]};
    }
    const auto [rAttention, rV] = matmulRelevance(s.attention, v, rContext);
    s.relevance = rAttention;
    if (toInput) {
        // softmax passes relevance unchanged; then the generic rule on q k^T
        const auto [rQ, rKt] = matmulRelevance(q, k.t(), rAttention);
        s.relevanceQkv = {rQ, rKt.t(), rV};
    }
    return s;
}

// What the propagation leaves at one head of one block (block's index in the model).
// Heads come in order; a block's totals repeat on each of its heads.
struct RelevanceStep {
    int block = 0;
    int head = 0;
    int heads = 0;
    Tensor attention;  // R^A [T, T]
    Tensor gradient;   // dscore/dA [T, T]
    double outputTotal = 0;
    double attentionBranch = 0;
};
using RelevanceVisitor = std::function<void(const RelevanceStep&)>;

// ---- the residual stream in float64 ----

// The residual stream entering block 0 in float64, [T, D]. The model's embedding is
// float32: projection + positions (+ prefix tokens). LRP's ratios amplify its rounding
// (about 4e-5 of the map's maximum on a 4-block ViT), so the patch projection is redone
// in float64 and swapped in; what remains is the float32 rounding of the position
// embedding's sum (about 1e-6). `tokens` is the model's float32 stream [T, D].
Tensor embedding64(const ViTWeights& w, const Tensor& input, const Tensor& tokens, const TokenLayout& layout)
{
    const auto project = [](const std::vector<ConvStemLayer>& stem, const Tensor& image, const Tensor& weight,
                            const Tensor& bias) {
        // [1, D, gh, gw] -> [gh*gw, D]
        return embedPatches(stem, weight, bias, image, false).flatten(2).transpose(1, 2)[0];
    };
    auto stem64 = w.stem;  // a hybrid's conv stem, in float64 too
    for (auto& l : stem64)
        for (auto* t : {&l.convW, &l.convB, &l.bnW, &l.bnB, &l.bnMean, &l.bnVar})
            *t = f64(*t);
    const auto image = input.to(tokens.device(), torch::kFloat32);
    const auto single = project(w.stem, image, w.patchW, w.patchB).to(torch::kFloat64);
    const auto exact = project(stem64, image.to(torch::kFloat64), f64(w.patchW), f64(w.patchB));
    auto x = tokens.to(torch::kFloat64);
    x.narrow(0, layout.prefixTokens(), int64_t(layout.gridH) * layout.gridW).add_(exact - single);
    return x;
}

// ---- checks ----

const VisionTransformer& explainableViT(const Classifier& model)
{
    const auto* vit = dynamic_cast<const VisionTransformer*>(&model);
    if (!vit)
        throw EngineError("transformer attribution needs a Vision Transformer; " + model.spec().description + " is a "
                          + familyName(model.spec().family));
    const auto& spec = vit->spec();
    if (!vit->weights().headW.defined())
        throw EngineError("the model has no classification head, so there is no class to explain");
    if (spec.attentionPool)
        throw EngineError("transformer attribution reads the class token's row, but this ViT pools its tokens by "
                          "attention; use Grad-CAM or generic attention explainability");
    if (spec.avgPool || !spec.hasClsToken)
        throw EngineError("transformer attribution reads the class token's row, but this ViT averages its patch "
                          "tokens into the head; use Grad-CAM or generic attention explainability");
    if (spec.mlp != ViTMlp::Gelu || vit->weights().preNormW.defined() || spec.headOnClsAndMean
        || vit->weights().blocks.front().relTable.defined())
        throw EngineError("transformer attribution's relevance rules are written for timm's plain ViT (GELU MLP, no "
                          "pre-norm or relative position bias, a class-token head); use Grad-CAM or generic attention "
                          "explainability");
    if (spec.hasDistToken)
        throw EngineError("transformer attribution is not defined for distilled ViTs (the class and distillation "
                          "tokens both feed the head); use Grad-CAM or generic attention explainability");
    return *vit;
}

// The float64 forward here must be the model's: a block variant it does not know (a new
// option in VisionTransformer::block) must fail loudly, not explain another network.
void expectSameLogits(const Tensor& ours, const Tensor& model)
{
    const auto reference = model.to(torch::kFloat64);
    const double scale = std::max(1.0, reference.abs().max().item<double>());
    const double diff = (ours - reference).abs().max().item<double>();
    if (!(diff <= 1e-3 * scale))
        throw EngineError("transformer attribution's forward pass disagrees with the model's (logits differ by "
                          + std::to_string(diff) + "); this ViT variant is not supported");
}

// The score's gradient and the relevance at one block's input [T, D], from those at its
// output, handing each head's attention to `visit` on the way. The block runs again with
// the graph from its input `x`; the part above the attention is differentiated at once,
// the attention head by head (headStep), and the qkv projection last.
struct StreamAtBlock {
    Tensor gradient;   // dscore / d stream [T, D]
    Tensor relevance;  // [T, D]
};

StreamAtBlock blockStep(const ViTBlockWeights& weights, const ModelSpec& spec, const Tensor& input,
                        const StreamAtBlock& atOutput, bool toInput, RelevanceStep& step, const RelevanceVisitor& visit)
{
    torch::AutoGradMode enableGrad(true);
    const auto x = input.detach().requires_grad_(true);
    const auto pass = blockForward(weights, x, spec.heads, spec.layerNormEps);
    // the score's gradient at A v, and at x through the first residual [T, D]
    const auto upper = torch::autograd::grad({pass.output}, {pass.merged, x}, {atOutput.gradient});
    const auto branch = branchRelevance(weights, pass, atOutput.relevance);
    step.outputTotal = atOutput.relevance.sum().item<double>();
    step.attentionBranch = branch.attentionBranch;
    step.heads = spec.heads;
    const int64_t d = x.size(1), hd = d / spec.heads;
    // q, k, v side by side as the fused projection's output [T, 3D]
    const auto perQkv = [&] { return toInput ? torch::zeros({x.size(0), 3 * d}, x.options()) : Tensor(); };
    auto gradientQkv = perQkv(), relevanceQkv = perQkv();
    for (int h = 0; h < spec.heads; ++h) {
        const auto columns = [&](const Tensor& t, int64_t first = 0) { return t.narrow(1, first + h * hd, hd); };
        const auto head = headStep(pass.q[h], pass.k[h], pass.v[h], columns(upper[0]), columns(branch.context),
                                   toInput);
        step.head = h;
        step.attention = head.relevance;
        step.gradient = head.gradient;
        visit(step);
        for (int part = 0; toInput && part < 3; ++part) {
            columns(gradientQkv, part * d).copy_(head.gradientQkv[std::size_t(part)]);
            columns(relevanceQkv, part * d).copy_(head.relevanceQkv[std::size_t(part)]);
        }
    }
    if (!toInput)
        return {};
    return {upper[1] + torch::autograd::grad({pass.qkvOutput}, {x}, {gradientQkv})[0],
            branch.inputResidual + linearRelevance(pass.qkv, weights.qkvW, relevanceQkv)};
}

// Relevance and gradients, block by block from the last to startLayer and head by head
// within a block, with one head's [T, T] in memory at a time: a float64 pass without the
// autograd graph keeps each block's input [T, D]; each block then runs again with the
// graph and is differentiated with respect to its attention and its input (the score's
// gradient handed down, as activation checkpointing does) while the relevance at its
// output is propagated through it. Relevance starts as a one-hot on the class, through the
// head onto the class token (selecting it and the final LayerNorm pass relevance unchanged).
int propagateRelevance(const VisionTransformer& vit, const Tensor& input, int classIndex, int startLayer,
                       const RelevanceVisitor& visit, TokenLayout& layout)
{
    const auto& spec = vit.spec();
    const auto& w = vit.weights();
    Tensor modelLogits;          // the model's own float32 pass: the class, and a check of ours
    std::vector<Tensor> states;  // float64 stream entering each block, then the last one's output [T, D]
    {
        torch::NoGradGuard noGrad;
        modelLogits = vit.logits(input, /*training=*/false);
        states.push_back(embedding64(w, input, vit.embedded(input, layout)[0], layout));
        for (const auto& b : w.blocks)
            states.push_back(blockForward(b, states.back(), spec.heads, spec.layerNormEps).output);
    }
    classScore(modelLogits, classIndex);  // resolves -1 to the top-1 class, checks the range
    StreamAtBlock stream;
    {
        torch::AutoGradMode enableGrad(true);
        const auto last = states.back().detach().requires_grad_(true);
        const auto head = headForward(w, last, spec.layerNormEps);
        expectSameLogits(head.logits.detach(), modelLogits);
        stream.gradient = torch::autograd::grad({head.logits[0][classIndex]}, {last})[0];
        torch::NoGradGuard noGrad;
        auto oneHot = torch::zeros_like(head.logits);  // [1, classes]
        oneHot[0][classIndex] = 1.0;
        stream.relevance = torch::zeros_like(last);
        stream.relevance[0] = linearRelevance(head.head, w.headW, oneHot)[0];
    }
    for (int l = int(w.blocks.size()) - 1; l >= startLayer; --l) {
        throwIfCancelled();
        RelevanceStep step;
        step.block = l;
        const bool toInput = l > startLayer;  // below startLayer's attention map nothing is needed
        stream = blockStep(w.blocks[std::size_t(l)], spec, states[std::size_t(l)], stream, toInput, step, visit);
        states[std::size_t(l) + 1] = Tensor();  // no longer needed
    }
    return classIndex;
}

const VisionTransformer& checkedViT(const Classifier& model, const Tensor& input, int startLayer)
{
    const auto& vit = explainableViT(model);
    const int depth = int(vit.weights().blocks.size());
    if (startLayer < 0 || startLayer >= depth)
        throw EngineError("transformer attribution start layer " + std::to_string(startLayer) + " outside the "
                          + std::to_string(depth) + " blocks");
    if (input.dim() != 4 || input.size(0) != 1)
        throw EngineError("transformer attribution explains one image [1, C, H, W]");
    if (c10::InferenceMode::is_enabled())
        throw EngineError("transformer attribution cannot run under inference mode");
    // One head at a time in float64: its attention, gradient and relevance, and the
    // rules' products. Measured: 1.55 GB above the trace for 3601 tokens, about twelve
    // float64 [T, T] of one head after the heap's fragmentation (docs/benchmarks.md).
    const auto& spec = vit.spec();
    checkAttentionBudget(input, spec.patchSize, spec.prefixTokens(), 1, 12, 8, "transformer attribution");
    return vit;
}

}  // namespace

TransformerRelevance transformerRelevance(const Classifier& model, const Tensor& input, int classIndex, int startLayer)
{
    const auto& vit = checkedViT(model, input, startLayer);
    TransformerRelevance out;
    const int n = int(vit.weights().blocks.size()) - startLayer;
    out.attention.resize(std::size_t(n));
    out.gradients.resize(std::size_t(n));
    out.outputTotal.resize(std::size_t(n));
    out.attentionBranchTotal.resize(std::size_t(n));
    std::vector<Tensor> relevance, gradients;  // the block's heads so far, [T, T] each
    const auto keep = [&](const RelevanceStep& step) {
        relevance.push_back(step.attention);
        gradients.push_back(step.gradient);
        if (step.head + 1 < step.heads)
            return;
        const auto k = std::size_t(step.block - startLayer);
        out.attention[k] = torch::stack(relevance);
        out.gradients[k] = torch::stack(gradients);
        out.outputTotal[k] = step.outputTotal;
        out.attentionBranchTotal[k] = step.attentionBranch;
        relevance.clear();
        gradients.clear();
    };
    out.classIndex = propagateRelevance(vit, input, classIndex, startLayer, keep, out.tokens);
    return out;
}

ClassMaps transformerAttribution(const Classifier& model, const Tensor& input, int classIndex, int startLayer)
{
    const auto& vit = checkedViT(model, input, startLayer);
    // R <- R + A_bar R from R = I, A_bar = mean_h((grad * R^A)+) [T, T]: the image row of
    // R = (I + A_bar_last) ... (I + A_bar_start), from the left as the blocks come.
    TokenLayout layout;
    std::optional<ImageRowProduct> rollout;
    Tensor headSum;  // sum over the block's heads so far of (grad * R^A)+ [T, T]
    const auto roll = [&](const RelevanceStep& step) {
        const auto positive = (step.gradient * step.attention).clamp_min_(0);
        headSum = step.head == 0 ? positive : headSum.add_(positive);
        if (step.head + 1 < step.heads)
            return;
        if (!rollout)
            rollout.emplace(layout);
        rollout->multiplyIdentityPlus(headSum.div_(step.heads));
        headSum = Tensor();
    };
    ClassMaps out;
    out.classIndex = propagateRelevance(vit, input, classIndex, startLayer, roll, layout);
    out.maps.push_back(rollout->map());
    return out;
}

ViewMaps transformerAttributionView(const Classifier& model, const Trace& trace, const ViewRequest& request)
{
    const int start = rolloutStartBlock(trace, request);
    const auto result = transformerAttribution(model, trace.input, request.classIndex, start);
    return rolledOutView(result.maps[0], start, "mean", result.classIndex);
}

}  // namespace attnviz::engine
