#include "core/engine/vit/vit.h"

#include "core/engine/model/batchtraces.h"

#include "core/engine/cancellation.h"
#include "core/engine/engineerror.h"
#include "core/engine/tensorconvert.h"
#include "core/engine/vit/families.h"
#include "core/engine/vit/relativebias.h"

#include <algorithm>
#include <chrono>

namespace attnviz::engine {
namespace F = torch::nn::functional;

VisionTransformer::VisionTransformer(ModelSpec spec, ViTWeights weights)
    : m_spec(std::move(spec))
    , m_w(std::move(weights))
{
    if (!m_w.blocks.empty() && m_w.blocks.front().relTable.defined())
        m_relIndex = relativePositionIndex(m_spec.posGrid[0], m_spec.posGrid[1]);
}

void VisionTransformer::to(torch::Device device)
{
    for (auto& entry : m_w.named())
        *entry.second = entry.second->to(device);
    if (m_relIndex.defined())
        m_relIndex = m_relIndex.to(device);
    if (m_text)
        m_text->to(device);
    if (m_promptClasses.defined())
        m_promptClasses = m_promptClasses.to(device);
    if (m_neutralPrompt.defined())
        m_neutralPrompt = m_neutralPrompt.to(device);
    m_device = device;
}

void VisionTransformer::setTextTower(std::unique_ptr<text::TextTower> tower)
{
    m_text = std::move(tower);
    if (m_text)
        m_text->to(m_device);
    m_spec.description = vitDescription(m_spec, m_text.get());
}

void VisionTransformer::setPromptClasses(const torch::Tensor& classes, std::vector<std::string> labels)
{
    if (!m_text)
        throw EngineError(m_spec.description + " has no text tower to take classes from");
    if (m_w.headW.defined())
        throw EngineError(m_spec.description + " has a classifier of its own");
    if (classes.dim() != 2 || classes.size(0) != int64_t(labels.size()) || classes.size(1) != m_spec.embeddingDim)
        throw EngineError("prompt classes " + io::shapeString(classes.sizes().vec()) + " for "
                          + std::to_string(labels.size()) + " labels and " + std::to_string(m_spec.embeddingDim)
                          + "-d embeddings");
    m_promptClasses = classes.detach().clone().to(m_device);  // a clone: no inference-mode tensor
    m_spec.numClasses = int(labels.size());
    m_spec.labels = std::move(labels);
    m_spec.promptClasses = true;
    m_spec.sigmoidScores = m_text->spec().score == text::TextScore::Sigmoid;
    m_spec.description = vitDescription(m_spec, m_text.get());
}

void VisionTransformer::setNeutralPrompt(const torch::Tensor& embedding)
{
    if (embedding.defined() && (embedding.dim() != 1 || embedding.size(0) != m_spec.embeddingDim))
        throw EngineError("a neutral prompt " + io::shapeString(embedding.sizes().vec()) + " for "
                          + std::to_string(m_spec.embeddingDim) + "-d embeddings");
    m_neutralPrompt = embedding.defined() ? embedding.detach().clone().to(m_device) : torch::Tensor();
}

const text::TextTower* textTowerOf(const Classifier& model)
{
    const auto* vit = dynamic_cast<const VisionTransformer*>(&model);
    return vit ? vit->textTower() : nullptr;
}

std::shared_ptr<VisionTransformer> VisionTransformer::withPromptClasses(const torch::Tensor& classes,
                                                                        std::vector<std::string> labels) const
{
    auto copy = std::make_shared<VisionTransformer>(*this);  // tensors are shared, not copied
    copy->setPromptClasses(classes, std::move(labels));
    return copy;
}

std::shared_ptr<VisionTransformer> VisionTransformer::withTestTimeRegister(RegisterNeurons neurons) const
{
    if (!m_register.empty())
        throw EngineError(m_spec.description + " has a test-time register already");
    if (m_relIndex.defined())
        throw EngineError("a test-time register needs a ViT without relative position bias (BEiT has one)");
    const int hidden = int(m_w.blocks.front().fc2W.size(1));
    for (const auto& [blockIndex, units] : neurons.units) {
        if (blockIndex < 0 || blockIndex >= int(m_w.blocks.size()))
            throw EngineError("no block " + std::to_string(blockIndex) + " for a register neuron (blocks 0.."
                              + std::to_string(m_w.blocks.size() - 1) + ")");
        for (const auto unit : units)
            if (unit < 0 || unit >= hidden)
                throw EngineError("no MLP unit " + std::to_string(unit) + " in block " + std::to_string(blockIndex)
                                  + " (0.." + std::to_string(hidden - 1) + ")");
    }
    auto copy = std::make_shared<VisionTransformer>(*this);  // tensors are shared, not copied
    copy->m_register = std::move(neurons);
    return copy;
}

torch::Tensor VisionTransformer::promptLogits(const torch::Tensor& embeddings) const
{
    if (!m_promptClasses.defined())
        throw EngineError(m_spec.description + " has no prompt classes to score");
    return m_text->logits(embeddings.to(m_device, torch::kFloat32), m_promptClasses).to(torch::kCPU);
}

std::vector<std::pair<std::string, torch::Tensor>> VisionTransformer::namedParameters() const
{
    const auto isRunningStatistic = [](const std::string& name) {
        return name.find(".running_") != std::string::npos;  // a conv stem's batch norm
    };
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (auto& [name, tensor] : m_w.named())
        if (!isRunningStatistic(name))
            out.emplace_back(name, *tensor);
    return out;
}

io::TensorMap VisionTransformer::stateDict() const
{
    io::TensorMap out;
    for (auto& [name, t] : m_w.named())
        out[name] = toRawF32(*t);
    return out;
}

torch::Tensor VisionTransformer::patchPositions(int gh, int gw) const
{
    // pos_embed: [1, prefix? + gh0*gw0, D]; the prefix part is dropped here.
    const int prefix = m_spec.positionedPrefix();
    if (!m_w.posEmbed.defined())  // BEiT: relative positions only
        return torch::zeros({1, int64_t(gh) * gw, m_w.patchW.size(0)}, m_w.patchW.options());
    auto pos = m_w.posEmbed.narrow(1, prefix, m_w.posEmbed.size(1) - prefix);
    const auto [gh0, gw0] = m_spec.posGrid;
    if (gh == gh0 && gw == gw0)
        return pos;
    // Other input sizes: resample the grid bicubically, as the checkpoint's library does
    // (ModelSpec::posResampling: timm antialiases, HF does not, torchvision aligns corners).
    const auto d = pos.size(2);
    auto grid = pos.reshape({1, gh0, gw0, d}).permute({0, 3, 1, 2});
    grid = F::interpolate(grid, F::InterpolateFuncOptions()
                                    .size(std::vector<int64_t>{gh, gw})
                                    .mode(torch::kBicubic)
                                    .align_corners(m_spec.posResampling.alignCorners)
                                    .antialias(m_spec.posResampling.antialias));
    return grid.permute({0, 2, 3, 1}).reshape({1, int64_t(gh) * gw, d});
}

torch::Tensor VisionTransformer::embed(const torch::Tensor& input, TokenLayout& layout, bool training) const
{
    const int p = m_spec.patchSize;
    if (input.dim() != 4 || input.size(1) != m_spec.preprocessing.inputSize[0])
        throw EngineError("ViT input must be [N, " + std::to_string(m_spec.preprocessing.inputSize[0]) + ", H, W], got "
                          + io::shapeString(input.sizes().vec()));
    if (input.size(2) < p || input.size(3) < p)
        throw EngineError("ViT input " + io::shapeString(input.sizes().vec()) + " is smaller than one "
                          + std::to_string(p) + "-pixel patch");
    // [N, D, gh, gw] -> [N, gh*gw, D]
    auto x = embedPatches(m_w.stem, m_w.patchW, m_w.patchB, input, training);
    layout.gridH = int(x.size(2));
    layout.gridW = int(x.size(3));
    layout.patchSize = p;
    layout.firstPatchCentre = convStemStride(m_w.stem) * double(m_w.patchW.size(-1) - 1) / 2.0;
    layout.hasCls = m_spec.hasClsToken;
    layout.hasDist = m_spec.hasDistToken;
    layout.regTokens = m_spec.regTokens;
    x = x.flatten(2).transpose(1, 2);

    const auto n = x.size(0);
    std::vector<torch::Tensor> prefix;
    for (const auto* t : {&m_w.clsToken, &m_w.distToken, &m_w.regTokens})
        if (t->defined())
            prefix.push_back(t->expand({n, -1, -1}));
    // [1, T, D]: the positioned prefix tokens' entries, none for the others (registers
    // in HF DINOv2, every prefix token with no_embed_class), the patch grid's.
    const int positioned = m_w.posEmbed.defined() ? m_spec.positionedPrefix() : 0;
    auto pos = torch::cat({m_w.posEmbed.defined() ? m_w.posEmbed.narrow(1, 0, positioned)
                                                  : x.new_zeros({1, 0, x.size(2)}),
                           torch::zeros({1, m_spec.prefixTokens() - positioned, x.size(2)}, x.options()),
                           patchPositions(layout.gridH, layout.gridW)},
                          1);
    prefix.push_back(x);
    x = torch::cat(prefix, 1) + pos;
    if (!m_register.empty()) {  // the test-time register: zeros after the prefix, no position
        const int p = m_spec.prefixTokens();
        x = torch::cat({x.narrow(1, 0, p), x.new_zeros({n, 1, x.size(2)}), x.narrow(1, p, x.size(1) - p)}, 1);
        layout.regTokens += 1;
    }
    // CLIP normalises the embedded tokens before the first block (ln_pre, norm_pre).
    if (m_w.preNormW.defined())
        x = torch::layer_norm(x, {x.size(-1)}, m_w.preNormW, m_w.preNormB, m_spec.layerNormEps);
    return x;
}

std::vector<RelativeBias> VisionTransformer::relativeBiases(int gh, int gw) const
{
    std::vector<RelativeBias> biases;
    if (!m_relIndex.defined())
        return biases;
    // The trained grid reads the tables as they are; another one resizes them as timm
    // does when it loads the checkpoint at that size.
    const bool trained = gh == m_spec.posGrid[0] && gw == m_spec.posGrid[1];
    const auto index = trained ? m_relIndex : relativePositionIndex(gh, gw).to(m_device);
    for (const auto& b : m_w.blocks)
        biases.push_back(
            {trained ? b.relTable : resizeRelativeBiasTable(b.relTable, m_spec.posGrid[0], gh, gw), index});
    return biases;
}

namespace {

// The most floats one band of attention rows [N, H, rows, T] may hold: 64 MB.
constexpr int64_t kBandFloats = int64_t(1) << 24;

// The rows of one band a [N, H, rows, T] (query rows first..) that the record keeps: the
// prefix tokens' rows are copied out; without a CLS token the patch tokens' rows are
// added to `patchRowSum` [N, H, 1, T] (a product with ones: BLAS on every core, where a
// reduction over the rows would run on LibTorch's one thread).
void recordBand(const torch::Tensor& a, int64_t first, int64_t prefix, std::vector<torch::Tensor>& prefixRows,
                torch::Tensor& patchRowSum)
{
    const auto rows = a.size(2);
    if (first < prefix)
        prefixRows.push_back(a.narrow(2, 0, std::min(prefix, first + rows) - first).clone());
    const auto firstPatch = std::max(prefix, first);
    if (patchRowSum.defined() && firstPatch < first + rows) {
        const auto patchRows = a.narrow(2, firstPatch - first, first + rows - firstPatch);
        patchRowSum += torch::matmul(torch::ones({1, patchRows.size(2)}, a.options()), patchRows);
    }
}

// softmax(q kᵀ + bias) v a band of query rows at a time: no [N, H, T, T] exists at once.
// q, k, v [N, H, T, hd] -> [N, H, T, hd]; `record`, when given, receives the rows (the
// patch rows' mean only for a model without CLS, whose summary row it is).
torch::Tensor attendInBands(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                            const RelativeBias& bias, int64_t prefix, bool hasCls, BlockAttention* record)
{
    const auto n = q.size(0), h = q.size(1), t = q.size(2);
    const int64_t band = std::clamp<int64_t>(kBandFloats / (n * h * t), 1, t);
    auto out = torch::empty(q.sizes(), q.options());
    std::vector<torch::Tensor> prefixRows;  // [N, H, rows, T] pieces
    auto patchRowSum = record && !hasCls ? torch::zeros({n, h, 1, t}, q.options()) : torch::Tensor();
    for (int64_t first = 0; first < t; first += band) {
        const auto rows = std::min(band, t - first);
        const auto a = attentionWeights(q.narrow(2, first, rows), k, bias.rows(first, rows, t));
        out.narrow(2, first, rows).copy_(torch::matmul(a, v));
        if (record)
            recordBand(a, first, prefix, prefixRows, patchRowSum);
    }
    if (record) {
        record->prefixRows = prefixRows.empty() ? q.new_empty({n, h, 0, t}) : torch::cat(prefixRows, 2);
        if (patchRowSum.defined())
            record->patchRowMean = patchRowSum.squeeze(2) / double(t - prefix);
    }
    return out;
}

}  // namespace

torch::Tensor VisionTransformer::attend(const ViTBlockWeights& b, const torch::Tensor& x, const RelativeBias& bias,
                                        const AttentionSinks& sinks) const
{
    const auto n = x.size(0);
    const auto tokens = x.size(1);
    const auto d = x.size(2);
    const auto h = m_spec.heads;
    const auto hd = d / h;
    // [N, T, 3D] -> [3, N, H, T, hd]
    auto qkv = F::linear(x, b.qkvW, b.qkvB).reshape({n, tokens, 3, h, hd}).permute({2, 0, 3, 1, 4});
    const auto q = qkv[0] * (1.0 / std::sqrt(double(hd)));
    const auto k = qkv[1];
    torch::Tensor context;  // [N, H, T, hd]
    if (sinks.weights || torch::GradMode::is_enabled()) {
        // [N, H, T, T] explicitly, because fused attention never returns weights
        const auto attn = attentionWeights(q, k, bias.rows(0, tokens, tokens));
        if (sinks.weights)
            *sinks.weights = attn;
        context = torch::matmul(attn, qkv[2]);
    } else {
        context = attendInBands(q, k, qkv[2], bias, prefixTokens(), m_spec.hasClsToken, sinks.record);
    }
    if (sinks.record) {
        sinks.record->queries = q;
        sinks.record->keys = k.contiguous();  // its own storage: not a view that keeps v alive
        sinks.record->bias = bias;
    }
    auto out = context.transpose(1, 2).reshape({n, tokens, d});
    return F::linear(out, b.projW, b.projB);
}

torch::Tensor VisionTransformer::norm1(const ViTBlockWeights& b, const torch::Tensor& x) const
{
    return torch::layer_norm(x, {x.size(-1)}, b.norm1W, b.norm1B, m_spec.layerNormEps);
}

torch::Tensor VisionTransformer::block(std::size_t index, const torch::Tensor& x, torch::Tensor normed,
                                       const RelativeBias& bias, const AttentionSinks& sinks,
                                       const BlockProbes& probes) const
{
    const auto& b = m_w.blocks[index];
    if (!normed.defined())
        normed = norm1(b, x);
    // A replaced norm1 output [K, T, D] broadcasts against the residual x [1, T, D].
    auto a = attend(b, normed, bias, sinks);
    if (b.ls1.defined())
        a = a * b.ls1;
    auto y = x + a;
    auto n2 = torch::layer_norm(y, {y.size(-1)}, b.norm2W, b.norm2B, m_spec.layerNormEps);
    const auto units = moveToRegister(index, mlpActivation(m_spec.mlp, F::linear(n2, b.fc1W, b.fc1B)));
    if (probes.mlpUnits)
        probes.mlpUnits->push_back(units.detach().to(torch::kCPU));
    auto m = F::linear(units, b.fc2W, b.fc2B);
    if (b.ls2.defined())
        m = m * b.ls2;
    if (auto* residuals = probes.residuals) {  // token norms over D: [N, T] each
        const auto prefix = std::to_string(index);
        residuals->push_back({prefix + ".attn", x.norm(2, -1).to(torch::kCPU), a.norm(2, -1).to(torch::kCPU)});
        residuals->push_back({prefix + ".mlp", y.norm(2, -1).to(torch::kCPU), m.norm(2, -1).to(torch::kCPU)});
    }
    return y + m;
}

torch::Tensor VisionTransformer::moveToRegister(std::size_t index, const torch::Tensor& h) const
{
    const auto found = m_register.units.find(int(index));
    if (found == m_register.units.end())
        return h;
    const auto units = torch::tensor(found->second, torch::dtype(torch::kLong).device(h.device()));
    const auto chosen = h.index_select(2, units);  // [N, T, K]
    // The authors' sign_max: one value per image, the largest magnitude over every token and
    // every unit of the block, with its sign.
    const auto flat = chosen.flatten(1);
    const auto high = std::get<0>(flat.max(1)), low = std::get<0>(flat.min(1));  // [N]
    const auto value = torch::where(high.abs() > low.abs(), high, low);
    const int reg = m_spec.prefixTokens();  // the register, after the model's own prefix tokens
    const auto n = chosen.size(0), k = chosen.size(2);
    // [N, T, K]: the prefix tokens' values kept, the register's set, the patches' zero.
    const auto edited = torch::cat({chosen.narrow(1, 0, reg), value.view({n, 1, 1}).expand({n, 1, k}),
                                    chosen.new_zeros({n, chosen.size(1) - reg - 1, k})},
                                   1);
    return h.index_copy(2, units, edited);
}

torch::Tensor mlpActivation(ViTMlp kind, const torch::Tensor& hidden)
{
    switch (kind) {
    case ViTMlp::QuickGelu: return hidden * torch::sigmoid(1.702 * hidden);
    case ViTMlp::SwiGlu: {
        const auto halves = hidden.chunk(2, -1);  // [..., 2H] -> SiLU(x1) * x2 [..., H]
        return torch::silu(halves[0]) * halves[1];
    }
    case ViTMlp::GeluTanh: return torch::gelu(hidden, "tanh");
    case ViTMlp::Gelu: break;
    }
    return torch::gelu(hidden);
}

torch::Tensor VisionTransformer::attentionPool(const torch::Tensor& y, torch::Tensor* attention) const
{
    const auto& a = m_w.pool;
    const auto n = y.size(0);
    const auto tokens = y.size(1);
    const auto d = y.size(2);
    const auto h = m_spec.heads;
    const auto hd = d / h;
    const auto latents = a.latent.size(1);
    // [1, L, D] -> [N, H, L, hd]
    auto q = a.qW.defined() ? F::linear(a.latent, a.qW, a.qB) : a.latent;
    q = q.reshape({1, latents, h, hd}).transpose(1, 2).expand({n, -1, -1, -1}) * (1.0 / std::sqrt(double(hd)));
    // [N, T, 2D] -> [2, N, H, T, hd]
    const auto kv = F::linear(y, a.kvW, a.kvB).reshape({n, tokens, 2, h, hd}).permute({2, 0, 3, 1, 4});
    const auto attn = torch::softmax(torch::matmul(q, kv[0].transpose(-2, -1)), -1);  // [N, H, L, T]
    if (attention)
        *attention = attn;
    auto out = F::linear(torch::matmul(attn, kv[1]).transpose(1, 2).reshape({n, latents, d}), a.projW, a.projB);
    const auto normed = torch::layer_norm(out, {d}, a.normW, a.normB, m_spec.layerNormEps);
    out = out + F::linear(mlpActivation(m_spec.mlp, F::linear(normed, a.fc1W, a.fc1B)), a.fc2W, a.fc2B);
    return out.select(1, 0);  // the first latent's output [N, D], as both libraries pool
}

torch::Tensor VisionTransformer::pooled(const torch::Tensor& x, torch::Tensor* poolAttention) const
{
    const auto ln = [this](const torch::Tensor& t, const torch::Tensor& w, const torch::Tensor& bias) {
        return w.defined() ? torch::layer_norm(t, {t.size(-1)}, w, bias, m_spec.layerNormEps) : t;
    };
    auto y = ln(x, m_w.normW, m_w.normB);  // [N, T, D]
    const int n = prefixTokens();
    const auto patchMean = [&] { return y.narrow(1, n, y.size(1) - n).mean(1); };  // [N, D]
    if (m_spec.attentionPool)
        return attentionPool(y, poolAttention);
    if (m_spec.headOnClsAndMean)
        return torch::cat({y.select(1, 0), patchMean()}, -1);  // [N, 2D]
    if (m_spec.avgPool)
        return ln(patchMean(), m_w.fcNormW, m_w.fcNormB);
    return y.select(1, 0);
}

torch::Tensor VisionTransformer::logitsOfPooled(const torch::Tensor& p) const
{
    if (m_promptClasses.defined())
        return m_text->logits(m_w.projW.defined() ? F::linear(p, m_w.projW) : p, m_promptClasses);
    return m_w.headW.defined() ? F::linear(p, m_w.headW, m_w.headB) : torch::Tensor();
}

torch::Tensor VisionTransformer::tokenLogits(const torch::Tensor& x) const
{
    if (!m_promptClasses.defined() && !m_w.headW.defined())
        throw EngineError(m_spec.description + " has no classes to read its tokens with");
    if (m_spec.attentionPool || m_spec.headOnClsAndMean)
        throw EngineError(m_spec.description + "'s head reads "
                          + (m_spec.attentionPool ? "an attention pool" : "the CLS token and the patch mean together")
                          + ", which no single token is");
    const auto ln = [this](const torch::Tensor& t, const torch::Tensor& w, const torch::Tensor& bias) {
        return w.defined() ? torch::layer_norm(t, {t.size(-1)}, w, bias, m_spec.layerNormEps) : t;
    };
    auto y = ln(x, m_w.normW, m_w.normB);  // [N, T, D]
    if (m_spec.avgPool)
        y = ln(y, m_w.fcNormW, m_w.fcNormB);
    const auto logits = logitsOfPooled(y.reshape({-1, y.size(2)}));  // [N * T, classes]
    return logits.view({x.size(0), x.size(1), -1});
}

torch::Tensor VisionTransformer::classify(const torch::Tensor& x, torch::Tensor* poolAttention) const
{
    if (!m_promptClasses.defined() && !m_w.headW.defined())
        return {};
    auto logits = logitsOfPooled(pooled(x, poolAttention));
    if (m_w.headDistW.defined()) {  // DeiT distilled: average of the class and distillation heads
        const auto y = torch::layer_norm(x, {x.size(-1)}, m_w.normW, m_w.normB, m_spec.layerNormEps);
        logits = (logits + F::linear(y.select(1, 1), m_w.headDistW, m_w.headDistB)) / 2;
    }
    return logits;
}

torch::Tensor VisionTransformer::embedding(const torch::Tensor& x, torch::Tensor* poolAttention) const
{
    const auto p = pooled(x, poolAttention);
    return m_w.projW.defined() ? F::linear(p, m_w.projW) : p;
}

namespace {

// Image n's part of a batch's attention record, on the CPU.
AttentionRecord recordOf(const std::vector<BlockAttention>& batch, int64_t n)
{
    std::vector<BlockAttention> blocks;
    for (const auto& b : batch) {
        BlockAttention one;
        one.queries = b.queries[n].to(torch::kCPU);  // [H, T, hd]
        one.keys = b.keys[n].to(torch::kCPU);
        one.prefixRows = b.prefixRows[n].to(torch::kCPU);          // [H, P, T]
        if (b.patchRowMean.defined())                              // without a CLS token only
            one.patchRowMean = b.patchRowMean[n].to(torch::kCPU);  // [H, T]
        if (b.bias.table.defined())
            one.bias = {b.bias.table.to(torch::kCPU), b.bias.pairIndex.to(torch::kCPU)};
        blocks.push_back(std::move(one));
    }
    return AttentionRecord(std::move(blocks));
}

// The value replacing a [1, T, D] token tensor: [K, T, D] on its device.
torch::Tensor replacementFor(const torch::Tensor& original, const LayerReplacement& r)
{
    if (r.value.dim() != 3 || r.value.size(1) != original.size(1) || r.value.size(2) != original.size(2))
        throw EngineError("replacement for '" + r.layer + "' must be [K, " + std::to_string(original.size(1)) + ", "
                          + std::to_string(original.size(2)) + "], got " + io::shapeString(r.value.sizes().vec()));
    return r.value.to(original.device(), original.scalar_type());
}

}  // namespace

torch::Tensor VisionTransformer::encode(const torch::Tensor& input, TokenLayout& layout, const EncodeHooks& hooks) const
{
    auto x = embed(input.to(m_device, torch::kFloat32), layout, hooks.training);
    const auto biases = relativeBiases(layout.gridH, layout.gridW);  // per block, or none
    const auto* r = hooks.replacement;
    bool replaced = r == nullptr;
    for (std::size_t i = 0; i < m_w.blocks.size(); ++i) {
        const auto& b = m_w.blocks[i];
        const auto name = std::to_string(i);
        if (r && r->layer == name) {
            x = replacementFor(x, *r);
            replaced = true;
        }
        if (hooks.tokenStates)
            hooks.tokenStates->push_back(x);
        if (hooks.lastBlockInput && i + 1 == m_w.blocks.size())
            *hooks.lastBlockInput = x;
        torch::Tensor normed;
        if (hooks.norm1Outputs || r) {
            normed = norm1(b, x);
            if (r && r->layer == name + ".norm1") {
                normed = replacementFor(normed, *r);
                replaced = true;
            }
            if (hooks.norm1Outputs)
                hooks.norm1Outputs->push_back(normed);
        }
        BlockAttention record;
        throwIfCancelled();
        x = block(i, x, normed, biases.empty() ? RelativeBias{} : biases[i],
                  {nullptr, hooks.record ? &record : nullptr},
                  {hooks.residuals, i <= hooks.mlpUnitsThrough ? hooks.mlpUnits : nullptr});
        checkCancelledInBackward(x);
        if (hooks.record)
            hooks.record->push_back(std::move(record));
        if (hooks.tokenNorms)
            hooks.tokenNorms->push_back(x.norm(2, -1).to(torch::kCPU));
    }
    if (!replaced)
        throw EngineError("no ViT layer '" + r->layer + "' to replace (blocks 0.."
                          + std::to_string(m_w.blocks.size() - 1) + ", or <block>.norm1)");
    if (hooks.tokenStates)
        hooks.tokenStates->push_back(x);
    return x;
}

Activations VisionTransformer::activations(const torch::Tensor& batch) const
{
    // The graph keeps every block's softmax [N, H, T, T], and its backward more: measured,
    // a 5.76 GB peak for 3.7 GB of matrices (docs/benchmarks.md), so 1.4 copies a block.
    if (torch::GradMode::is_enabled())
        checkAttentionBudget(batch, m_spec.patchSize, prefixTokens(), m_spec.heads,
                             1.4 * double(batch.size(0)) * double(m_w.blocks.size()), 4,
                             "a differentiable pass (a CAM before the last block, saliency, effective fields)");
    Activations out;
    EncodeHooks hooks;
    hooks.tokenStates = &out.tokenStates;
    hooks.norm1Outputs = &out.norm1Outputs;
    out.logits = classify(encode(batch, out.tokens, hooks));
    return out;
}

torch::Tensor VisionTransformer::logitsReplacing(const torch::Tensor& input, const LayerReplacement& replacement) const
{
    if (input.dim() != 4 || input.size(0) != 1)
        throw EngineError("a replaced forward takes one image [1, C, H, W], got "
                          + io::shapeString(input.sizes().vec()));
    TokenLayout layout;
    EncodeHooks hooks;
    hooks.replacement = &replacement;
    return classify(encode(input, layout, hooks));
}

Activations VisionTransformer::activationsOfLastLayer(const torch::Tensor& lastLayerInput,
                                                      const TokenLayout& tokens) const
{
    const auto depth = m_w.blocks.size();
    if (lastLayerInput.dim() != 3 || lastLayerInput.size(1) != tokens.tokens()
        || lastLayerInput.size(2) != m_spec.embedDim)
        throw EngineError("the last block's input must be [N, " + std::to_string(tokens.tokens()) + ", "
                          + std::to_string(m_spec.embedDim) + "], got "
                          + io::shapeString(lastLayerInput.sizes().vec()));
    Activations out;
    out.tokens = tokens;
    out.tokenStates.resize(depth + 1);
    out.norm1Outputs.resize(depth);
    const auto last = depth - 1;
    const auto& b = m_w.blocks[last];
    const auto biases = relativeBiases(tokens.gridH, tokens.gridW);
    auto x = lastLayerInput.to(m_device, torch::kFloat32);
    out.tokenStates[last] = x;
    out.norm1Outputs[last] = norm1(b, x);
    x = block(last, x, out.norm1Outputs[last], biases.empty() ? RelativeBias{} : biases[last], {}, {});
    out.tokenStates[depth] = x;
    out.logits = classify(x);
    return out;
}

VisionTransformer::MlpUnits VisionTransformer::mlpUnits(const torch::Tensor& input, int throughBlock) const
{
    if (throughBlock < 0 || throughBlock >= int(m_w.blocks.size()))
        throw EngineError("block " + std::to_string(throughBlock) + " outside the " + std::to_string(m_w.blocks.size())
                          + " blocks");
    torch::NoGradGuard noGrad;
    MlpUnits out;
    EncodeHooks hooks;
    hooks.mlpUnits = &out.activations;
    hooks.mlpUnitsThrough = std::size_t(throughBlock);
    hooks.tokenNorms = &out.outputNorms;
    encode(input, out.layout, hooks);
    return out;
}

torch::Tensor VisionTransformer::embedded(const torch::Tensor& input, TokenLayout& layout) const
{
    return embed(input.to(m_device, torch::kFloat32), layout, /*training=*/false);
}

std::vector<torch::Tensor> VisionTransformer::blockStates(const torch::Tensor& input, int firstBlock,
                                                          TokenLayout& layout) const
{
    const int depth = int(m_w.blocks.size());
    if (firstBlock < 0 || firstBlock >= depth)
        throw EngineError("block " + std::to_string(firstBlock) + " outside the " + std::to_string(depth) + " blocks");
    if (input.dim() != 4 || input.size(0) != 1)
        throw EngineError("attention gradients explain one image [1, C, H, W], got "
                          + io::shapeString(input.sizes().vec()));
    std::vector<torch::Tensor> states;
    torch::NoGradGuard noGrad;
    EncodeHooks hooks;
    hooks.tokenStates = &states;
    encode(input, layout, hooks);
    return states;
}

void VisionTransformer::visitAttentionGradients(const torch::Tensor& input, int firstBlock,
                                                const std::function<torch::Tensor(const torch::Tensor&)>& score,
                                                const AttentionGradientVisitor& visit, TokenLayout& layout) const
{
    auto states = blockStates(input, firstBlock, layout);
    torch::AutoGradMode enableGrad(true);
    auto last = states.back().detach().requires_grad_(true);
    auto upstream = torch::autograd::grad({score(classify(last))}, {last})[0];  // d score / d stream [1, T, D]
    const auto biases = relativeBiases(layout.gridH, layout.gridW);
    for (int l = int(m_w.blocks.size()) - 1; l >= firstBlock; --l) {
        throwIfCancelled();
        auto x = states[std::size_t(l)].detach().requires_grad_(true);
        torch::Tensor attention;  // [1, H, T, T], on this block's graph only
        const auto out = block(std::size_t(l), x, {}, biases.empty() ? RelativeBias{} : biases[std::size_t(l)],
                               {&attention, nullptr}, {});
        const bool toInput = l > firstBlock;
        const auto targets = toInput ? std::vector<torch::Tensor>{attention, x} : std::vector<torch::Tensor>{attention};
        auto grads = torch::autograd::grad({out}, targets, {upstream});
        visit(l, attention.detach()[0], grads[0][0]);
        if (toInput)
            upstream = grads[1];
        states[std::size_t(l) + 1] = torch::Tensor();  // no longer needed
    }
}

void VisionTransformer::visitReadoutGradients(const torch::Tensor& input, int firstBlock,
                                              const std::function<torch::Tensor(const torch::Tensor&)>& score,
                                              const AttentionGradientVisitor& visit, TokenLayout& layout) const
{
    if (m_spec.attentionPool && !m_promptClasses.defined() && !m_w.headW.defined())
        throw EngineError(m_spec.description + " has no classes to read its blocks with");
    const auto states = blockStates(input, firstBlock, layout);
    torch::AutoGradMode enableGrad(true);
    const auto biases = relativeBiases(layout.gridH, layout.gridW);
    for (int l = firstBlock; l < int(m_w.blocks.size()); ++l) {
        throwIfCancelled();
        // The input requires grad so that the attention does (the weights do not); only
        // the gradient at the attention is taken.
        auto x = states[std::size_t(l)].detach().requires_grad_(true);
        torch::Tensor attention;  // [1, H, T, T]
        auto out = block(std::size_t(l), x, {}, biases.empty() ? RelativeBias{} : biases[std::size_t(l)],
                         {&attention, nullptr}, {});
        if (m_spec.attentionPool) {
            torch::Tensor poolAttention;  // [1, H, L, T]
            const auto logits = logitsOfPooled(attentionPool(out, &poolAttention));
            const auto gradient = torch::autograd::grad({score(logits)}, {poolAttention})[0];
            visit(l, poolAttention.detach()[0].narrow(1, 0, 1), gradient[0].narrow(1, 0, 1));
            continue;
        }
        if (m_spec.hasClsToken)  // [1, T, D]: the CLS token replaced by the mean of all tokens
            out = torch::cat({out.mean(1, /*keepdim=*/true), out.narrow(1, 1, out.size(1) - 1)}, 1);
        const auto gradient = torch::autograd::grad({score(classify(out))}, {attention})[0];
        visit(l, attention.detach()[0], gradient[0]);
    }
}

torch::Tensor VisionTransformer::logits(const torch::Tensor& batch, bool training) const
{
    TokenLayout layout;
    EncodeHooks hooks;
    hooks.training = training;  // only a conv stem's batch norms differ; there is no dropout
    return classify(encode(batch, layout, hooks));
}

std::vector<Trace> VisionTransformer::forwardBatch(const torch::Tensor& batch) const
{
    const auto start = std::chrono::steady_clock::now();
    torch::InferenceMode guard;
    if (batch.dim() != 4 || batch.size(0) < 1)
        throw EngineError("a trace takes images [N, C, H, W], got " + io::shapeString(batch.sizes().vec()));
    std::vector<BlockAttention> record;     // per block, [N, ...] each
    std::vector<torch::Tensor> tokenNorms;  // per block [N, T]
    std::vector<ResidualNorms> residuals;   // [N, T] each
    EncodeHooks hooks;
    hooks.record = &record;
    hooks.tokenNorms = &tokenNorms;
    hooks.residuals = &residuals;
    torch::Tensor lastBlockInput;  // [N, T, D]
    hooks.lastBlockInput = &lastBlockInput;
    TokenLayout layout;
    const auto encoded = encode(batch, layout, hooks);
    torch::Tensor poolAttention;  // [N, H, L, T] with an attention-pooling head
    const auto logits = classify(encoded, &poolAttention);
    // Without a head, the embedding is the output; with a text tower it is kept beside the
    // prompts' scores, so that other prompts are scored from the trace (promptLogits).
    const auto embeddings = logits.defined() && !m_text ? torch::Tensor()
                                                        : embedding(encoded, &poolAttention).to(torch::kCPU);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    auto traces = batchTraces(batch, logits, seconds);
    for (int64_t n = 0; n < batch.size(0); ++n) {
        auto& trace = traces[std::size_t(n)];
        trace.tokens = layout;
        trace.attention = recordOf(record, n);
        for (const auto& t : tokenNorms)
            trace.tokenNorms.push_back(t[n]);
        trace.residuals = residualsOf(residuals, n);
        trace.lastLayerInput = lastBlockInput.slice(0, n, n + 1).to(torch::kCPU);
        if (embeddings.defined())
            trace.embedding = embeddings.slice(0, n, n + 1);
        if (poolAttention.defined())
            trace.poolAttention = poolAttention[n].to(torch::kCPU);
    }
    return traces;
}

}  // namespace attnviz::engine
