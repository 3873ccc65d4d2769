#pragma once

#include "core/engine/model/attentionrecord.h"

#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

namespace attnviz::engine {

// Where the tokens of a ViT sequence come from: [cls?, dist?, reg..., patches]
// with the patches in row-major order over a gridH x gridW grid.
struct TokenLayout {
    bool hasCls = false;
    bool hasDist = false;
    int regTokens = 0;
    int gridH = 0;
    int gridW = 0;
    int patchSize = 0;
    // Where the first patch's field is centred on the input, in pixels: (P - 1) / 2 for
    // a linear patch projection, 0 for a ConvStem's (each layer maps j to 2j).
    double firstPatchCentre = 0;

    int prefixTokens() const { return int(hasCls) + int(hasDist) + regTokens; }
    int tokens() const { return prefixTokens() + gridH * gridW; }
};

// One residual addition `out = skip + branch` of a forward pass, measured at every
// position (P: a ViT's tokens, a CNN addition's h * w): the L2 norm of each summand over
// the features (a ViT token's D, a CNN pixel's C). Norms rather than tensors, so a
// folder-wide study keeps a few numbers per position.
struct ResidualNorms {
    std::string name;      // ViT "<b>.attn" / "<b>.mlp"; CNN the residual block ("layer1.0")
    torch::Tensor skip;    // [N, P]: the residual stream (ViT) or the shortcut's output (CNN)
    torch::Tensor branch;  // [N, P]: what the block adds (after LayerScale where there is one)
};

// Everything one forward pass records; all tensors on the CPU, float32.
struct Trace {
    torch::Tensor input;   // [1, C, H, W], preprocessed
    torch::Tensor logits;  // [1, classes] (empty when the model has no head)
    // [1, E]: a model without a classifier outputs its image embedding instead (DINO's
    // normed CLS token, CLIP's projected one), and a model with a text tower keeps it
    // beside its prompts' scores; empty otherwise.
    torch::Tensor embedding;
    // ViT: every block's softmax(q kᵀ / √d), kept as its queries and keys and the rows
    // the views read (AttentionRecord: linear in the tokens); empty for a CNN.
    AttentionRecord attention;
    // ViT with an attention-pooling head (SigLIP): its latent queries' softmax over all
    // the last block's tokens, [heads, latents, T] (latents: 1 in every known model);
    // undefined otherwise. Without a CLS token this is what the image is summarised by.
    torch::Tensor poolAttention;
    TokenLayout tokens;
    // ViT: per block, the L2 norm over D of every token of its output, [T].
    std::vector<torch::Tensor> tokenNorms;
    // Every residual addition in forward order (ViT: each block's attention, then its
    // MLP; CNN: each residual block, none in VGG or DenseNet), norms [1, P].
    std::vector<ResidualNorms> residuals;
    // CNN: named stage outputs [1, C, h, w] in forward order:
    // conv1 (after bn1 + relu), maxpool, layer1 .. layer4.
    std::vector<std::pair<std::string, torch::Tensor>> features;
    // What the last layer reads, so that a gradient method at the last layer can resume
    // the pass there (Classifier::activationsOfLastLayer) instead of running it again:
    // a ViT's residual stream entering its last block [1, T, D]; a CNN's last feature
    // map [1, C, h, w] (the tensor of features.back()). Undefined where the model cannot
    // resume.
    torch::Tensor lastLayerInput;
    double forwardSeconds = 0.0;
};

// A CNN trace's stages as the window's overview shows them: each stage output's mean
// over its channels, [h, w], in forward order.
std::vector<torch::Tensor> stageMeanActivations(const Trace& trace);

// The intermediates of one differentiable batch forward (eval semantics), for the
// methods that need gradients (Grad-CAM, gradient rollout, effective receptive field)
// or a whole set of images (CKA). Tensors stay on the model's device and keep their
// autograd history when the caller runs with gradients enabled.
struct Activations {
    torch::Tensor logits;  // [N, classes], undefined without a head
    TokenLayout tokens;
    // (A ViT's attention is not kept: the methods that need it read the trace's
    // AttentionRecord, or stream its gradients block by block, streamAttentionGradients.)
    // ViT: tokenStates[l] is the residual stream entering block l (what its norm1
    // sees), tokenStates[depth] the last block's output before the final norm. [N, T, D]
    std::vector<torch::Tensor> tokenStates;
    // ViT: norm1Outputs[l] is block l's norm1 output, what its attention reads. [N, T, D]
    std::vector<torch::Tensor> norm1Outputs;
    // CNN: conv1 (after bn1 + relu), maxpool, then every residual block's output
    // named as in the state dict ("layer1.0", "layer1.1", ...). [N, C, h, w]
    std::vector<std::pair<std::string, torch::Tensor>> features;

    // A CNN feature by name; a stage name ("layer4") means its last block's output.
    // Throws EngineError naming the known layers.
    const torch::Tensor& feature(const std::string& name) const;
};

}  // namespace attnviz::engine
