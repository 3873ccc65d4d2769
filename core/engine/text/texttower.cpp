#include "core/engine/text/texttower.h"

#include "core/engine/engineerror.h"
#include "core/engine/model/attentionrecord.h"
#include "core/engine/vit/vit.h"
#include "core/io/bytes.h"
#include "core/io/rawtensor.h"

#include <cmath>

namespace attnviz::engine::text {
namespace {

ViTMlp activationNamed(const std::string& name)
{
    if (name == "quick_gelu")
        return ViTMlp::QuickGelu;
    if (name == "gelu_pytorch_tanh" || name == "gelu_new")
        return ViTMlp::GeluTanh;
    if (name == "gelu")
        return ViTMlp::Gelu;
    throw EngineError("text tower activation '" + io::printable(name)
                      + "' is not supported (gelu, quick_gelu, "
                        "gelu_pytorch_tanh)");
}

// logit_scale and logit_bias: [] in open_clip and HF CLIP, [1] in HF SigLIP.
torch::Tensor takeScalar(WeightSource& s, const std::string& key)
{
    if (!s.has(key))
        return {};
    const auto shape = s.shapeOf(key);
    int64_t count = 1;
    for (const auto size : shape)
        count *= size;
    if (count != 1)
        throw EngineError("'" + key + "' holds " + std::to_string(count) + " numbers, not one");
    return s.take(key, shape).reshape({});
}

// open_clip's CLIP and CustomTextCLIP (under "text."): token_embedding, positional_embedding,
// transformer.resblocks.N.{ln_1, attn.in_proj_*, attn.out_proj, ls_1, ln_2, mlp.c_fc,
// mlp.c_proj, ls_2}, ln_final, text_projection ([W, E] matrix, or a linear layer).
TextTowerWeights readOpenClipText(WeightSource& s, const std::string& p, TextTowerSpec& spec)
{
    TextTowerWeights w;
    w.tokenEmbedding = s.take(p + "token_embedding.weight", {-1, -1});
    const int64_t d = w.tokenEmbedding.size(1);
    w.positions = s.take(p + "positional_embedding", {-1, d});
    w.blocks = readOpenClipBlocks(s, p + "transformer.resblocks.", d);
    readNormWeights(s, p + "ln_final", d, w.finalNormW, w.finalNormB);
    if (s.has(p + "text_projection.weight"))
        readLinearWeights(s, p + "text_projection", {-1, d}, w.projW, w.projB);
    else
        w.projW = s.take(p + "text_projection", {d, -1}).t().contiguous();  // x @ P == linear(x, P^T)
    spec.layout = "open_clip";
    return w;
}

// HF CLIPModel / SiglipModel: text_model.{embeddings.{token_embedding, position_embedding},
// encoder.layers.N.{layer_norm1, self_attn.{q,k,v,out}_proj, layer_norm2, mlp.fc1,
// mlp.fc2}, final_layer_norm} and text_projection (CLIP, no bias) or text_model.head
// (SigLIP).
TextTowerWeights readHfText(WeightSource& s, TextTowerSpec& spec)
{
    TextTowerWeights w;
    const std::string e = "text_model.embeddings.";
    w.tokenEmbedding = s.take(e + "token_embedding.weight", {-1, -1});
    const int64_t d = w.tokenEmbedding.size(1);
    w.positions = s.take(e + "position_embedding.weight", {-1, d});
    w.blocks = readHfClipLayers(s, "text_model.encoder.layers.", d);
    readNormWeights(s, "text_model.final_layer_norm", d, w.finalNormW, w.finalNormB);
    const bool siglip = s.has("text_model.head.weight");
    readLinearWeights(s, siglip ? "text_model.head" : "text_projection", {-1, d}, w.projW, w.projB);
    spec.layout = siglip ? "HF SigLIP" : "HF CLIP";
    return w;
}

// BERT's encoder layers as HF names them: `prefix`N.{attention.self.{query,key,value},
// attention.output.{dense, LayerNorm}, intermediate.dense, output.{dense, LayerNorm}} while
// present. Post-norm: norm1 is the LayerNorm after attention, norm2 the one after the MLP.
std::vector<ViTBlockWeights> readBertLayers(WeightSource& s, const std::string& prefix, int64_t d)
{
    std::vector<ViTBlockWeights> blocks;
    for (int i = 0; s.has(prefix + std::to_string(i) + ".attention.self.query.weight"); ++i) {
        const auto p = prefix + std::to_string(i) + ".";
        ViTBlockWeights b;
        readSeparateQkv(s, p + "attention.self.", {"query", "key", "value"}, d, b);
        readLinearWeights(s, p + "attention.output.dense", {d, d}, b.projW, b.projB);
        readNormWeights(s, p + "attention.output.LayerNorm", d, b.norm1W, b.norm1B);
        readLinearWeights(s, p + "intermediate.dense", {-1, d}, b.fc1W, b.fc1B);
        readLinearWeights(s, p + "output.dense", {d, b.fc1W.size(0)}, b.fc2W, b.fc2B);
        readNormWeights(s, p + "output.LayerNorm", d, b.norm2W, b.norm2B);
        blocks.push_back(std::move(b));
    }
    return blocks;
}

// open_clip's HFTextEncoder (under "text."): the HF model under transformer.* (embeddings.
// {word, position, token_type}_embeddings and LayerNorm, encoder.layer.N, pooler.dense when
// built with one) and the projection proj: a linear layer, nn.Sequential(linear, GELU,
// linear) without biases ("mlp", open_clip's default), or none.
TextTowerWeights readOpenClipHfText(WeightSource& s, TextTowerSpec& spec)
{
    const std::string t = "text.transformer.", e = t + "embeddings.";
    TextTowerWeights w;
    w.tokenEmbedding = s.take(e + "word_embeddings.weight", {-1, -1});
    const int64_t d = w.tokenEmbedding.size(1);
    w.positions = s.take(e + "position_embeddings.weight", {-1, d});
    w.tokenType = s.take(e + "token_type_embeddings.weight", {-1, d})[0];
    readNormWeights(s, e + "LayerNorm", d, w.embedNormW, w.embedNormB);
    for (const auto* buffer : {"position_ids", "token_type_ids"})  // saved by older transformers
        s.ignore(e + buffer);
    w.blocks = readBertLayers(s, t + "encoder.layer.", d);
    if (s.has(t + "pooler.dense.weight"))
        readLinearWeights(s, t + "pooler.dense", {d, d}, w.poolerW, w.poolerB);
    if (s.has("text.proj.weight")) {
        readLinearWeights(s, "text.proj", {-1, d}, w.projW, w.projB);
    } else if (s.has("text.proj.0.weight")) {
        if (s.has("text.proj.0.bias"))
            throw EngineError("open_clip's text projection with biases (hf_proj_type \"clap_mlp\") is not supported");
        w.projHiddenW = s.take("text.proj.0.weight", {-1, d});
        w.projW = s.take("text.proj.2.weight", {-1, w.projHiddenW.size(0)});
    }
    spec.layout = "open_clip HFTextEncoder";
    spec.blocks = TextBlocks::PostNorm;
    return w;
}

// What the weights say, whatever the layout: the sizes (no projection: the width).
void readSizes(const TextTowerWeights& w, TextTowerSpec& spec)
{
    spec.width = int(w.tokenEmbedding.size(1));
    spec.vocabulary = int(w.tokenEmbedding.size(0));
    spec.layers = int(w.blocks.size());
    spec.embedDim = w.projW.defined() ? int(w.projW.size(0)) : spec.width;
    if (spec.layers == 0)
        throw EngineError("the " + spec.layout + " text tower has no blocks");
}

void setHeads(int heads, TextTowerSpec& spec)
{
    if (heads <= 0 || spec.width % heads != 0)
        throw EngineError("text tower width " + std::to_string(spec.width) + " does not split into "
                          + std::to_string(heads) + " heads: give the config's heads");
    spec.heads = heads;
}

// What the weights do not say, from the config and the layout's defaults.
void finishTextSpec(const TextTowerWeights& w, const io::TextConfig& c, TextTowerSpec& spec)
{
    const bool hf = spec.layout != "open_clip";
    const bool siglip = spec.layout == "HF SigLIP" || w.logitBias.defined();
    spec.context = int(w.positions.size(0));
    setHeads(c.heads.value_or(hf ? (siglip ? 12 : 8) : 8), spec);
    spec.mlp = activationNamed(c.hiddenAct.value_or(hf ? (siglip ? "gelu_pytorch_tanh" : "quick_gelu") : "gelu"));
    spec.layerNormEps = c.layerNormEps.value_or(spec.layout == "HF SigLIP" ? 1e-6 : 1e-5);
    spec.causal = c.causal.value_or(spec.layout != "HF SigLIP");
    spec.score = siglip ? TextScore::Sigmoid : TextScore::Softmax;
    spec.tokenizer = siglip ? TextTokenizerKind::SiglipSentencePiece : TextTokenizerKind::ClipBpe;
    const auto pool = c.pool.value_or(spec.layout == "HF SigLIP" ? "last" : "argmax");
    if (pool == "last")
        spec.pooling = TextPooling::Last;
    else if (pool != "argmax")
        throw EngineError("text tower pool_type '" + io::printable(pool) + "' is not supported (argmax, last)");
    else if (spec.layout == "HF CLIP" && c.eosTokenId.value_or(2) != 2) {  // HF: 2 is the legacy "highest id"
        spec.pooling = TextPooling::FirstEnd;
        spec.endId = *c.eosTokenId;
    }
}

// An HFTextEncoder's facts live in its HF model's config.json, which an open_clip folder
// does not carry: they are RoBERTa's (pad id 1, GELU, LayerNorm eps 1e-5) and every BERT
// size's 64-wide heads unless text_cfg says "heads"; the context is text_cfg's
// context_length (open_clip's default 77) and the pooler its hf_pooler_type.
void finishHfEncoderSpec(const TextTowerWeights& w, const io::TextConfig& c, TextTowerSpec& spec)
{
    const auto name = c.hfModelName.value_or("xlm-roberta");
    if (name.find("roberta") == std::string::npos)
        throw EngineError("open_clip's text model '" + io::printable(name)
                          + "' is not a RoBERTa or XLM-RoBERTa encoder, the only Hugging Face text models read");
    if (name.find("xlm-roberta") == std::string::npos)
        throw EngineError("open_clip's text model '" + io::printable(name)
                          + "' needs RoBERTa's byte-level BPE tokenizer, which is not supported (XLM-RoBERTa's is)");
    spec.layout += " " + io::printable(name);
    spec.tokenizer = TextTokenizerKind::XlmrSentencePiece;
    spec.padId = 1;
    setHeads(c.heads.value_or(spec.width / 64), spec);
    spec.context = c.contextLength.value_or(77);
    const int64_t positions = w.positions.size(0);
    if (spec.context + spec.padId + 1 > positions)
        throw EngineError("a context of " + std::to_string(spec.context) + " tokens needs "
                          + std::to_string(spec.context + spec.padId + 1) + " positions; the text tower has "
                          + std::to_string(positions));
    spec.mlp = ViTMlp::Gelu;
    spec.layerNormEps = c.layerNormEps.value_or(1e-5);
    spec.causal = false;
    spec.score = w.logitBias.defined() ? TextScore::Sigmoid : TextScore::Softmax;
    const auto pooler = c.hfPooler.value_or("mean_pooler");
    if (pooler == "mean_pooler")
        spec.pooling = TextPooling::MaskedMean;
    else if (pooler == "cls_pooler" || pooler == "cls_last_hidden_state_pooler")
        spec.pooling = TextPooling::First;
    else
        throw EngineError("open_clip's hf_pooler_type '" + io::printable(pooler)
                          + "' is not supported (mean_pooler, cls_pooler, cls_last_hidden_state_pooler)");
}

}  // namespace

std::unique_ptr<TextTower> readTextTower(WeightSource& s, const io::ModelConfig& config)
{
    TextTowerSpec spec;
    TextTowerWeights w;
    if (s.has("token_embedding.weight"))
        w = readOpenClipText(s, "", spec);
    else if (s.has("text.token_embedding.weight"))
        w = readOpenClipText(s, "text.", spec);
    else if (s.has("text_model.embeddings.token_embedding.weight"))
        w = readHfText(s, spec);
    else if (s.has("text.transformer.embeddings.word_embeddings.weight"))
        w = readOpenClipHfText(s, spec);
    else if (s.hasAnyUnder("text."))  // an HFTextEncoder of another family (T5, M2M100, ...)
        throw EngineError("open_clip's text tower under \"text.\" is neither open_clip's own nor a RoBERTa-family "
                          "Hugging Face encoder");
    else
        return nullptr;
    w.logitScale = takeScalar(s, "logit_scale");
    w.logitBias = takeScalar(s, "logit_bias");
    if (!w.logitScale.defined())
        throw EngineError("the " + spec.layout + " text tower has no logit_scale");
    readSizes(w, spec);
    if (spec.blocks == TextBlocks::PostNorm)
        finishHfEncoderSpec(w, config.text, spec);
    else
        finishTextSpec(w, config.text, spec);
    return std::make_unique<TextTower>(std::move(spec), std::move(w));
}

const std::vector<std::string>& textTowerKeyPrefixes()
{
    static const std::vector<std::string> prefixes{"token_embedding.",
                                                   "positional_embedding",
                                                   "transformer.",
                                                   "ln_final.",
                                                   "text_projection",  // open_clip
                                                   "text.",            // CustomTextCLIP
                                                   "text_model.",      // HF
                                                   "logit_scale",
                                                   "logit_bias"};
    return prefixes;
}

TextTower::TextTower(TextTowerSpec spec, TextTowerWeights weights)
    : m_spec(std::move(spec))
    , m_w(std::move(weights))
{
}

void TextTower::to(const torch::Device& device)
{
    const auto move = [&device](torch::Tensor& t) {
        if (t.defined())
            t = t.to(device);
    };
    for (auto* t : {&m_w.tokenEmbedding, &m_w.positions, &m_w.tokenType, &m_w.embedNormW, &m_w.embedNormB,
                    &m_w.finalNormW, &m_w.finalNormB, &m_w.poolerW, &m_w.poolerB, &m_w.projHiddenW, &m_w.projW,
                    &m_w.projB, &m_w.logitScale, &m_w.logitBias})
        move(*t);
    for (auto& b : m_w.blocks)
        for (auto* t : {&b.norm1W, &b.norm1B, &b.qkvW, &b.qkvB, &b.projW, &b.projB, &b.ls1, &b.norm2W, &b.norm2B,
                        &b.fc1W, &b.fc1B, &b.fc2W, &b.fc2B, &b.ls2})
            move(*t);
}

std::string TextTower::description() const
{
    const auto& s = m_spec;
    return s.layout + " text tower (" + std::to_string(s.layers) + " blocks, " + std::to_string(s.heads)
           + " heads, width " + std::to_string(s.width) + ", context " + std::to_string(s.context) + ", vocabulary "
           + std::to_string(s.vocabulary) + ", embedding " + std::to_string(s.embedDim)
           + (s.score == TextScore::Sigmoid ? ", sigmoid score)" : ", softmax score)");
}

// One block; x [N, C, W], mask additive, [C, C] (causal) or [N, 1, 1, C] (padding), or
// undefined. PreNorm: x + attn(norm1(x)), then + mlp(norm2(.)); PostNorm (BERT):
// norm1(x + attn(x)), then norm2(. + mlp(.)).
torch::Tensor TextTower::block(const ViTBlockWeights& b, const torch::Tensor& x, const torch::Tensor& mask) const
{
    const auto n = x.size(0), c = x.size(1), w = x.size(2), h = int64_t(m_spec.heads), hd = w / h;
    const bool preNorm = m_spec.blocks == TextBlocks::PreNorm;
    const auto norm = [&](const torch::Tensor& t, const torch::Tensor& weight, const torch::Tensor& bias) {
        return torch::layer_norm(t, {w}, weight, bias, m_spec.layerNormEps);
    };
    // [N, C, 3W] -> [3, N, H, C, hd]
    const auto qkv = torch::linear(preNorm ? norm(x, b.norm1W, b.norm1B) : x, b.qkvW, b.qkvB)
                         .view({n, c, 3, h, hd})
                         .permute({2, 0, 3, 1, 4});
    const auto attention = attentionWeights(qkv[0] / std::sqrt(double(hd)), qkv[1], mask);  // [N, H, C, C]
    const auto context = torch::matmul(attention, qkv[2]).transpose(1, 2).reshape({n, c, w});
    auto a = torch::linear(context, b.projW, b.projB);
    if (b.ls1.defined())
        a = a * b.ls1;
    const auto y = preNorm ? x + a : norm(x + a, b.norm1W, b.norm1B);
    const auto hidden = torch::linear(preNorm ? norm(y, b.norm2W, b.norm2B) : y, b.fc1W, b.fc1B);
    auto m = torch::linear(mlpActivation(m_spec.mlp, hidden), b.fc2W, b.fc2B);
    if (b.ls2.defined())
        m = m * b.ls2;
    return preNorm ? y + m : norm(y + m, b.norm2W, b.norm2B);
}

// ids [N, C] -> [N, C, W]. PostNorm: RoBERTa's positions, pad id + the count of real tokens
// so far for a real token and the pad id for a pad (create_position_ids_from_input_ids),
// plus token type 0, through the embeddings' LayerNorm.
torch::Tensor TextTower::embedTokens(const torch::Tensor& ids) const
{
    const auto words = torch::embedding(m_w.tokenEmbedding, ids);
    if (m_spec.blocks == TextBlocks::PreNorm)
        return words + m_w.positions;
    const auto real = (ids != m_spec.padId).to(torch::kInt64);
    const auto positions = real.cumsum(1) * real + m_spec.padId;
    const auto x = words + torch::embedding(m_w.positions, positions) + m_w.tokenType;
    return torch::layer_norm(x, {x.size(2)}, m_w.embedNormW, m_w.embedNormB, m_spec.layerNormEps);
}

// The text's vector: x [N, C, W], ids [N, C] -> [N, W]
torch::Tensor TextTower::pool(const torch::Tensor& x, const torch::Tensor& ids) const
{
    const auto rows = torch::arange(x.size(0), ids.options());
    switch (m_spec.pooling) {
    case TextPooling::Last: return x.select(1, x.size(1) - 1);
    case TextPooling::FirstEnd: return x.index({rows, (ids == m_spec.endId).to(torch::kInt).argmax(-1)});
    case TextPooling::MaskedMean: {
        const auto real = (ids != m_spec.padId).to(x.dtype()).unsqueeze(-1);  // [N, C, 1]
        return (x * real).sum(1) / real.sum(1);
    }
    case TextPooling::First: {
        const auto first = x.select(1, 0);
        return m_w.poolerW.defined() ? torch::tanh(torch::linear(first, m_w.poolerW, m_w.poolerB)) : first;
    }
    case TextPooling::HighestId: break;
    }
    return x.index({rows, ids.argmax(-1)});
}

// [N, W] -> [N, E]
torch::Tensor TextTower::project(const torch::Tensor& pooled) const
{
    if (!m_w.projW.defined())
        return pooled;
    if (m_w.projHiddenW.defined())
        return torch::linear(torch::gelu(torch::linear(pooled, m_w.projHiddenW)), m_w.projW);
    return torch::linear(pooled, m_w.projW, m_w.projB);
}

torch::Tensor TextTower::embed(const torch::Tensor& ids) const
{
    if (ids.dim() != 2 || ids.size(1) != m_spec.context || ids.scalar_type() != torch::kInt64)
        throw EngineError("text tower takes int64 token ids [N, " + std::to_string(m_spec.context) + "]");
    if (ids.numel() > 0 && (ids.min().item<int64_t>() < 0 || ids.max().item<int64_t>() >= m_spec.vocabulary))
        throw EngineError("a token id is outside the text tower's vocabulary of " + std::to_string(m_spec.vocabulary));
    const auto tokens = ids.to(m_w.tokenEmbedding.device());
    auto x = embedTokens(tokens);  // [N, C, W]
    torch::Tensor mask;
    if (m_spec.causal)  // [C, C]: -inf above the diagonal
        mask = torch::full({m_spec.context, m_spec.context}, -INFINITY, x.options()).triu(1);
    else if (m_spec.padId >= 0)  // [N, 1, 1, C]: -inf at the pads
        mask = torch::zeros(tokens.sizes(), x.options())
                   .masked_fill(tokens == m_spec.padId, -INFINITY)
                   .view({tokens.size(0), 1, 1, tokens.size(1)});
    for (const auto& b : m_w.blocks)
        x = block(b, x, mask);
    if (m_w.finalNormW.defined())
        x = torch::layer_norm(x, {x.size(2)}, m_w.finalNormW, m_w.finalNormB, m_spec.layerNormEps);
    return project(pool(x, tokens));
}

torch::Tensor TextTower::logits(const torch::Tensor& imageEmbeddings, const torch::Tensor& textEmbeddings) const
{
    namespace F = torch::nn::functional;
    if (imageEmbeddings.dim() != 2 || textEmbeddings.dim() != 2 || imageEmbeddings.size(1) != textEmbeddings.size(1))
        throw EngineError("image embeddings " + io::shapeString(imageEmbeddings.sizes().vec()) + " and text embeddings "
                          + io::shapeString(textEmbeddings.sizes().vec()) + " cannot be compared");
    const auto images = F::normalize(imageEmbeddings, F::NormalizeFuncOptions().dim(-1));
    const auto texts = F::normalize(textEmbeddings.to(images.device()), F::NormalizeFuncOptions().dim(-1));
    const auto s = m_w.logitScale.to(images.device()).exp() * torch::matmul(images, texts.t());  // [N, K]
    return m_w.logitBias.defined() ? s + m_w.logitBias.to(images.device()) : s;
}

torch::Tensor TextTower::scores(const torch::Tensor& imageEmbedding, const torch::Tensor& textEmbeddings) const
{
    return logits(imageEmbedding.reshape({1, -1}), textEmbeddings)[0];
}

}  // namespace attnviz::engine::text
