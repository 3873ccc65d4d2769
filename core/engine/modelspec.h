#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

namespace attnviz::engine {

enum class Family { ViT, ResNet };
enum class Naming { Timm, Torchvision, HF };

std::string familyName(Family family);  // "vit" | "resnet"
std::string namingName(Naming naming);  // "timm" | "torchvision" | "hf"

// How an image becomes the model's input tensor.
struct Preprocessing {
    std::array<int, 3> inputSize{3, 224, 224};  // [C, H, W]
    std::string interpolation = "bilinear";     // "bilinear" | "bicubic" | "nearest"
    double cropPct = 0.875;                     // resize to size / crop_pct, center crop
    bool squash = false;                        // instead: resize straight to H x W (HF ViT)
    std::vector<double> mean{0.485, 0.456, 0.406};
    std::vector<double> std{0.229, 0.224, 0.225};
};

// Everything known about a loaded model's architecture, from its keys and config.
struct ModelSpec {
    Family family = Family::ViT;
    Naming naming = Naming::Timm;
    std::string description;  // e.g. "ViT-B/16 (timm naming, 12 blocks, 12 heads)"
    int numClasses = 0;       // 0: no classifier head (e.g. DINO backbones)
    std::optional<double> reportedAccuracy;  // from config.json's "evaluation", if any
    std::string reportedOn;
    std::vector<std::string> labels;
    Preprocessing preprocessing;

    // ViT
    int depth = 0;  // ViT: blocks; ResNet: 18, 34, 50, 101, 152 (or 2 + layers)
    int heads = 0;
    int embedDim = 0;
    int patchSize = 0;
    bool hasClsToken = true;
    bool hasDistToken = false;  // DeiT distilled: logits = mean of head and head_dist
    int regTokens = 0;
    bool noEmbedClass = false;  // pos_embed covers patches only
    bool avgPool = false;       // global average pooling (fc_norm) instead of CLS
    std::array<int, 2> posGrid{0, 0};  // patch grid the position embedding was trained on
    // How the position embedding is resampled for another grid (bicubic in every library):
    // timm's resample_abs_pos_embed antialiases; HF's interpolate_pos_encoding does not;
    // torchvision's interpolate_embeddings aligns corners. Set from the naming.
    struct {
        bool antialias = true;
        bool alignCorners = false;
    } posResampling;
    double layerNormEps = 1e-6;

    // ResNet
    bool bottleneck = false;
    std::vector<int> stageBlocks;  // e.g. {3, 4, 6, 3}
    std::vector<int> stageWidths;  // output channels per stage
    int stemWidth = 64;  // conv1 output channels
    int stemKernel = 7;
    int stemStride = 2;
    bool stemPool = true;
    // Every residual block's convolutions as the loaded weights define them, per stage and
    // block (filled by readResNetWeights; the receptive fields are computed from them).
    struct Conv {
        int kernel = 1;  // square
        int stride = 1;
        int padding = 0;
    };
    struct ResidualBlock {
        std::vector<Conv> convs;          // the main path: conv1, conv2[, conv3]
        std::optional<Conv> downsample;  // the shortcut's conv, if the block has one
    };
    std::vector<std::vector<ResidualBlock>> blocks;

    int prefixTokens() const { return int(hasClsToken) + int(hasDistToken) + regTokens; }
};

}  // namespace attnviz::engine
