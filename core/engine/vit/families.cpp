#include "core/engine/vit/families.h"

#include "core/engine/text/texttower.h"

namespace attnviz::engine {
namespace {

// CLIP's: the shortest side to the size, a centre crop, bicubic, CLIP's mean and std.
void clipPreprocessing(const ModelSpec&, Preprocessing& p)
{
    p.interpolation = "bicubic";
    p.cropPct = 1.0;
    p.mean = {0.48145466, 0.4578275, 0.40821073};
    p.std = {0.26862954, 0.26130258, 0.27577711};
}

// timm's defaults for ViT, DeiT and DINO; CLIP's for timm's CLIP towers.
void timmPreprocessing(const ModelSpec& spec, Preprocessing& p)
{
    if (spec.architecture == "clip") {
        clipPreprocessing(spec, p);
        return;
    }
    p.interpolation = "bicubic";
    p.cropPct = 0.9;
}

void torchvisionPreprocessing(const ModelSpec&, Preprocessing&) { }  // resize 256, crop 224, bilinear

// HF's ViTImageProcessor and SiglipImageProcessor: the image squashed to the size, mean
// and std 0.5; SigLIP's bicubic.
void hfViTPreprocessing(const ModelSpec&, Preprocessing& p)
{
    p.cropPct = 1.0;
    p.squash = true;
    p.mean = {0.5, 0.5, 0.5};
    p.std = {0.5, 0.5, 0.5};
}

void hfSiglipPreprocessing(const ModelSpec& spec, Preprocessing& p)
{
    hfViTPreprocessing(spec, p);
    p.interpolation = "bicubic";
}

// HF DINOv2's BitImageProcessor: torchvision's resize and crop, bicubic.
void hfDinov2Preprocessing(const ModelSpec&, Preprocessing& p)
{
    p.interpolation = "bicubic";
}

bool always(const ModelSpec&)
{
    return true;
}
bool never(const ModelSpec&)
{
    return false;
}
// HF's Dinov2WithRegisters antialiases where its Dinov2, ViT and CLIP do not.
bool withRegisters(const ModelSpec& spec)
{
    return spec.regTokens > 0;
}

bool timmKeys(const WeightSource& s)
{
    return s.has("patch_embed.proj.weight");
}
bool torchvisionKeys(const WeightSource& s)
{
    return s.has("conv_proj.weight") && s.has("encoder.pos_embedding");
}
bool hfDinov2Keys(const WeightSource& s)
{
    return s.has("embeddings.patch_embeddings.projection.weight") && s.has("encoder.layer.0.norm1.weight");
}
bool hfViTKeys(const WeightSource& s)
{
    return s.has("embeddings.patch_embeddings.projection.weight");
}
bool hfClipKeys(const WeightSource& s)
{
    return s.has("vision_model.embeddings.patch_embedding.weight") && s.has("vision_model.embeddings.class_embedding");
}
bool hfSiglipKeys(const WeightSource& s)
{
    return s.has("vision_model.embeddings.patch_embedding.weight");
}
bool openClipKeys(const WeightSource& s)
{
    return s.has("visual.conv1.weight") && s.has("visual.class_embedding");
}

}  // namespace

const std::vector<ViTFamily>& vitFamilies()
{
    // LayerNorm eps: timm, torchvision and DINOv2 1e-6, CLIP 1e-5, HF ViT 1e-12.
    static const std::vector<ViTFamily> families{
        // timm (also DeiT, DINO, DINOv2, BEiT, CLIP and SigLIP towers): patch_embed.proj, blocks.i
        {"timm", Naming::Timm, "vit", timmKeys, readTimmViT, 1e-6, timmPreprocessing, always},
        // torchvision VisionTransformer: conv_proj, encoder.layers.encoder_layer_i
        {"torchvision", Naming::Torchvision, "vit", torchvisionKeys, readTorchvisionViT, 1e-6, torchvisionPreprocessing,
         never},
        // HF Dinov2Model, Dinov2WithRegistersModel, Dinov2ForImageClassification: encoder.layer.i.norm1
        {"hf-dinov2", Naming::HF, "dinov2", hfDinov2Keys, readHfDinov2, 1e-6, hfDinov2Preprocessing, withRegisters},
        // HF ViTModel / ViTForImageClassification: encoder.layer.i.layernorm_before
        {"hf-vit", Naming::HF, "vit", hfViTKeys, readHfViT, 1e-12, hfViTPreprocessing, never},
        // HF CLIPVisionModel / CLIPModel (the text tower is ignored): vision_model.*, a class embedding
        {"hf-clip", Naming::HF, "clip", hfClipKeys, readHfClip, 1e-5, clipPreprocessing, never},
        // HF SiglipVisionModel / SiglipModel (the text tower is ignored): vision_model.*, no class embedding
        {"hf-siglip", Naming::HF, "siglip", hfSiglipKeys, readHfSiglip, 1e-6, hfSiglipPreprocessing, never},
        // open_clip CLIP (visual.*; the text tower is ignored)
        {"open_clip", Naming::OpenCLIP, "clip", openClipKeys, readOpenClip, 1e-5, clipPreprocessing, always},
    };
    return families;
}

const ViTFamily* findViTFamily(const WeightSource& source)
{
    for (const auto& family : vitFamilies())
        if (family.matches(source))
            return &family;
    return nullptr;
}

ViTWeights readViT(const ViTFamily& family, WeightSource& source, const io::ModelConfig& config, ModelSpec& spec)
{
    spec.architecture = family.architecture;
    auto weights = family.read(source, config, spec);
    spec.family = Family::ViT;
    spec.naming = family.naming;
    finishViTSpec(weights, config, spec);
    return weights;
}

std::string vitKind(const ModelSpec& spec, const text::TextTower* tower)
{
    static const std::pair<const char*, const char*> kinds[] = {{"clip", "CLIP ViT"},
                                                                {"siglip", "SigLIP ViT"},
                                                                {"dinov2", "DINOv2 ViT"},
                                                                {"beit", "BEiT"}};
    for (const auto& [architecture, kind] : kinds)
        if (spec.architecture == architecture)
            return kind;
    if (tower)
        return tower->spec().score == text::TextScore::Sigmoid ? "SigLIP ViT" : "CLIP ViT";
    return "ViT";
}

std::string vitDescription(const ModelSpec& s, const text::TextTower* tower)
{
    std::string name = vitKind(s, tower) + " (" + namingName(s.naming) + " naming, " + std::to_string(s.depth)
                       + " blocks, " + std::to_string(s.heads) + " heads, dim " + std::to_string(s.embedDim)
                       + ", patch " + std::to_string(s.patchSize);
    if (s.convStemLayers)
        name += " through a " + std::to_string(s.convStemLayers) + "-layer ConvStem";
    if (s.hasDistToken)
        name += ", distilled";
    if (s.regTokens)
        name += ", " + std::to_string(s.regTokens) + " registers";
    if (s.mlp != ViTMlp::Gelu)
        name += s.mlp == ViTMlp::QuickGelu ? ", QuickGELU" : s.mlp == ViTMlp::SwiGlu ? ", SwiGLU" : ", tanh GELU";
    if (s.attentionPool)
        name += ", attention-pool head";
    if (s.promptClasses)
        name += ", " + std::to_string(s.numClasses) + (s.numClasses == 1 ? " prompt class" : " prompt classes");
    else if (s.numClasses == 0)
        name += ", outputs a " + std::to_string(s.embeddingDim) + "-d embedding";
    return name + ")";
}

}  // namespace attnviz::engine
