#pragma once

#include "core/engine/model/classifier.h"
#include "core/engine/text/texttower.h"
#include "core/engine/vit/registerneurons.h"
#include "core/engine/vit/vitweights.h"

#include <functional>
#include <memory>

namespace attnviz::engine {

// The MLP's activation of a pre-norm block, ViT or CLIP / SigLIP text tower: GELU (exact
// or tanh), QuickGELU, or SwiGLU (halves of hidden [..., 2H] -> [..., H]).
torch::Tensor mlpActivation(ViTMlp kind, const torch::Tensor& hidden);

// A Vision Transformer (timm semantics: pre-norm blocks, GELU / QuickGELU / SwiGLU,
// optional LayerScale, CLS/distillation/register tokens, CLIP's pre-norm and
// projection, SigLIP's attention-pooling head) whose attention is computed explicitly so that every block's weights can
// be recorded.
class VisionTransformer : public Classifier {
public:
    VisionTransformer(ModelSpec spec, ViTWeights weights);

    const ModelSpec& spec() const override { return m_spec; }
    std::vector<Trace> forwardBatch(const torch::Tensor& batch) const override;
    void to(torch::Device device) override;
    torch::Device device() const override { return m_device; }
    torch::Tensor logits(const torch::Tensor& batch, bool training) const override;
    Activations activations(const torch::Tensor& batch) const override;
    torch::Tensor logitsReplacing(const torch::Tensor& input, const LayerReplacement& replacement) const override;
    Activations activationsOfLastLayer(const torch::Tensor& lastLayerInput, const TokenLayout& tokens) const override;
    std::vector<std::pair<std::string, torch::Tensor>> namedParameters() const override;
    io::TensorMap stateDict() const override;
    // The weights in timm's layout, on device(), for methods that walk the network
    // themselves (relevance propagation).
    const ViTWeights& weights() const { return m_w; }
    // CLIP's and SigLIP's text half, read from the same checkpoint, or nullptr.
    const text::TextTower* textTower() const { return m_text.get(); }
    void setTextTower(std::unique_ptr<text::TextTower> tower);
    // Classes from the text tower (zero-shot): the logits are the image's scores against
    // `classes` [K, E] (TextTower::logits), labelled `labels`; they replace the image
    // embedding as the model's output, so every class-based view explains a prompt.
    // Throws EngineError for a model without a text tower or with a classifier of its own.
    void setPromptClasses(const torch::Tensor& classes, std::vector<std::string> labels);
    // A copy with `classes` and `labels` as its prompt classes, sharing this model's
    // weights and text tower (no tensor is copied): the window asks about a new prompt
    // with a new model while the one on screen stays as it is.
    std::shared_ptr<VisionTransformer> withPromptClasses(const torch::Tensor& classes,
                                                         std::vector<std::string> labels) const;
    // The logits [N, K] of image embeddings [N, E] (a trace's `embedding`) against the
    // prompt classes, on the CPU: what classify gives, without the image's pass. Throws
    // EngineError without prompt classes.
    torch::Tensor promptLogits(const torch::Tensor& embeddings) const;
    // The prompt classes [K, E] on device(), undefined without any.
    const torch::Tensor& promptClasses() const { return m_promptClasses; }
    // The embedding [E] of a prompt that names nothing (PromptEncoder::neutralPrompt), set
    // by the loader for a SigLIP whose tokenizer is beside it: LeGrad corrects a SigLIP's
    // maps with its map. Undefined until set (and for a CLIP); withPromptClasses keeps it.
    void setNeutralPrompt(const torch::Tensor& embedding);
    const torch::Tensor& neutralPrompt() const { return m_neutralPrompt; }

    // A copy sharing this model's weights with a test-time register (Jiang et al., NeurIPS
    // 2025): one extra token, zeros, after the prefix tokens, without a position (as the
    // authors add it, before CLIP's pre-norm); in each block of `neurons` its MLP units are
    // set, after the activation, to 0 on every patch and on the register to the value of
    // largest magnitude that any token has on any of the block's units (the authors'
    // sign_max), so that what they wrote into artifact patches goes to the register. Its
    // traces count the token as the last register (TokenLayout::regTokens). Throws
    // EngineError for a block or unit the model lacks, for a model with one already, and for
    // BEiT's relative position bias, whose table has no place for an extra token.
    std::shared_ptr<VisionTransformer> withTestTimeRegister(RegisterNeurons neurons) const;
    const RegisterNeurons& testTimeRegister() const { return m_register; }

    // The MLP units after the activation of blocks 0..throughBlock, [N, T, hidden] each, and
    // every block's output token norms, [N, T], on the CPU, for inputs [N, C, H, W] (the
    // register neurons' search).
    struct MlpUnits {
        std::vector<torch::Tensor> activations, outputNorms;
        TokenLayout layout;
    };
    MlpUnits mlpUnits(const torch::Tensor& input, int throughBlock) const;

    // The stream entering block 0 [N, T, D] (patches, prefix tokens, positions, CLIP's
    // pre-norm) for an input [N, C, H, W]; fills `layout`.
    torch::Tensor embedded(const torch::Tensor& input, TokenLayout& layout) const;

    // Block `block`'s attention A and d score / dA, both [H, T, T] for the one image,
    // detached.
    using AttentionGradientVisitor =
        std::function<void(int block, const torch::Tensor& attention, const torch::Tensor& gradient)>;
    // The gradient of `score` (logits [1, classes] -> a scalar) with respect to every
    // block's attention, from the last block down to `firstBlock`, in memory for one
    // block at a time (activation checkpointing): a pass without gradients keeps each
    // block's input [1, T, D]; each block then runs again with gradients and is
    // differentiated, its input's gradient handed to the block before it. Fills `layout`.
    void visitAttentionGradients(const torch::Tensor& input, int firstBlock,
                                 const std::function<torch::Tensor(const torch::Tensor&)>& score,
                                 const AttentionGradientVisitor& visit, TokenLayout& layout) const;

    // LeGrad's signal (methods/legrad.h): each block from `firstBlock` to the last, its
    // output read by the head as if it were the last block's, with the mean of all tokens
    // in place of the CLS token (the authors' reading of CLIP); `score` of those logits
    // [1, classes] is differentiated with respect to that block's own attention only.
    // visit(block, A, dA) gets [H, T, T] each, first block first; one block's graph
    // exists at a time. Fills `layout`. With an attention-pooling head (SigLIP), the
    // block's output goes straight into the pool, without the final norm (the authors'
    // reading of SigLIP), and the gradient is the pool's first latent's attention:
    // visit gets [H, 1, T] each. Throws EngineError for a model with no classes.
    void visitReadoutGradients(const torch::Tensor& input, int firstBlock,
                               const std::function<torch::Tensor(const torch::Tensor&)>& score,
                               const AttentionGradientVisitor& visit, TokenLayout& layout) const;

    // The logit lens: every token of a block's output x [N, T, D] read by the classes as
    // if it were what the head reads (the final norm, then an average-pooling model's
    // fc_norm, then the head, or a CLIP's projection and prompt classes): [N, T, classes].
    // A distilled DeiT's tokens are read by its class head alone. Throws EngineError for a
    // model without classes, or whose head reads what no single token is (an attention
    // pool; the CLS token and the patch mean side by side).
    torch::Tensor tokenLogits(const torch::Tensor& x) const;

private:
    // The stream entering each block, then the last one's output, [1, T, D] each, from a
    // pass without gradients (attention in bands: nothing of size T² is kept), for the
    // one image `input` [1, C, H, W]; `firstBlock` checked. Fills `layout`.
    std::vector<torch::Tensor> blockStates(const torch::Tensor& input, int firstBlock, TokenLayout& layout) const;
    // What one encode() records, and the one layer output it may replace; null members
    // are skipped.
    struct EncodeHooks {
        std::vector<BlockAttention>* record = nullptr;       // per block, batched [N, ...] (traces)
        std::vector<torch::Tensor>* tokenStates = nullptr;   // before each block and after the last [N, T, D]
        std::vector<torch::Tensor>* norm1Outputs = nullptr;  // per block [N, T, D]
        const LayerReplacement* replacement = nullptr;       // "<b>" or "<b>.norm1"
        std::vector<ResidualNorms>* residuals = nullptr;     // per block: attention, then MLP
        std::vector<torch::Tensor>* tokenNorms = nullptr;    // per block: its output's [N, T]
        std::vector<torch::Tensor>* mlpUnits = nullptr;      // per block: after the MLP's activation [N, T, H]
        std::size_t mlpUnitsThrough = 0;                     // ... of blocks 0..this one
        torch::Tensor* lastBlockInput = nullptr;             // the stream entering the last block [N, T, D]
        bool training = false;  // batch statistics in a conv stem's batch norms (Classifier::logits)
    };
    // [N, T, D] tokens after the last block for an input [N, C, H, W]; fills the layout.
    torch::Tensor encode(const torch::Tensor& input, TokenLayout& layout, const EncodeHooks& hooks) const;
    torch::Tensor embed(const torch::Tensor& input, TokenLayout& layout, bool training) const;
    // Position embedding for the patch part at grid gh x gw: [1, gh*gw, D]
    torch::Tensor patchPositions(int gh, int gw) const;
    // Where attend() leaves a block's attention; null members are skipped.
    struct AttentionSinks {
        torch::Tensor* weights = nullptr;  // the whole softmax [N, H, T, T] (differentiable passes)
        BlockAttention* record = nullptr;  // queries, keys and the summary rows, [N, ...] (traces)
    };
    // What block() hands out besides its output; null members are skipped.
    struct BlockProbes {
        std::vector<ResidualNorms>* residuals = nullptr;  // its two additions, "<index>.attn" and "<index>.mlp"
        std::vector<torch::Tensor>* mlpUnits = nullptr;   // its MLP units after the activation [N, T, H]
    };
    // Block `index`; `normed` is its norm1 output, computed here when undefined.
    torch::Tensor block(std::size_t index, const torch::Tensor& x, torch::Tensor normed, const RelativeBias& bias,
                        const AttentionSinks& sinks, const BlockProbes& probes) const;
    // The test-time register's edit of block `index`'s MLP units h [N, T, H] (none when the
    // block has no register neurons).
    torch::Tensor moveToRegister(std::size_t index, const torch::Tensor& h) const;
    // The prefix tokens of the sequence: the spec's, and the test-time register.
    int prefixTokens() const { return m_spec.prefixTokens() + (m_register.empty() ? 0 : 1); }
    torch::Tensor norm1(const ViTBlockWeights& b, const torch::Tensor& x) const;
    // Without gradients and without a sink for the whole softmax, attention is computed a
    // band of query rows at a time, so that memory grows with T, not T².
    torch::Tensor attend(const ViTBlockWeights& b, const torch::Tensor& x, const RelativeBias& bias,
                         const AttentionSinks& sinks) const;
    // BEiT: every block's relative position bias for a gh x gw grid (tables resized when
    // the grid is not the trained one); empty for other ViTs.
    std::vector<RelativeBias> relativeBiases(int gh, int gw) const;
    // The representation the head reads from the last block's tokens [N, T, D]: the
    // normed CLS token, the patch mean (fc_norm), both (HF DINOv2), or the attention
    // pool's output (SigLIP): [N, D] or [N, 2D]. `poolAttention`, when given, receives
    // the pool's softmax [N, H, L, T] (left undefined without a pool).
    torch::Tensor pooled(const torch::Tensor& x, torch::Tensor* poolAttention = nullptr) const;
    // Latent queries attending over the normed tokens y [N, T, D] -> [N, D].
    torch::Tensor attentionPool(const torch::Tensor& y, torch::Tensor* attention) const;
    // What the classes read from pooled features p [N, D]: the prompt classes' scores of
    // its projection, or the head's logits; [N, classes], undefined with neither.
    torch::Tensor logitsOfPooled(const torch::Tensor& p) const;
    // [N, classes], undefined without a head
    torch::Tensor classify(const torch::Tensor& x, torch::Tensor* poolAttention = nullptr) const;
    // [N, E]: pooled, projected (CLIP)
    torch::Tensor embedding(const torch::Tensor& x, torch::Tensor* poolAttention = nullptr) const;

    ModelSpec m_spec;
    mutable ViTWeights m_w;                   // mutable only for named(): forward never changes weights
    std::shared_ptr<text::TextTower> m_text;  // shared by withPromptClasses' copies
    torch::Tensor m_promptClasses;            // [K, E] on device(), or undefined
    torch::Tensor m_neutralPrompt;            // [E] on device(), or undefined
    RegisterNeurons m_register;               // a test-time register's units, or none
    torch::Tensor m_relIndex;                 // BEiT: relativePositionIndex of the trained grid, [T*T]
    torch::Device m_device{torch::kCPU};
};

// The text tower of a CLIP or SigLIP ViT; nullptr for any other model.
const text::TextTower* textTowerOf(const Classifier& model);

}  // namespace attnviz::engine
