#include "core/engine/vitweights.h"

#include "core/engine/engineerror.h"

namespace attnviz::engine {
namespace {

using Shape = std::vector<std::int64_t>;

std::string blockKey(Naming naming, int i)
{
    switch (naming) {
    case Naming::Timm: return "blocks." + std::to_string(i) + ".";
    case Naming::Torchvision: return "encoder.layers.encoder_layer_" + std::to_string(i) + ".";
    case Naming::HF: return "encoder.layer." + std::to_string(i) + ".";
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

void readNorm(WeightSource& s, const std::string& prefix, int64_t d, torch::Tensor& w, torch::Tensor& b)
{
    w = s.take(prefix + ".weight", {d});
    b = s.take(prefix + ".bias", {d});
}

void readLinear(WeightSource& s, const std::string& prefix, Shape shape, torch::Tensor& w, torch::Tensor& b)
{
    w = s.take(prefix + ".weight", shape);
    b = s.takeIfPresent(prefix + ".bias", {shape[0]});
}

ViTBlockWeights readTimmBlock(WeightSource& s, const std::string& p, int64_t d)
{
    ViTBlockWeights b;
    readNorm(s, p + "norm1", d, b.norm1W, b.norm1B);
    readLinear(s, p + "attn.qkv", {3 * d, d}, b.qkvW, b.qkvB);
    readLinear(s, p + "attn.proj", {d, d}, b.projW, b.projB);
    b.ls1 = s.takeIfPresent(p + "ls1.gamma", {d});
    readNorm(s, p + "norm2", d, b.norm2W, b.norm2B);
    readLinear(s, p + "mlp.fc1", {-1, d}, b.fc1W, b.fc1B);
    readLinear(s, p + "mlp.fc2", {d, b.fc1W.size(0)}, b.fc2W, b.fc2B);
    b.ls2 = s.takeIfPresent(p + "ls2.gamma", {d});
    return b;
}

ViTBlockWeights readTorchvisionBlock(WeightSource& s, const std::string& p, int64_t d)
{
    ViTBlockWeights b;
    readNorm(s, p + "ln_1", d, b.norm1W, b.norm1B);
    b.qkvW = s.take(p + "self_attention.in_proj_weight", {3 * d, d});
    b.qkvB = s.take(p + "self_attention.in_proj_bias", {3 * d});
    readLinear(s, p + "self_attention.out_proj", {d, d}, b.projW, b.projB);
    readNorm(s, p + "ln_2", d, b.norm2W, b.norm2B);
    // torchvision renamed mlp.linear_1/linear_2 to mlp.0/mlp.3 in 0.13; accept both.
    const bool oldStyle = s.has(p + "mlp.linear_1.weight");
    readLinear(s, p + (oldStyle ? "mlp.linear_1" : "mlp.0"), {-1, d}, b.fc1W, b.fc1B);
    readLinear(s, p + (oldStyle ? "mlp.linear_2" : "mlp.3"), {d, b.fc1W.size(0)}, b.fc2W, b.fc2B);
    return b;
}

ViTBlockWeights readHfBlock(WeightSource& s, const std::string& p, int64_t d)
{
    ViTBlockWeights b;
    readNorm(s, p + "layernorm_before", d, b.norm1W, b.norm1B);
    torch::Tensor qw, qb, kw, kb, vw, vb;
    readLinear(s, p + "attention.attention.query", {d, d}, qw, qb);
    readLinear(s, p + "attention.attention.key", {d, d}, kw, kb);
    readLinear(s, p + "attention.attention.value", {d, d}, vw, vb);
    b.qkvW = torch::cat({qw, kw, vw}, 0);
    if (qb.defined() && kb.defined() && vb.defined())
        b.qkvB = torch::cat({qb, kb, vb}, 0);
    readLinear(s, p + "attention.output.dense", {d, d}, b.projW, b.projB);
    readNorm(s, p + "layernorm_after", d, b.norm2W, b.norm2B);
    readLinear(s, p + "intermediate.dense", {-1, d}, b.fc1W, b.fc1B);
    readLinear(s, p + "output.dense", {d, b.fc1W.size(0)}, b.fc2W, b.fc2B);
    return b;
}

// Embeddings: patch projection, prefix tokens and position embedding.
void readTimmEmbeddings(WeightSource& s, ViTWeights& w, int64_t d)
{
    w.patchW = s.take("patch_embed.proj.weight", {d, -1, -1, -1});
    w.patchB = s.takeIfPresent("patch_embed.proj.bias", {d});
    w.clsToken = s.takeIfPresent("cls_token", {1, 1, d});
    w.distToken = s.takeIfPresent("dist_token", {1, 1, d});
    w.regTokens = s.takeIfPresent("reg_token", {1, -1, d});
    w.posEmbed = s.take("pos_embed", {1, -1, d});
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
    if (s.has("fc_norm.weight")) {
        readNorm(s, "fc_norm", d, w.fcNormW, w.fcNormB);
        spec.avgPool = true;
    }
    if (s.has("norm.weight"))
        readNorm(s, "norm", d, w.normW, w.normB);
    if (s.has("head.weight")) {
        readLinear(s, "head", {-1, d}, w.headW, w.headB);
        if (w.distToken.defined())
            readLinear(s, "head_dist", {w.headW.size(0), d}, w.headDistW, w.headDistB);
    }
}

void readTorchvisionHead(WeightSource& s, ViTWeights& w, int64_t d)
{
    readNorm(s, "encoder.ln", d, w.normW, w.normB);
    if (s.has("heads.pre_logits.weight"))
        throw EngineError("torchvision ViTs with a representation layer (heads.pre_logits) are not supported");
    if (s.has("heads.head.weight"))
        readLinear(s, "heads.head", {-1, d}, w.headW, w.headB);
}

void readHfHead(WeightSource& s, ViTWeights& w, int64_t d)
{
    readNorm(s, "layernorm", d, w.normW, w.normB);
    for (const char* key : {"pooler.dense.weight", "pooler.dense.bias"})
        if (s.has(key))
            s.ignore(key);  // ViTModel's pooler is not used for classification
    if (s.has("classifier.weight"))
        readLinear(s, "classifier", {-1, d}, w.headW, w.headB);
}

}  // namespace

bool detectViTNaming(const WeightSource& source, Naming& naming)
{
    if (source.has("patch_embed.proj.weight"))
        naming = Naming::Timm;
    else if (source.has("conv_proj.weight") && source.has("encoder.pos_embedding"))
        naming = Naming::Torchvision;
    else if (source.has("embeddings.patch_embeddings.projection.weight"))
        naming = Naming::HF;
    else
        return false;
    return true;
}

ViTWeights readViTWeights(WeightSource& s, Naming naming, ModelSpec& spec)
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

    const std::string probe = naming == Naming::Timm ? "norm1.weight" : naming == Naming::Torchvision ? "ln_1.weight" : "layernorm_before.weight";
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
    spec.patchSize = int(patchShape[2]);
    spec.preprocessing.inputSize[0] = int(patchShape[1]);
    spec.hasClsToken = w.clsToken.defined();
    spec.hasDistToken = w.distToken.defined();
    spec.regTokens = w.regTokens.defined() ? int(w.regTokens.size(1)) : 0;
    spec.numClasses = w.headW.defined() ? int(w.headW.size(0)) : 0;
    if (!spec.hasClsToken)
        spec.avgPool = true;
    return w;
}

std::vector<std::pair<std::string, torch::Tensor*>> ViTWeights::named()
{
    std::vector<std::pair<std::string, torch::Tensor*>> out{
        {"cls_token", &clsToken}, {"dist_token", &distToken}, {"reg_token", &regTokens}, {"pos_embed", &posEmbed},
        {"patch_embed.proj.weight", &patchW}, {"patch_embed.proj.bias", &patchB}};
    for (std::size_t i = 0; i < blocks.size(); ++i) {
        auto& b = blocks[i];
        const auto p = "blocks." + std::to_string(i) + ".";
        const std::pair<const char*, torch::Tensor*> parts[] = {
            {"norm1.weight", &b.norm1W}, {"norm1.bias", &b.norm1B}, {"attn.qkv.weight", &b.qkvW},
            {"attn.qkv.bias", &b.qkvB}, {"attn.proj.weight", &b.projW}, {"attn.proj.bias", &b.projB},
            {"ls1.gamma", &b.ls1}, {"norm2.weight", &b.norm2W}, {"norm2.bias", &b.norm2B},
            {"mlp.fc1.weight", &b.fc1W}, {"mlp.fc1.bias", &b.fc1B}, {"mlp.fc2.weight", &b.fc2W},
            {"mlp.fc2.bias", &b.fc2B}, {"ls2.gamma", &b.ls2}};
        for (const auto& [name, t] : parts)
            out.emplace_back(p + name, t);
    }
    const std::pair<const char*, torch::Tensor*> tail[] = {
        {"norm.weight", &normW}, {"norm.bias", &normB}, {"fc_norm.weight", &fcNormW}, {"fc_norm.bias", &fcNormB},
        {"head.weight", &headW}, {"head.bias", &headB}, {"head_dist.weight", &headDistW}, {"head_dist.bias", &headDistB}};
    for (const auto& [name, t] : tail)
        out.emplace_back(name, t);
    std::vector<std::pair<std::string, torch::Tensor*>> defined;
    for (auto& entry : out)
        if (entry.second->defined())
            defined.push_back(entry);
    return defined;
}

}  // namespace attnviz::engine
