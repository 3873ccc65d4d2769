#include "core/engine/vit/vitweights.h"

#include "core/engine/engineerror.h"

namespace attnviz::engine {

// Where timm's HybridEmbed keeps its backbone (a ConvStem in the hybrids we read).
constexpr const char* kTimmStemPrefix = "patch_embed.backbone.";

namespace {

using Shape = std::vector<std::int64_t>;

// timm builds most SigLIP towers with exact GELU but these (the SigLIP 2 weights) with
// its tanh approximation; the weights cannot tell, so the registered name must
// (timm/models/vision_transformer.py at 1.0.29.dev0, `act_layer='gelu_tanh'`).
bool timmUsesTanhGelu(const std::string& arch)
{
    static const char* const names[] = {"vit_base_patch32_siglip_256",         "vit_base_patch32_siglip_gap_256",
                                        "vit_large_patch16_siglip_512",        "vit_large_patch16_siglip_gap_512",
                                        "vit_so400m_patch16_siglip_256",       "vit_so400m_patch16_siglip_384",
                                        "vit_so400m_patch16_siglip_512",       "vit_so400m_patch16_siglip_gap_256",
                                        "vit_so400m_patch16_siglip_gap_384",   "vit_so400m_patch16_siglip_gap_512",
                                        "vit_giantopt_patch16_siglip_256",     "vit_giantopt_patch16_siglip_384",
                                        "vit_giantopt_patch16_siglip_gap_256", "vit_giantopt_patch16_siglip_gap_384"};
    // A hub name may carry a pretrained tag: "vit_so400m_patch16_siglip_256.v2_webli".
    const auto base = arch.substr(0, arch.find('.'));
    for (const char* name : names)
        if (base == name)
            return true;
    return false;
}

std::string blockKey(Naming naming, int i)
{
    switch (naming) {
    case Naming::Timm: return "blocks." + std::to_string(i) + ".";
    case Naming::Torchvision: return "encoder.layers.encoder_layer_" + std::to_string(i) + ".";
    case Naming::HF: return "encoder.layer." + std::to_string(i) + ".";
    case Naming::OpenCLIP: break;  // read by readOpenClip
    }
    return {};
}

int countBlocks(const WeightSource& source, Naming naming, const std::string& probe)
{
    int n = 0;
    while (source.has(blockKey(naming, n) + probe))
        ++n;
    return n;
}

ViTBlockWeights readTimmBlock(WeightSource& s, const std::string& p, int64_t d)
{
    ViTBlockWeights b;
    readNormWeights(s, p + "norm1", d, b.norm1W, b.norm1B);
    readLinearWeights(s, p + "attn.qkv", {3 * d, d}, b.qkvW, b.qkvB);
    if (s.has(p + "attn.q_bias")) {  // BEiT: q and v biases, none for k
        const auto q = s.take(p + "attn.q_bias", {d});
        b.qkvB = torch::cat({q, torch::zeros_like(q), s.take(p + "attn.v_bias", {d})});
    }
    if (s.has(p + "attn.relative_position_bias_table")) {
        b.relTable = s.take(p + "attn.relative_position_bias_table", {-1, -1});
        if (s.has(p + "attn.relative_position_index"))
            s.ignore(p + "attn.relative_position_index");  // a buffer; rebuilt from the grid
    }
    readLinearWeights(s, p + "attn.proj", {d, d}, b.projW, b.projB);
    // LayerScale: timm's ls1/ls2.gamma, BEiT's gamma_1/gamma_2
    b.ls1 = s.has(p + "gamma_1") ? s.take(p + "gamma_1", {d}) : s.takeIfPresent(p + "ls1.gamma", {d});
    readNormWeights(s, p + "norm2", d, b.norm2W, b.norm2B);
    readLinearWeights(s, p + "mlp.fc1", {-1, d}, b.fc1W, b.fc1B);
    readLinearWeights(s, p + "mlp.fc2", {d, b.fc1W.size(0)}, b.fc2W, b.fc2B);
    b.ls2 = s.has(p + "gamma_2") ? s.take(p + "gamma_2", {d}) : s.takeIfPresent(p + "ls2.gamma", {d});
    return b;
}

ViTBlockWeights readTorchvisionBlock(WeightSource& s, const std::string& p, int64_t d)
{
    ViTBlockWeights b;
    readNormWeights(s, p + "ln_1", d, b.norm1W, b.norm1B);
    b.qkvW = s.take(p + "self_attention.in_proj_weight", {3 * d, d});
    b.qkvB = s.take(p + "self_attention.in_proj_bias", {3 * d});
    readLinearWeights(s, p + "self_attention.out_proj", {d, d}, b.projW, b.projB);
    readNormWeights(s, p + "ln_2", d, b.norm2W, b.norm2B);
    // torchvision renamed mlp.linear_1/linear_2 to mlp.0/mlp.3 in 0.13; accept both.
    const bool oldStyle = s.has(p + "mlp.linear_1.weight");
    readLinearWeights(s, p + (oldStyle ? "mlp.linear_1" : "mlp.0"), {-1, d}, b.fc1W, b.fc1B);
    readLinearWeights(s, p + (oldStyle ? "mlp.linear_2" : "mlp.3"), {d, b.fc1W.size(0)}, b.fc2W, b.fc2B);
    return b;
}

ViTBlockWeights readHfBlock(WeightSource& s, const std::string& p, int64_t d)
{
    ViTBlockWeights b;
    readNormWeights(s, p + "layernorm_before", d, b.norm1W, b.norm1B);
    readSeparateQkv(s, p + "attention.attention.", {"query", "key", "value"}, d, b);
    readLinearWeights(s, p + "attention.output.dense", {d, d}, b.projW, b.projB);
    readNormWeights(s, p + "layernorm_after", d, b.norm2W, b.norm2B);
    readLinearWeights(s, p + "intermediate.dense", {-1, d}, b.fc1W, b.fc1B);
    readLinearWeights(s, p + "output.dense", {d, b.fc1W.size(0)}, b.fc2W, b.fc2B);
    return b;
}

// Embeddings: patch projection, prefix tokens and position embedding.
void readTimmEmbeddings(WeightSource& s, ViTWeights& w, int64_t d)
{
    w.stem = readConvStem(s, kTimmStemPrefix);
    w.patchW = s.take("patch_embed.proj.weight", {d, -1, -1, -1});
    w.patchB = s.takeIfPresent("patch_embed.proj.bias", {d});
    w.clsToken = s.takeIfPresent("cls_token", {1, 1, d});
    w.distToken = s.takeIfPresent("dist_token", {1, 1, d});
    w.regTokens = s.takeIfPresent("reg_token", {1, -1, d});
    // BEiT has no absolute position embedding (its blocks have relative ones).
    const bool relative = s.has("blocks.0.attn.relative_position_bias_table");
    w.posEmbed = relative ? s.takeIfPresent("pos_embed", {1, -1, d}) : s.take("pos_embed", {1, -1, d});
    if (s.has("norm_pre.weight"))  // timm's CLIP towers
        readNormWeights(s, "norm_pre", d, w.preNormW, w.preNormB);
}

void readTorchvisionEmbeddings(WeightSource& s, ViTWeights& w, int64_t d)
{
    w.patchW = s.take("conv_proj.weight", {d, -1, -1, -1});
    w.patchB = s.takeIfPresent("conv_proj.bias", {d});
    w.clsToken = s.take("class_token", {1, 1, d});
    w.posEmbed = s.take("encoder.pos_embedding", {1, -1, d});
}

void readHfEmbeddings(WeightSource& s, ViTWeights& w, int64_t d)
{
    w.patchW = s.take("embeddings.patch_embeddings.projection.weight", {d, -1, -1, -1});
    w.patchB = s.takeIfPresent("embeddings.patch_embeddings.projection.bias", {d});
    w.clsToken = s.take("embeddings.cls_token", {1, 1, d});
    w.posEmbed = s.take("embeddings.position_embeddings", {1, -1, d});
    if (s.has("embeddings.mask_token"))
        s.ignore("embeddings.mask_token");  // only used for masked-image pretraining
}

void readTimmHead(WeightSource& s, ViTWeights& w, int64_t d, ModelSpec& spec)
{
    if (s.has("attn_pool.latent"))  // global_pool 'map' (SigLIP)
        w.pool = readTimmAttentionPool(s, "attn_pool.", d);
    if (s.has("fc_norm.weight")) {
        readNormWeights(s, "fc_norm", d, w.fcNormW, w.fcNormB);
        spec.avgPool = true;
    }
    if (s.has("norm.weight"))
        readNormWeights(s, "norm", d, w.normW, w.normB);
    if (s.has("head.weight")) {
        readLinearWeights(s, "head", {-1, d}, w.headW, w.headB);
        if (w.distToken.defined())
            readLinearWeights(s, "head_dist", {w.headW.size(0), d}, w.headDistW, w.headDistB);
    }
    // open_clip's TimmModel with timm_proj "linear" (visual.head.proj): the pooled features
    // through a bias-free projection [E, D] to the embedding the text tower shares.
    if (s.has("head.proj.weight"))
        w.projW = s.take("head.proj.weight", {-1, d});
    if (s.has("head.proj.bias") || s.has("head.mlp.fc1.weight"))
        throw EngineError("open_clip projection heads with a bias or an MLP (timm_proj_bias, timm_proj \"mlp\") "
                          "are not supported");
}

void readTorchvisionHead(WeightSource& s, ViTWeights& w, int64_t d)
{
    readNormWeights(s, "encoder.ln", d, w.normW, w.normB);
    if (s.has("heads.pre_logits.weight"))
        throw EngineError("torchvision ViTs with a representation layer (heads.pre_logits) are not supported");
    if (s.has("heads.head.weight"))
        readLinearWeights(s, "heads.head", {-1, d}, w.headW, w.headB);
}

void readHfHead(WeightSource& s, ViTWeights& w, int64_t d)
{
    readNormWeights(s, "layernorm", d, w.normW, w.normB);
    for (const char* key : {"pooler.dense.weight", "pooler.dense.bias"})
        if (s.has(key))
            s.ignore(key);  // ViTModel's pooler is not used for classification
    if (s.has("classifier.weight"))
        readLinearWeights(s, "classifier", {-1, d}, w.headW, w.headB);
}

}  // namespace

void readNormWeights(WeightSource& s, const std::string& prefix, int64_t d, torch::Tensor& w, torch::Tensor& b)
{
    w = s.take(prefix + ".weight", {d});
    b = s.take(prefix + ".bias", {d});
}

void readLinearWeights(WeightSource& s, const std::string& prefix, std::vector<std::int64_t> shape, torch::Tensor& w,
                       torch::Tensor& b)
{
    w = s.take(prefix + ".weight", shape);
    b = s.takeIfPresent(prefix + ".bias", {shape[0]});
}

void readSeparateQkv(WeightSource& s, const std::string& prefix, const std::array<const char*, 3>& names, int64_t d,
                     ViTBlockWeights& b)
{
    torch::Tensor w[3], bias[3];
    for (int i = 0; i < 3; ++i)
        readLinearWeights(s, prefix + names[i], {d, d}, w[i], bias[i]);
    b.qkvW = torch::cat({w[0], w[1], w[2]}, 0);  // [3D, D]: q, k, v rows, as timm's qkv
    if (bias[0].defined() && bias[1].defined() && bias[2].defined())
        b.qkvB = torch::cat({bias[0], bias[1], bias[2]}, 0);
}

AttentionPoolWeights readTimmAttentionPool(WeightSource& s, const std::string& p, int64_t d)
{
    AttentionPoolWeights a;
    a.latent = s.take(p + "latent", {1, -1, d});
    if (s.has(p + "q.weight"))  // q_proj=False: the latent is the query itself
        readLinearWeights(s, p + "q", {d, d}, a.qW, a.qB);
    readLinearWeights(s, p + "kv", {2 * d, d}, a.kvW, a.kvB);
    readLinearWeights(s, p + "proj", {d, d}, a.projW, a.projB);
    readNormWeights(s, p + "norm", d, a.normW, a.normB);
    readLinearWeights(s, p + "mlp.fc1", {-1, d}, a.fc1W, a.fc1B);
    readLinearWeights(s, p + "mlp.fc2", {d, a.fc1W.size(0)}, a.fc2W, a.fc2B);
    return a;
}

namespace {

// timm, torchvision and HF ViT: one structure under three namings.
ViTWeights readPlainViT(WeightSource& s, Naming naming, ModelSpec& spec)
{
    ViTWeights w;
    const std::string patchKey = naming == Naming::Timm          ? "patch_embed.proj.weight"
                                 : naming == Naming::Torchvision ? "conv_proj.weight"
                                                                 : "embeddings.patch_embeddings.projection.weight";
    const auto patchShape = s.shapeOf(patchKey);
    if (patchShape.size() != 4 || patchShape[2] != patchShape[3] || patchShape[0] <= 0 || patchShape[1] <= 0
        || patchShape[2] <= 0)
        throw EngineError("key '" + patchKey + "' has shape " + io::shapeString(patchShape)
                          + ", expected [D, C, P, P]");
    const int64_t d = patchShape[0];
    if (naming == Naming::Timm)
        readTimmEmbeddings(s, w, d);
    else if (naming == Naming::Torchvision)
        readTorchvisionEmbeddings(s, w, d);
    else
        readHfEmbeddings(s, w, d);

    const std::string probe = naming == Naming::Timm          ? "norm1.weight"
                              : naming == Naming::Torchvision ? "ln_1.weight"
                                                              : "layernorm_before.weight";
    const int depth = countBlocks(s, naming, probe);
    if (depth == 0)
        throw EngineError("ViT checkpoint has no transformer blocks (no '" + blockKey(naming, 0) + probe + "')");
    for (int i = 0; i < depth; ++i) {
        const auto p = blockKey(naming, i);
        w.blocks.push_back(naming == Naming::Timm          ? readTimmBlock(s, p, d)
                           : naming == Naming::Torchvision ? readTorchvisionBlock(s, p, d)
                                                           : readHfBlock(s, p, d));
    }
    if (naming == Naming::Timm)
        readTimmHead(s, w, d, spec);
    else if (naming == Naming::Torchvision)
        readTorchvisionHead(s, w, d);
    else
        readHfHead(s, w, d);

    spec.family = Family::ViT;
    spec.naming = naming;
    spec.depth = depth;
    spec.embedDim = int(d);
    spec.patchSize = int(patchShape[2]) * convStemStride(w.stem);
    spec.convStemLayers = int(w.stem.size());
    spec.preprocessing.inputSize[0] = int(w.stem.empty() ? patchShape[1] : w.stem.front().convW.size(1));
    spec.hasClsToken = w.clsToken.defined();
    spec.hasDistToken = w.distToken.defined();
    spec.regTokens = w.regTokens.defined() ? int(w.regTokens.size(1)) : 0;
    spec.numClasses = w.headW.defined() ? int(w.headW.size(0)) : 0;
    spec.attentionPool = w.pool.latent.defined();
    if (!spec.hasClsToken && !spec.attentionPool)
        spec.avgPool = true;
    return w;
}

}  // namespace

ViTWeights readTimmViT(WeightSource& s, const io::ModelConfig& config, ModelSpec& spec)
{
    auto w = readPlainViT(s, Naming::Timm, spec);
    // timm's keys are one layout for several families: its registered name tells them apart.
    const auto& arch = config.architecture;
    for (const char* family : {"dinov2", "clip", "siglip"})
        if (arch.find(family) != std::string::npos)
            spec.architecture = family;
    if (timmUsesTanhGelu(arch))
        spec.mlp = ViTMlp::GeluTanh;
    return w;
}

ViTWeights readTorchvisionViT(WeightSource& s, const io::ModelConfig&, ModelSpec& spec)
{
    return readPlainViT(s, Naming::Torchvision, spec);
}

ViTWeights readHfViT(WeightSource& s, const io::ModelConfig&, ModelSpec& spec)
{
    return readPlainViT(s, Naming::HF, spec);
}

void finishViTSpec(const ViTWeights& w, const io::ModelConfig& config, ModelSpec& spec)
{
    const auto& arch = config.architecture;
    const bool timmDinov2Giant = arch.find("giant_patch14") != std::string::npos
                                 && arch.find("dinov2") != std::string::npos;
    if (config.hiddenAct == std::string("quick_gelu") || arch.find("quickgelu") != std::string::npos)
        spec.mlp = ViTMlp::QuickGelu;
    if (config.swiglu.value_or(false) || timmDinov2Giant)
        spec.mlp = ViTMlp::SwiGlu;
    if (config.hiddenAct == std::string("gelu_pytorch_tanh"))
        spec.mlp = ViTMlp::GeluTanh;
    if (!w.blocks.empty() && w.blocks.front().relTable.defined())
        spec.architecture = "beit";
    spec.embeddingDim = spec.numClasses > 0 ? 0 : w.projW.defined() ? int(w.projW.size(0)) : spec.embedDim;
}

std::vector<std::pair<std::string, torch::Tensor*>> ViTWeights::named()
{
    std::vector<std::pair<std::string, torch::Tensor*>> out{{"cls_token", &clsToken},
                                                            {"dist_token", &distToken},
                                                            {"reg_token", &regTokens},
                                                            {"pos_embed", &posEmbed}};
    // A hybrid's stem right before the projection, so that the patch embedding is one
    // module where parameters are grouped by module (the randomisation check).
    const auto stemTensors = namedConvStem(stem, kTimmStemPrefix);
    out.insert(out.end(), stemTensors.begin(), stemTensors.end());
    const std::pair<const char*, torch::Tensor*> embedding[] = {{"patch_embed.proj.weight", &patchW},
                                                                {"patch_embed.proj.bias", &patchB},
                                                                {"norm_pre.weight", &preNormW},
                                                                {"norm_pre.bias", &preNormB}};
    for (const auto& [name, t] : embedding)
        out.emplace_back(name, t);
    for (std::size_t i = 0; i < blocks.size(); ++i) {
        auto& b = blocks[i];
        const auto p = "blocks." + std::to_string(i) + ".";
        const std::pair<const char*, torch::Tensor*> parts[] = {{"norm1.weight", &b.norm1W},
                                                                {"norm1.bias", &b.norm1B},
                                                                {"attn.qkv.weight", &b.qkvW},
                                                                {"attn.qkv.bias", &b.qkvB},
                                                                {"attn.proj.weight", &b.projW},
                                                                {"attn.proj.bias", &b.projB},
                                                                {"ls1.gamma", &b.ls1},
                                                                {"norm2.weight", &b.norm2W},
                                                                {"norm2.bias", &b.norm2B},
                                                                {"mlp.fc1.weight", &b.fc1W},
                                                                {"mlp.fc1.bias", &b.fc1B},
                                                                {"mlp.fc2.weight", &b.fc2W},
                                                                {"mlp.fc2.bias", &b.fc2B},
                                                                {"ls2.gamma", &b.ls2},
                                                                {"attn.relative_position_bias_table", &b.relTable}};
        for (const auto& [name, t] : parts)
            out.emplace_back(p + name, t);
    }
    const std::pair<const char*, torch::Tensor*> tail[] = {{"norm.weight", &normW},
                                                           {"norm.bias", &normB},
                                                           {"fc_norm.weight", &fcNormW},
                                                           {"fc_norm.bias", &fcNormB},
                                                           {"head.weight", &headW},
                                                           {"head.bias", &headB},
                                                           {"head_dist.weight", &headDistW},
                                                           {"head_dist.bias", &headDistB},
                                                           {"proj.weight", &projW},
                                                           {"attn_pool.latent", &pool.latent},
                                                           {"attn_pool.q.weight", &pool.qW},
                                                           {"attn_pool.q.bias", &pool.qB},
                                                           {"attn_pool.kv.weight", &pool.kvW},
                                                           {"attn_pool.kv.bias", &pool.kvB},
                                                           {"attn_pool.proj.weight", &pool.projW},
                                                           {"attn_pool.proj.bias", &pool.projB},
                                                           {"attn_pool.norm.weight", &pool.normW},
                                                           {"attn_pool.norm.bias", &pool.normB},
                                                           {"attn_pool.mlp.fc1.weight", &pool.fc1W},
                                                           {"attn_pool.mlp.fc1.bias", &pool.fc1B},
                                                           {"attn_pool.mlp.fc2.weight", &pool.fc2W},
                                                           {"attn_pool.mlp.fc2.bias", &pool.fc2B}};
    for (const auto& [name, t] : tail)
        out.emplace_back(name, t);
    std::vector<std::pair<std::string, torch::Tensor*>> defined;
    for (auto& entry : out)
        if (entry.second->defined())
            defined.push_back(entry);
    return defined;
}

}  // namespace attnviz::engine
