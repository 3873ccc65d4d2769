#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

namespace attnviz::engine {

// A model's family, and its role in a comparison: the transformer and the convolutional
// network (the window's two panes, the CLI's --vit and --cnn). One spelling everywhere.
enum class Family { ViT, CNN };
inline constexpr Family kFamilies[] = {Family::ViT, Family::CNN};
enum class Naming { Timm, Torchvision, HF, OpenCLIP };
// A ViT block's MLP: GELU (exact), CLIP's QuickGELU x * sigmoid(1.702 x), or SwiGLU
// (fc1 gives [x1, x2], SiLU(x1) * x2 goes to fc2: DINOv2 giant), or GELU's tanh
// approximation (SigLIP in HF and big_vision, SigLIP 2 in timm).
enum class ViTMlp { Gelu, QuickGelu, SwiGlu, GeluTanh };

std::string familyName(Family family);           // "vit" | "cnn": option names, JSON keys, tensor key prefixes
Family familyFromName(const std::string& name);  // throws std::invalid_argument for another name
std::string namingName(Naming naming);           // "timm" | "torchvision" | "hf" | "open_clip"
std::string mlpName(ViTMlp mlp);                 // "gelu" | "quick_gelu" | "swiglu" | "gelu_tanh"

// How an image becomes the model's input tensor.
struct Preprocessing {
    std::array<int, 3> inputSize{3, 224, 224};  // [C, H, W]
    std::string interpolation = "bilinear";     // "bilinear" | "bicubic" | "nearest"
    double cropPct = 0.875;                     // resize to size / crop_pct, center crop
    bool squash = false;                        // instead: resize straight to H x W (HF ViT)
    std::vector<double> mean{0.485, 0.456, 0.406};
    std::vector<double> std{0.229, 0.224, 0.225};
};

// The theoretical receptive field of one layer's units, in pixels of the model
// input (Araujo et al. 2019): unit i along an axis sees the `size` pixels centred
// on start + i * jump (pixel centres at 0, 1, ...; the box may leave the image).
struct ReceptiveField {
    std::string name;  // state-dict module name ("conv1", "layer2.0.conv2"), or a stage ("layer2")
    double size = 1;
    double jump = 1;
    double start = 0;
    bool stage = false;  // a stage output, recorded in the trace
};

// Everything known about a loaded model's architecture, from its keys and config.
struct ModelSpec {
    Family family = Family::ViT;
    Naming naming = Naming::Timm;
    std::string architecture;    // "vit", "resnet", "convnext", "efficientnet", ...
    std::string variant;         // the library's model name when recognised ("resnet50"), else ""
    std::string description;     // e.g. "ViT-B/16 (timm naming, 12 blocks, 12 heads)"
    int numClasses = 0;          // 0: no classifier head (e.g. DINO backbones)
    int embeddingDim = 0;        // without a classifier: the size of the image embedding the model outputs
    bool promptClasses = false;  // classes from a text tower's prompts (VisionTransformer::setPromptClasses)
    // SigLIP's prompts: each class's probability is the sigmoid of its own score, the
    // classes are not exclusive; else a softmax over the classes.
    bool sigmoidScores = false;
    std::optional<double> reportedAccuracy;  // from config.json's "evaluation", if any
    std::string reportedOn;
    std::vector<std::string> labels;
    Preprocessing preprocessing;
    // What config.json said: its path ("" without one), its architecture name, and the
    // fields that were read from it.
    std::string configPath;
    std::string configArchitecture;
    std::vector<std::string> configFields;
    // What a user should know about the weights that does not stop them from loading,
    // one line each (tensors holding NaN or infinity); the CLI prints these on stderr,
    // the window in the model's pane.
    std::vector<std::string> warnings;

    // ViT
    int depth = 0;  // ViT: blocks; CNN: weighted layers on the main path (ResNet-50: 50)
    int heads = 0;
    int embedDim = 0;
    int patchSize = 0;       // input pixels per token, a conv stem's strides included
    int convStemLayers = 0;  // a hybrid's ConvStem: convolutions before the patch projection
    bool hasClsToken = true;
    bool hasDistToken = false;  // DeiT distilled: logits = mean of head and head_dist
    int regTokens = 0;
    bool noEmbedClass = false;           // pos_embed covers patches only
    bool registersUnpositioned = false;  // pos_embed covers cls + patches, not the registers (HF DINOv2)
    bool headOnClsAndMean = false;       // classifier reads [cls, mean of patches] (HF DINOv2)
    ViTMlp mlp = ViTMlp::Gelu;
    bool avgPool = false;  // global average pooling (fc_norm) instead of CLS
    // The head pools the last tokens by a learned latent query's attention instead
    // (SigLIP; timm's global_pool 'map', HF's SiglipMultiheadAttentionPoolingHead).
    bool attentionPool = false;
    std::array<int, 2> posGrid{0, 0};  // patch grid the position embedding was trained on
    // How the position embedding is resampled for another grid (bicubic in every library):
    // timm's resample_abs_pos_embed antialiases; HF's interpolate_pos_encoding does not;
    // torchvision's interpolate_embeddings aligns corners. Set from the naming.
    struct {
        bool antialias = true;
        bool alignCorners = false;
    } posResampling;
    double layerNormEps = 1e-6;

    // CNN
    // Every conv and pool (state-dict names) and every recorded output, in forward
    // order, with the field its units see; computed from the network's description.
    std::vector<ReceptiveField> receptiveFields;
    std::vector<std::string> stages;  // the recorded stage outputs in forward order

    int prefixTokens() const { return int(hasClsToken) + int(hasDistToken) + regTokens; }
    // The prefix tokens pos_embed has entries for.
    int positionedPrefix() const { return noEmbedClass ? 0 : prefixTokens() - (registersUnpositioned ? regTokens : 0); }
};

}  // namespace attnviz::engine
