// The ViT towers whose layout differs from timm's beyond names: CLIP (open_clip and HF),
// HF SigLIP and HF DINOv2. Each is read into timm's structure (ViTWeights).
#include "core/engine/engineerror.h"
#include "core/engine/vit/vitweights.h"

namespace attnviz::engine {
namespace {

void fillSpec(const ViTWeights& w, ModelSpec& spec)
{
    spec.depth = int(w.blocks.size());
    spec.embedDim = int(w.patchW.size(0));
    spec.patchSize = int(w.patchW.size(2));
    spec.preprocessing.inputSize[0] = int(w.patchW.size(1));
    spec.hasClsToken = w.clsToken.defined();
    spec.regTokens = w.regTokens.defined() ? int(w.regTokens.size(1)) : 0;
    spec.numClasses = w.headW.defined() ? int(w.headW.size(0)) : 0;
    spec.attentionPool = w.pool.latent.defined();
    spec.avgPool = !spec.hasClsToken && !spec.attentionPool;
}

torch::Tensor takePatchConv(WeightSource& s, const std::string& key)
{
    const auto shape = s.shapeOf(key);
    if (shape.size() != 4 || shape[2] != shape[3] || shape[0] <= 0 || shape[1] <= 0 || shape[2] <= 0)
        throw EngineError("key '" + key + "' has shape " + io::shapeString(shape) + ", expected [D, C, P, P]");
    return s.take(key, shape);
}

// CLIP's and SigLIP's encoder: vision_model.encoder.layers.i.{layer_norm1,
// self_attn.{q,k,v,out}_proj, layer_norm2, mlp.fc1, mlp.fc2}.
std::vector<ViTBlockWeights> readHfClipEncoder(WeightSource& s, int64_t d, const std::string& family)
{
    const std::string layers = "vision_model.encoder.layers.";
    auto blocks = readHfClipLayers(s, layers, d);
    if (blocks.empty())
        throw EngineError("HF " + family + " checkpoint has no encoder layers ('" + layers + "0.layer_norm1.weight')");
    return blocks;
}

// SiglipMultiheadAttentionPoolingHead: probe [1, 1, D], attention (torch's
// nn.MultiheadAttention: in_proj_weight [3D, D] with rows q, k, v; out_proj),
// layernorm, mlp.fc1/fc2. The same computation as timm's AttentionPoolLatent.
AttentionPoolWeights readHfSiglipHead(WeightSource& s, const std::string& p, int64_t d)
{
    AttentionPoolWeights a;
    a.latent = s.take(p + "probe", {1, -1, d});
    const auto in = s.take(p + "attention.in_proj_weight", {3 * d, d});
    a.qW = in.narrow(0, 0, d);
    a.kvW = in.narrow(0, d, 2 * d);
    if (s.has(p + "attention.in_proj_bias")) {
        const auto bias = s.take(p + "attention.in_proj_bias", {3 * d});
        a.qB = bias.narrow(0, 0, d);
        a.kvB = bias.narrow(0, d, 2 * d);
    }
    readLinearWeights(s, p + "attention.out_proj", {d, d}, a.projW, a.projB);
    readNormWeights(s, p + "layernorm", d, a.normW, a.normB);
    readLinearWeights(s, p + "mlp.fc1", {-1, d}, a.fc1W, a.fc1B);
    readLinearWeights(s, p + "mlp.fc2", {d, a.fc1W.size(0)}, a.fc2W, a.fc2B);
    return a;
}

}  // namespace

namespace {

// open_clip's block `p` (a resblock); width d.
ViTBlockWeights readOpenClipBlock(WeightSource& s, const std::string& p, int64_t d)
{
    ViTBlockWeights b;
    readNormWeights(s, p + "ln_1", d, b.norm1W, b.norm1B);
    b.qkvW = s.take(p + "attn.in_proj_weight", {3 * d, d});
    b.qkvB = s.takeIfPresent(p + "attn.in_proj_bias", {3 * d});
    readLinearWeights(s, p + "attn.out_proj", {d, d}, b.projW, b.projB);
    b.ls1 = s.takeIfPresent(p + "ls_1.gamma", {d});
    readNormWeights(s, p + "ln_2", d, b.norm2W, b.norm2B);
    readLinearWeights(s, p + "mlp.c_fc", {-1, d}, b.fc1W, b.fc1B);
    readLinearWeights(s, p + "mlp.c_proj", {d, b.fc1W.size(0)}, b.fc2W, b.fc2B);
    b.ls2 = s.takeIfPresent(p + "ls_2.gamma", {d});
    return b;
}

// HF CLIP's encoder layer `p`; width d.
ViTBlockWeights readHfClipLayer(WeightSource& s, const std::string& p, int64_t d)
{
    ViTBlockWeights b;
    readNormWeights(s, p + "layer_norm1", d, b.norm1W, b.norm1B);
    readSeparateQkv(s, p + "self_attn.", {"q_proj", "k_proj", "v_proj"}, d, b);
    readLinearWeights(s, p + "self_attn.out_proj", {d, d}, b.projW, b.projB);
    readNormWeights(s, p + "layer_norm2", d, b.norm2W, b.norm2B);
    readLinearWeights(s, p + "mlp.fc1", {-1, d}, b.fc1W, b.fc1B);
    readLinearWeights(s, p + "mlp.fc2", {d, b.fc1W.size(0)}, b.fc2W, b.fc2B);
    return b;
}

// `prefix`N. for N = 0, 1, ... while `prefix`N`probe` is present, each read by `readBlock`.
std::vector<ViTBlockWeights> readIndexedBlocks(WeightSource& s, const std::string& prefix, const std::string& probe,
                                               int64_t d,
                                               ViTBlockWeights (*readBlock)(WeightSource&, const std::string&, int64_t))
{
    std::vector<ViTBlockWeights> blocks;
    const int depth = countIndexed(s, prefix, probe);
    blocks.reserve(std::size_t(depth));
    for (int i = 0; i < depth; ++i)
        blocks.push_back(readBlock(s, prefix + std::to_string(i) + ".", d));
    return blocks;
}

}  // namespace

std::vector<ViTBlockWeights> readOpenClipBlocks(WeightSource& s, const std::string& prefix, int64_t d)
{
    return readIndexedBlocks(s, prefix, ".ln_1.weight", d, readOpenClipBlock);
}

std::vector<ViTBlockWeights> readHfClipLayers(WeightSource& s, const std::string& prefix, int64_t d)
{
    return readIndexedBlocks(s, prefix, ".layer_norm1.weight", d, readHfClipLayer);
}

// open_clip: visual.{conv1, class_embedding [D], positional_embedding [L, D], ln_pre,
// transformer.resblocks.i.{ln_1, attn.in_proj_*, attn.out_proj, ln_2, mlp.c_fc,
// mlp.c_proj, ls_1/ls_2.gamma}, ln_post, proj [D, E]}.
ViTWeights readOpenClip(WeightSource& s, const io::ModelConfig&, ModelSpec& spec)
{
    ViTWeights w;
    s.ignoreAllExcept({"visual."});  // the text tower and logit_scale
    w.patchW = takePatchConv(s, "visual.conv1.weight");
    const int64_t d = w.patchW.size(0);
    w.clsToken = s.take("visual.class_embedding", {d}).view({1, 1, d});
    w.posEmbed = s.take("visual.positional_embedding", {-1, d}).unsqueeze(0);
    readNormWeights(s, "visual.ln_pre", d, w.preNormW, w.preNormB);
    const std::string blocks = "visual.transformer.resblocks.";
    w.blocks = readOpenClipBlocks(s, blocks, d);
    if (w.blocks.empty())
        throw EngineError("open_clip checkpoint has no image transformer blocks ('" + blocks + "0.ln_1.weight')");
    readNormWeights(s, "visual.ln_post", d, w.normW, w.normB);
    if (s.has("visual.proj"))
        w.projW = s.take("visual.proj", {d, -1}).t().contiguous();  // x @ proj == linear(x, proj^T)
    fillSpec(w, spec);
    return w;
}

// HF CLIPVisionModel / CLIPModel: vision_model.{embeddings.{class_embedding,
// patch_embedding, position_embedding}, pre_layrnorm, encoder.layers.i.{layer_norm1,
// self_attn.{q,k,v,out}_proj, layer_norm2, mlp.fc1, mlp.fc2}, post_layernorm} and
// visual_projection [E, D].
ViTWeights readHfClip(WeightSource& s, const io::ModelConfig&, ModelSpec& spec)
{
    ViTWeights w;
    s.ignoreAllExcept({"vision_model.", "visual_projection."});  // CLIPModel's text tower
    const std::string e = "vision_model.embeddings.";
    w.patchW = takePatchConv(s, e + "patch_embedding.weight");
    const int64_t d = w.patchW.size(0);
    w.clsToken = s.take(e + "class_embedding", {d}).view({1, 1, d});
    w.posEmbed = s.take(e + "position_embedding.weight", {-1, d}).unsqueeze(0);
    if (s.has(e + "position_ids"))
        s.ignore(e + "position_ids");  // 0..L-1, a buffer
    readNormWeights(s, "vision_model.pre_layrnorm", d, w.preNormW, w.preNormB);
    w.blocks = readHfClipEncoder(s, d, "CLIP");
    readNormWeights(s, "vision_model.post_layernorm", d, w.normW, w.normB);
    if (s.has("visual_projection.weight"))
        w.projW = s.take("visual_projection.weight", {-1, d});
    fillSpec(w, spec);
    return w;
}

// HF SiglipVisionModel / SiglipModel: vision_model.{embeddings.{patch_embedding (with
// bias), position_embedding [N, D] (patches only: no class token)}, the CLIP encoder,
// post_layernorm (on every token), head (the attention pool; absent with
// vision_use_head false, then the patch mean is the output)}. No projection: SigLIP's
// image embedding is the pool's output.
ViTWeights readHfSiglip(WeightSource& s, const io::ModelConfig& config, ModelSpec& spec)
{
    ViTWeights w;
    // SiglipModel's text tower, logit_scale, logit_bias. A classifier is kept, so that
    // SiglipForImageClassification (not supported) fails on its key, not silently.
    s.ignoreAllExcept({"vision_model.", "classifier."});
    const std::string e = "vision_model.embeddings.";
    w.patchW = takePatchConv(s, e + "patch_embedding.weight");
    const int64_t d = w.patchW.size(0);
    w.patchB = s.takeIfPresent(e + "patch_embedding.bias", {d});
    w.posEmbed = s.take(e + "position_embedding.weight", {-1, d}).unsqueeze(0);
    if (s.has(e + "position_ids"))
        s.ignore(e + "position_ids");  // 0..N-1, a buffer
    w.blocks = readHfClipEncoder(s, d, "SigLIP");
    readNormWeights(s, "vision_model.post_layernorm", d, w.normW, w.normB);
    if (s.has("vision_model.head.probe"))
        w.pool = readHfSiglipHead(s, "vision_model.head.", d);
    fillSpec(w, spec);
    // HF's SiglipVisionConfig defaults to tanh GELU, so a config without hidden_act means it.
    if (!config.hiddenAct)
        spec.mlp = ViTMlp::GeluTanh;
    return w;
}

// HF Dinov2Model (+ registers, SwiGLU, the classifier on [cls, patch mean]):
// embeddings.{cls_token, mask_token, position_embeddings, patch_embeddings.projection,
// register_tokens}, encoder.layer.i.{norm1, attention.attention.{query,key,value},
// attention.output.dense, layer_scale1.lambda1, norm2, mlp.{fc1,fc2 | weights_in,
// weights_out}, layer_scale2.lambda1}, layernorm, classifier [C, 2D].
ViTWeights readHfDinov2(WeightSource& s, const io::ModelConfig&, ModelSpec& spec)
{
    ViTWeights w;
    w.patchW = takePatchConv(s, "embeddings.patch_embeddings.projection.weight");
    const int64_t d = w.patchW.size(0);
    w.patchB = s.takeIfPresent("embeddings.patch_embeddings.projection.bias", {d});
    w.clsToken = s.take("embeddings.cls_token", {1, 1, d});
    w.regTokens = s.takeIfPresent("embeddings.register_tokens", {1, -1, d});
    w.posEmbed = s.take("embeddings.position_embeddings", {1, -1, d});
    if (s.has("embeddings.mask_token"))
        s.ignore("embeddings.mask_token");  // only used for masked-image pretraining
    const bool swiglu = s.has("encoder.layer.0.mlp.weights_in.weight");
    const int depth = countIndexed(s, "encoder.layer.", ".norm1.weight");
    for (int i = 0; i < depth; ++i) {
        const auto p = "encoder.layer." + std::to_string(i) + ".";
        ViTBlockWeights b;
        readNormWeights(s, p + "norm1", d, b.norm1W, b.norm1B);
        readSeparateQkv(s, p + "attention.attention.", {"query", "key", "value"}, d, b);
        readLinearWeights(s, p + "attention.output.dense", {d, d}, b.projW, b.projB);
        b.ls1 = s.takeIfPresent(p + "layer_scale1.lambda1", {d});
        readNormWeights(s, p + "norm2", d, b.norm2W, b.norm2B);
        if (swiglu) {
            readLinearWeights(s, p + "mlp.weights_in", {-1, d}, b.fc1W, b.fc1B);
            readLinearWeights(s, p + "mlp.weights_out", {d, b.fc1W.size(0) / 2}, b.fc2W, b.fc2B);
        } else {
            readLinearWeights(s, p + "mlp.fc1", {-1, d}, b.fc1W, b.fc1B);
            readLinearWeights(s, p + "mlp.fc2", {d, b.fc1W.size(0)}, b.fc2W, b.fc2B);
        }
        b.ls2 = s.takeIfPresent(p + "layer_scale2.lambda1", {d});
        w.blocks.push_back(std::move(b));
    }
    readNormWeights(s, "layernorm", d, w.normW, w.normB);
    if (s.has("classifier.weight")) {
        readLinearWeights(s, "classifier", {-1, 2 * d}, w.headW, w.headB);
        spec.headOnClsAndMean = true;
    }
    if (swiglu)
        spec.mlp = ViTMlp::SwiGlu;
    spec.registersUnpositioned = w.regTokens.defined();
    fillSpec(w, spec);
    return w;
}

}  // namespace attnviz::engine
