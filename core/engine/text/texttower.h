#pragma once

// The text half of CLIP and SigLIP: token ids [N, context] -> text embeddings [N, E],
// and the image-text score. Read from the same checkpoint as the image tower
// (readTextTower); a checkpoint without one has none.
//
// CLIP's and SigLIP's own: a pre-norm transformer over token embeddings plus learned
// positions; CLIP's is causal (a token attends to itself and those before it) and reads the
// end token's output, SigLIP's sees every token and reads the last position. The pooled
// token goes through the final LayerNorm and the projection (open_clip's text_projection,
// HF CLIP's text_projection, SigLIP's head, which has a bias).
//
// open_clip's HFTextEncoder with a RoBERTa-family model (the LAION multilingual CLIPs,
// xlm-roberta-base and -large): BERT's post-norm layers over word + position + token-type
// embeddings normalised by a LayerNorm, padding masked out of the keys, positions counted
// from the pad id + 1 as RoBERTa counts them; the outputs averaged over the real tokens
// (mean_pooler) or the first token's taken (cls poolers), then a linear or a two-layer
// GELU projection.

#include "core/engine/loading/weightsource.h"
#include "core/engine/model/modelspec.h"
#include "core/engine/vit/vitweights.h"
#include "core/io/modelconfig.h"

#include <torch/torch.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace attnviz::engine::text {

// Which token's output is the text's: the highest id (CLIP's end token is the largest id,
// open_clip's "argmax"), the first end token (HF CLIP with a real eos_token_id), or the
// last position (SigLIP, with the end token sticky there); open_clip's HFTextEncoder: the
// mean over the tokens that are not padding, or the first token.
enum class TextPooling { HighestId, FirstEnd, Last, MaskedMean, First };
// Where the LayerNorms sit: before each block's attention and MLP, plus one after the last
// block (CLIP, SigLIP), or after each residual sum, plus one over the embeddings (BERT).
enum class TextBlocks { PreNorm, PostNorm };
// Which tokenizer the tower was trained with (prompts.h finds its file): CLIP's byte-level
// BPE, SigLIP's SentencePiece, or XLM-RoBERTa's SentencePiece with fairseq's ids.
enum class TextTokenizerKind { ClipBpe, SiglipSentencePiece, XlmrSentencePiece };
// CLIP: exp(logit_scale) * cosine, a softmax over prompts; SigLIP: plus logit_bias, a
// sigmoid per prompt.
enum class TextScore { Softmax, Sigmoid };

struct TextTowerSpec {
    std::string layout;  // "open_clip", "HF CLIP", "HF SigLIP", "open_clip HFTextEncoder <model>"
    int width = 0, layers = 0, heads = 0;
    int context = 0;     // positions: 77 for CLIP, 64 for SigLIP
    int vocabulary = 0;  // token embedding rows
    int embedDim = 0;    // the projection's output, the image embedding's width
    bool causal = true;
    TextPooling pooling = TextPooling::HighestId;
    int64_t endId = -1;  // for FirstEnd
    ViTMlp mlp = ViTMlp::Gelu;
    double layerNormEps = 1e-5;
    TextScore score = TextScore::Softmax;
    TextBlocks blocks = TextBlocks::PreNorm;
    int64_t padId = -1;  // PostNorm: the pad token, masked out of the keys and the mean
    TextTokenizerKind tokenizer = TextTokenizerKind::ClipBpe;
};

struct TextTowerWeights {
    torch::Tensor tokenEmbedding;          // [V, W]
    torch::Tensor positions;               // [C, W]; PostNorm: [P, W], P >= C + pad id + 1
    torch::Tensor tokenType;               // PostNorm: [W], token type 0's embedding
    torch::Tensor embedNormW, embedNormB;  // PostNorm: the embeddings' LayerNorm
    std::vector<ViTBlockWeights> blocks;   // PostNorm: norm1 after attention, norm2 after the MLP
    torch::Tensor finalNormW, finalNormB;  // PreNorm only
    torch::Tensor poolerW, poolerB;        // BERT's pooler (tanh of a linear layer) on the first token, or undefined
    torch::Tensor projHiddenW;             // [hidden, W]: a GELU MLP projection's first layer, or undefined
    // [E, W] (as a linear layer's weight; [E, hidden] after projHiddenW), [E] or undefined;
    // both undefined: no projection (open_clip's Identity)
    torch::Tensor projW, projB;
    torch::Tensor logitScale;  // [] log of the scale
    torch::Tensor logitBias;   // [] SigLIP's, or undefined
};

class TextTower {
public:
    TextTower(TextTowerSpec spec, TextTowerWeights weights);

    // ids [N, context] int64 -> [N, E] float32, before normalisation. Throws EngineError
    // for a wrong shape or an id outside the vocabulary.
    torch::Tensor embed(const torch::Tensor& ids) const;
    // exp(logit_scale) * cos(image, text) (+ logit_bias) for every pair: images [N, E],
    // texts [K, E] -> [N, K], before any softmax or sigmoid; differentiable in the images.
    torch::Tensor logits(const torch::Tensor& imageEmbeddings, const torch::Tensor& textEmbeddings) const;
    // The same for one image: [E] or [1, E], texts [K, E] -> [K].
    torch::Tensor scores(const torch::Tensor& imageEmbedding, const torch::Tensor& textEmbeddings) const;

    const TextTowerSpec& spec() const { return m_spec; }
    std::string description() const;
    void to(const torch::Device& device);

private:
    torch::Tensor block(const ViTBlockWeights& b, const torch::Tensor& x, const torch::Tensor& mask) const;
    torch::Tensor embedTokens(const torch::Tensor& ids) const;
    torch::Tensor pool(const torch::Tensor& x, const torch::Tensor& ids) const;
    torch::Tensor project(const torch::Tensor& pooled) const;

    TextTowerSpec m_spec;
    TextTowerWeights m_w;
};

// The text tower in `tensors` (open_clip: token_embedding, positional_embedding,
// transformer.resblocks.N, ln_final, text_projection; HF CLIPModel / SiglipModel:
// text_model.*, text_projection or text_model.head; open_clip's HFTextEncoder:
// text.transformer.{embeddings, encoder.layer.N, pooler}, text.proj), with what `config` says of it;
// nullptr when the checkpoint has none. Marks its tensors as taken in `source`.
// Throws EngineError when a tower is there but incomplete or inconsistent.
std::unique_ptr<TextTower> readTextTower(WeightSource& source, const io::ModelConfig& config);

// The key prefixes of every text tower layout readTextTower knows (the text half of a
// CLIP checkpoint), for a loader that sets aside a tower it could not read.
const std::vector<std::string>& textTowerKeyPrefixes();

}  // namespace attnviz::engine::text
