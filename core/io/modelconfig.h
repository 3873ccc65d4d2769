#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

namespace attnviz::io {

// Preprocessing a checkpoint asks for; every field optional (absent = family default).
struct PreprocessConfig {
    std::optional<std::array<int, 3>> inputSize;  // [C, H, W]
    std::optional<std::string> interpolation;     // "bilinear" | "bicubic" | "nearest"
    std::optional<double> cropPct;                // resize to size / crop_pct, then center crop
    std::optional<std::string> cropMode;          // "center" (default) | "squash" (resize to H x W)
    std::optional<std::vector<double>> mean;
    std::optional<std::vector<double>> std;
};

// What a config.json (timm hub, HF transformers or attnviz's own) says about a model.
// Only facts that cannot be read off the weights, or that must agree with them.
// A CLIP or SigLIP text tower's fields: open_clip's model_cfg.text_cfg, HF's text_config.
struct TextConfig {
    std::optional<int> heads;
    std::optional<std::string> hiddenAct;  // HF's names: "quick_gelu", "gelu", "gelu_pytorch_tanh"
    std::optional<double> layerNormEps;
    std::optional<bool> causal;        // open_clip's no_causal_mask, negated
    std::optional<std::string> pool;   // open_clip's pool_type: "argmax", "last"
    std::optional<int> eosTokenId;     // HF CLIP: which token ends a text (2: the highest id)
    std::optional<int> contextLength;  // open_clip's context_length: the tokens a prompt is padded to
    // open_clip's HFTextEncoder: the Hugging Face text model (a BERT-family encoder such as
    // "xlm-roberta-base") and how its outputs become one vector ("mean_pooler", "cls_pooler",
    // "cls_last_hidden_state_pooler"); absent for open_clip's own text transformer.
    std::optional<std::string> hfModelName;
    std::optional<std::string> hfPooler;
};

// The classes a CLIP folder names for itself (open_clip_config.json's "zero_shot":
// {"labels": [...], "templates": ["a {}", ...]}, attnviz's own key, as in models/clip-shapes):
// the model opens as a zero-shot classifier over them.
struct ZeroShotConfig {
    std::vector<std::string> labels;
    std::vector<std::string> templates;  // each with "{}"; CLIP's "a photo of a {}." when none is given
};

struct ModelConfig {
    bool present = false;
    // The config file's path; without one, the weights' path as loadClassifier was given it,
    // so that side files (a text tower's tokenizer) are looked for beside them. Empty for a
    // model built from memory.
    std::string path;
    std::string architecture;  // timm name or HF class, informative
    std::optional<int> numClasses;
    std::optional<int> numHeads;
    std::optional<int> embedDim;
    std::optional<int> depth;
    std::optional<int> patchSize;
    std::optional<double> layerNormEps;
    std::optional<std::string> globalPool;  // "token" | "avg" | ...
    std::optional<std::string> hiddenAct;   // ViT MLP activation: "gelu", "quick_gelu", ... (HF, open_clip)
    std::optional<bool> swiglu;             // HF DINOv2's use_swiglu_ffn
    std::optional<int> stemStride;          // ResNet: conv1 stride (default 2)
    std::optional<bool> stemPool;           // ResNet: max-pool after the stem (default true)
    std::vector<std::string> labelNames;
    PreprocessConfig preprocess;
    TextConfig text;
    ZeroShotConfig zeroShot;
    // What the model's card measured ("evaluation": {"accuracy", "split", "count"}),
    // shown to users beside the model; informative only.
    std::optional<double> evaluatedAccuracy;
    std::string evaluatedOn;  // e.g. "t10k, 10000 images"
};

// Parses config.json (and, for HF folders, preprocessor_config.json beside it when
// `preprocessorPath` is non-empty), or open_clip's open_clip_config.json. A CLIPModel's
// vision_config supplies the image tower's fields. Throws io::FormatError with a
// one-line reason.
ModelConfig parseModelConfig(const std::string& path, const std::string& preprocessorPath = {});

// Writes `config` as a timm-style config.json (architecture, num_classes, label_names,
// model_args, pretrained_cfg) plus `extraJson` (a JSON object text, e.g. how the model
// was trained) merged at the top level; atomically, like every file attnviz writes.
void writeModelConfig(const std::string& path, const ModelConfig& config, const std::string& extraJson = "{}");

}  // namespace attnviz::io
