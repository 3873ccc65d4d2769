#pragma once

// The ViT checkpoint layouts attnviz reads, one row each (families.cpp), as cnn/families.h
// lists the CNNs: how a checkpoint's keys are recognised, how they are read into timm's
// structure, and what the family's own code does where the file does not say.

#include "core/engine/loading/weightsource.h"
#include "core/engine/model/modelspec.h"
#include "core/engine/vit/vitweights.h"
#include "core/io/modelconfig.h"

#include <string>
#include <vector>

namespace attnviz::engine {
namespace text {
class TextTower;
}

struct ViTFamily {
    const char* layout;  // "timm", "torchvision", "hf-vit", "hf-dinov2", "hf-clip", "hf-siglip", "open_clip"
    Naming naming;
    const char* architecture;  // "vit", "dinov2", "clip", "siglip"; timm's reader refines it from the config
    bool (*matches)(const WeightSource& source);
    ViTWeights (*read)(WeightSource& source, const io::ModelConfig& config, ModelSpec& spec);
    double layerNormEps;  // where config.json does not say
    // The family's image processor where the config does not say: interpolation, crop,
    // mean and std (`p` comes with the input size set and torchvision's defaults).
    void (*preprocessing)(const ModelSpec& spec, Preprocessing& p);
    // Whether the family's code antialiases when it resamples the position embedding.
    bool (*antialiasesPositions)(const ModelSpec& spec);
};

// Most specific first: the first whose `matches` accepts a checkpoint is its family.
const std::vector<ViTFamily>& vitFamilies();
const ViTFamily* findViTFamily(const WeightSource& source);  // nullptr: not a ViT's keys

// Reads a checkpoint of `family`: its weights, and the spec's family, naming,
// architecture, shape, tokens, head and MLP.
ViTWeights readViT(const ViTFamily& family, WeightSource& source, const io::ModelConfig& config, ModelSpec& spec);

// What a user is told the model is: "CLIP ViT", "SigLIP ViT", "DINOv2 ViT", "BEiT", "ViT".
// A trunk whose own keys say "ViT" is a CLIP (or SigLIP, by its sigmoid score) when a text
// tower came with it, as an open_clip folder with a timm trunk does.
std::string vitKind(const ModelSpec& spec, const text::TextTower* tower = nullptr);
// The spec's one-line description: the kind, then naming, blocks, heads, width, patch and
// what sets the model apart, e.g. "CLIP ViT (open_clip naming, 12 blocks, ..., QuickGELU,
// outputs a 512-d embedding)".
std::string vitDescription(const ModelSpec& spec, const text::TextTower* tower = nullptr);

}  // namespace attnviz::engine
