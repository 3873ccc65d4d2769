// loadClassifier(): from a model path to a ready Classifier of the right family.
#include "core/engine/cnn/families.h"
#include "core/engine/engineerror.h"
#include "core/engine/loading/layoutguess.h"
#include "core/engine/model/classifier.h"
#include "core/engine/model/device.h"
#include "core/engine/text/prompts.h"
#include "core/engine/vit/families.h"
#include "core/engine/vit/vit.h"

#include "core/io/bytes.h"
#include "core/io/checkpointfile.h"
#include "core/io/labels.h"

#include <algorithm>
#include <cmath>

namespace attnviz::engine {
namespace {

void expectAgrees(const std::optional<int>& configValue, int actual, const char* what, const io::ModelConfig& c)
{
    if (configValue && *configValue != actual)
        throw EngineError("config '" + c.path + "' says " + what + " = " + std::to_string(*configValue)
                          + " but the weights have " + std::to_string(actual));
}

int isqrtExact(int64_t n)
{
    const auto r = int64_t(std::llround(std::sqrt(double(n))));
    return r * r == n ? int(r) : -1;
}

int defaultHeads(int embedDim)
{
    switch (embedDim) {
    case 192: return 3;
    case 384: return 6;
    case 768: return 12;
    case 1024:  // ViT-L
    case 1280:  // ViT-H/14
    case 1152:  // SigLIP So400m (head dim 72)
        return 16;
    default: return embedDim % 64 == 0 ? embedDim / 64 : 0;
    }
}

void resolveHeads(ModelSpec& spec, const io::ModelConfig& config, int override)
{
    spec.heads = override > 0 ? override : config.numHeads.value_or(defaultHeads(spec.embedDim));
    if (spec.heads <= 0)
        throw EngineError("cannot tell the number of heads of a ViT with embed_dim " + std::to_string(spec.embedDim)
                          + "; give it with --heads N or num_heads in config.json");
    if (spec.embedDim % spec.heads != 0)
        throw EngineError("embed_dim " + std::to_string(spec.embedDim) + " is not divisible by "
                          + std::to_string(spec.heads) + " heads");
}

// Which grid the position embedding belongs to, and whether it covers the prefix tokens.
void resolvePositionGrid(ModelSpec& spec, int64_t posLength, const io::ModelConfig& config)
{
    const int prefix = spec.prefixTokens() - (spec.registersUnpositioned ? spec.regTokens : 0);
    if (config.preprocess.inputSize) {
        const int gh = (*config.preprocess.inputSize)[1] / spec.patchSize;
        const int gw = (*config.preprocess.inputSize)[2] / spec.patchSize;
        if (posLength == int64_t(gh) * gw + prefix || posLength == int64_t(gh) * gw) {
            spec.noEmbedClass = posLength == int64_t(gh) * gw && prefix > 0;
            spec.posGrid = {gh, gw};
            return;
        }
    }
    if (int g = isqrtExact(posLength - prefix); g > 0) {
        spec.posGrid = {g, g};
    } else if (int g0 = isqrtExact(posLength); g0 > 0) {
        spec.noEmbedClass = true;
        spec.posGrid = {g0, g0};
    } else {
        throw EngineError("position embedding of length " + std::to_string(posLength)
                          + " fits no square patch grid with " + std::to_string(prefix)
                          + " prefix token(s); give input_size in config.json");
    }
}

// BEiT: the grid its relative position bias table [(2W-1)^2 + 3, heads] covers.
void resolveRelativeGrid(ModelSpec& spec, const torch::Tensor& table)
{
    if (!table.defined())
        throw EngineError("ViT checkpoint has neither a position embedding nor relative position bias tables");
    const int side = isqrtExact(table.size(0) - 3);
    if (side <= 0 || side % 2 == 0)
        throw EngineError("relative position bias table of " + std::to_string(table.size(0))
                          + " rows fits no square patch grid");
    if (table.size(1) != spec.heads)
        throw EngineError("relative position bias table has " + std::to_string(table.size(1)) + " heads, the model "
                          + std::to_string(spec.heads));
    spec.posGrid = {(side + 1) / 2, (side + 1) / 2};
}

// Where config.json does not say: torchvision's preprocessing (resize 256, crop 224,
// bilinear, ImageNet mean/std), a ViT's at its position grid's size and as its family's
// code does it (vit/families.cpp).
Preprocessing defaultPreprocessing(const ModelSpec& spec, const ViTFamily* vitFamily)
{
    Preprocessing p;
    p.inputSize = {spec.preprocessing.inputSize[0], 224, 224};
    if (vitFamily) {
        p.inputSize[1] = spec.posGrid[0] * spec.patchSize;
        p.inputSize[2] = spec.posGrid[1] * spec.patchSize;
        vitFamily->preprocessing(spec, p);
    }
    if (p.inputSize[0] == 1) {
        p.mean.resize(1);
        p.std.resize(1);
    }
    return p;
}

void applyConfigPreprocessing(Preprocessing& p, const io::PreprocessConfig& c)
{
    if (c.inputSize)
        p.inputSize = *c.inputSize;
    if (c.interpolation)
        p.interpolation = *c.interpolation;
    if (c.cropPct)
        p.cropPct = *c.cropPct;
    if (c.mean)
        p.mean = *c.mean;
    if (c.std)
        p.std = *c.std;
    if (c.cropMode)
        p.squash = *c.cropMode == "squash";
    if (c.cropMode && *c.cropMode != "squash" && *c.cropMode != "center")
        throw EngineError("unsupported crop_mode '" + *c.cropMode + "' (use center or squash)");
    if (p.interpolation != "bilinear" && p.interpolation != "bicubic" && p.interpolation != "nearest")
        throw EngineError("unsupported interpolation '" + p.interpolation + "' (use bilinear, bicubic or nearest)");
    if (!(p.cropPct > 0.0 && p.cropPct <= 1.0) || p.inputSize[1] <= 0 || p.inputSize[2] <= 0)
        throw EngineError("bad preprocessing: input size and crop_pct must be positive (crop_pct <= 1)");
}

// The config.json fields this loader uses that the file has, for `info`.
std::vector<std::string> fieldsRead(const io::ModelConfig& c)
{
    std::vector<std::string> out;
    const auto add = [&out](bool present, const char* name) {
        if (present)
            out.emplace_back(name);
    };
    add(!c.architecture.empty(), "architecture");
    add(c.numClasses.has_value(), "num_classes");
    add(!c.labelNames.empty(), "label_names");
    add(c.numHeads.has_value(), "num_heads");
    add(c.embedDim.has_value(), "embed_dim");
    add(c.depth.has_value(), "depth");
    add(c.patchSize.has_value(), "patch_size");
    add(c.layerNormEps.has_value(), "layer_norm_eps");
    add(c.globalPool.has_value(), "global_pool");
    add(c.stemStride.has_value(), "stem_stride");
    add(c.stemPool.has_value(), "stem_pool");
    const auto& p = c.preprocess;
    add(p.inputSize.has_value(), "input_size");
    add(p.interpolation.has_value(), "interpolation");
    add(p.cropPct.has_value(), "crop_pct");
    add(p.cropMode.has_value(), "crop_mode");
    add(p.mean.has_value(), "mean");
    add(p.std.has_value(), "std");
    return out;
}

// Preprocessing, labels and the class count, checked against config.json.
void finishSpec(ModelSpec& spec, const io::ModelConfig& config, int weightChannels,
                const ViTFamily* vitFamily = nullptr)
{
    expectAgrees(config.numClasses, spec.numClasses, "num_classes", config);
    spec.labels = io::labelsFor(config, spec.numClasses);
    spec.reportedAccuracy = config.evaluatedAccuracy;
    spec.reportedOn = config.evaluatedOn;
    spec.configPath = config.present ? config.path : std::string();
    spec.configArchitecture = config.architecture;
    spec.configFields = fieldsRead(config);
    spec.preprocessing = defaultPreprocessing(spec, vitFamily);
    applyConfigPreprocessing(spec.preprocessing, config.preprocess);
    auto& p = spec.preprocessing;
    if (p.inputSize[0] != weightChannels)
        throw EngineError("config says " + std::to_string(p.inputSize[0]) + " input channels but the weights take "
                          + std::to_string(weightChannels));
    if (int(p.mean.size()) != weightChannels || int(p.std.size()) != weightChannels)
        throw EngineError("config mean/std must have one value per input channel (" + std::to_string(weightChannels)
                          + ")");
}

// LoadOptions::inputSize replaces the preprocessing's size.
void applyInputSize(ModelSpec& spec, const LoadOptions& options)
{
    const auto [h, w] = options.inputSize;
    if (h <= 0 || w <= 0)
        return;
    if (spec.family == Family::ViT && (h % spec.patchSize != 0 || w % spec.patchSize != 0))
        throw EngineError("input size " + std::to_string(h) + "x" + std::to_string(w) + " is not a multiple of the "
                          + std::to_string(spec.patchSize) + "-pixel patch");
    if (spec.family == Family::ViT) {
        // The trace keeps every block's queries and keys [T, D] each (AttentionRecord):
        // bound what a size may cost.
        const int gridH = h / spec.patchSize;
        const int gridW = w / spec.patchSize;
        const double tokens = double(gridH) * double(gridW) + spec.prefixTokens();
        const double bytes = 4.0 * spec.depth * 2.0 * tokens * spec.embedDim;
        constexpr double kLimit = 2.0 * (1 << 30);
        if (bytes > kLimit)
            throw EngineError("input size " + std::to_string(h) + "x" + std::to_string(w) + " gives "
                              + std::to_string(int(tokens)) + " tokens: every block's queries and keys would take "
                              + std::to_string(int(bytes / (1 << 20))) + " MB (at most 2048 MB)");
    }
    spec.preprocessing.inputSize[1] = h;
    spec.preprocessing.inputSize[2] = w;
}

// Floating-point tensors holding NaN or infinity: the model loads, but what it shows may
// be NaN, so the user is told which weights are broken.
std::vector<std::string> weightWarnings(const io::TensorMap& tensors)
{
    constexpr std::size_t kNamed = 5;
    std::vector<std::string> bad;
    for (const auto& [name, tensor] : tensors)
        if (io::holdsNonFinite(tensor))
            bad.push_back(io::printable(name));
    if (bad.empty())
        return {};
    std::string names;
    for (std::size_t i = 0; i < std::min(bad.size(), kNamed); ++i)
        names += (i ? ", " : "") + bad[i];
    if (bad.size() > kNamed)
        names += " and " + std::to_string(bad.size() - kNamed) + " more";
    return {std::to_string(bad.size()) + (bad.size() == 1 ? " tensor holds" : " tensors hold")
            + " NaN or infinite values: " + names};
}

// CLIP's and SigLIP's text half, where the checkpoint has one. One it cannot read is a
// warning, not a refusal: the image tower works without it.
std::unique_ptr<text::TextTower> readTextTowerOrWarn(WeightSource& source, const io::ModelConfig& config,
                                                     ModelSpec& spec)
{
    try {
        return text::readTextTower(source, config);
    } catch (const EngineError& e) {
        spec.warnings.push_back(std::string("text tower not read: ") + e.what());
        source.ignoreAllUnder(text::textTowerKeyPrefixes());
        return nullptr;
    }
}

struct FolderPrompts {
    torch::Tensor classes;  // [K, E], the folder's zero-shot classes, or undefined
    torch::Tensor neutral;  // [E], a SigLIP's neutral prompt (PromptEncoder::neutralPrompt), or undefined
};

// What a text tower's folder embeds at load time, once: the zero-shot classes it names for
// itself (io::ZeroShotConfig) and, for a SigLIP, the neutral prompt whose map LeGrad
// subtracts from every prompt's, however the prompts are given later. Both need the
// tokenizer beside the weights; without it (or when a label does not fit the tower's
// context) the classes are a warning and the image tower works without them.
FolderPrompts embedFolderPrompts(const text::TextTower* tower, const io::ModelConfig& config, ModelSpec& spec)
{
    const auto& z = config.zeroShot;
    if (!z.labels.empty() && !tower)
        spec.warnings.emplace_back("zero_shot classes not made: the model has no usable text tower");
    const bool wantsNeutral = tower && tower->spec().score == text::TextScore::Sigmoid;
    if (!tower || config.path.empty() || (z.labels.empty() && !wantsNeutral))
        return {};
    try {
        text::PromptEncoder encoder(*tower, text::findTokenizer(*tower, text::tokenizerFolder(config.path)));
        FolderPrompts out;
        out.neutral = encoder.neutralPrompt();
        if (!z.labels.empty())
            out.classes = encoder.classEmbeddings(z.labels, z.templates);
        return out;
    } catch (const EngineError& e) {
        if (!z.labels.empty())
            spec.warnings.push_back(std::string("zero_shot classes not made: ") + e.what());
        return {};  // a SigLIP without its tokenizer takes no prompts at all
    }
}

std::unique_ptr<Classifier> buildViT(WeightSource& source, const ViTFamily& family, const io::ModelConfig& config,
                                     const LoadOptions& options, std::vector<std::string> warnings)
{
    ModelSpec spec;
    spec.warnings = std::move(warnings);
    auto weights = readViT(family, source, config, spec);
    auto textTower = readTextTowerOrWarn(source, config, spec);
    const auto naming = spec.naming;
    source.expectAllTaken("ViT (" + namingName(naming) + " naming)");
    const int channels = spec.preprocessing.inputSize[0];
    expectAgrees(config.embedDim, spec.embedDim, "embed_dim", config);
    expectAgrees(config.depth, spec.depth, "depth", config);
    expectAgrees(config.patchSize, spec.patchSize, "patch_size", config);
    resolveHeads(spec, config, options.heads);
    spec.layerNormEps = family.layerNormEps;
    if (naming == Naming::HF)
        spec.layerNormEps = config.layerNormEps.value_or(spec.layerNormEps);
    spec.posResampling.antialias = family.antialiasesPositions(spec);
    spec.posResampling.alignCorners = naming == Naming::Torchvision;
    if (config.globalPool == std::string("avg"))
        spec.avgPool = true;
    if (weights.posEmbed.defined())
        resolvePositionGrid(spec, weights.posEmbed.size(1), config);
    else
        resolveRelativeGrid(spec, weights.blocks.front().relTable);
    finishSpec(spec, config, channels, &family);
    applyInputSize(spec, options);
    spec.description = vitDescription(spec);
    if (textTower && textTower->spec().embedDim != spec.embeddingDim) {
        spec.warnings.push_back("text tower not used: its projection gives "
                                + std::to_string(textTower->spec().embedDim) + "-d embeddings, the image tower "
                                + std::to_string(spec.embeddingDim) + "-d ones");
        textTower.reset();
    }
    const auto prompts = embedFolderPrompts(textTower.get(), config, spec);
    auto vit = std::make_unique<VisionTransformer>(std::move(spec), std::move(weights));
    vit->setTextTower(std::move(textTower));
    vit->setNeutralPrompt(prompts.neutral);
    if (prompts.classes.defined())
        vit->setPromptClasses(prompts.classes, config.zeroShot.labels);
    return vit;
}

std::unique_ptr<Classifier> buildCNN(WeightSource& source, const cnn::FamilyReader& family,
                                     const io::ModelConfig& config, const LoadOptions& options,
                                     std::vector<std::string> warnings)
{
    ModelSpec spec;
    spec.warnings = std::move(warnings);
    auto network = family.read(source, config, spec);
    source.expectAllTaken(spec.variant.empty() ? std::string(family.architecture) : spec.variant);
    finishSpec(spec, config, spec.preprocessing.inputSize[0]);
    applyInputSize(spec, options);
    return std::make_unique<cnn::ConvNet>(std::move(spec), std::move(network));
}

}  // namespace

std::unique_ptr<Classifier> loadClassifier(const std::string& modelPath, const LoadOptions& options)
{
    parseDevice(options.device);  // a bad device fails before a large file is read
    auto ckpt = io::loadCheckpoint(modelPath);
    if (!ckpt.config.present)
        ckpt.config.path = modelPath;
    try {
        return buildClassifier(ckpt.tensors, ckpt.config, options);
    } catch (const EngineError& e) {
        throw EngineError("'" + modelPath + "': " + e.what());
    }
}

std::string familyMismatch(const ModelSpec& spec, Family wanted, const std::string& modelPath)
{
    if (spec.family == wanted)
        return {};
    return "'" + modelPath + "' is a " + spec.description + ", not a " + (wanted == Family::ViT ? "ViT" : "CNN");
}

std::unique_ptr<Classifier> buildClassifier(const io::TensorMap& tensors, const io::ModelConfig& config,
                                            const LoadOptions& options)
{
    const auto device = parseDevice(options.device);
    WeightSource source(tensors);
    std::unique_ptr<Classifier> model;
    if (const auto* vit = findViTFamily(source)) {
        model = buildViT(source, *vit, config, options, weightWarnings(tensors));
    } else {
        for (const auto& family : cnn::familyReaders())
            if (family.matches(source)) {
                model = buildCNN(source, family, config, options, weightWarnings(tensors));
                break;
            }
    }
    if (!model)
        throw EngineError("not a layout attnviz knows (the README lists them); " + nearestLayout(tensors));
    model->to(device);
    return model;
}

}  // namespace attnviz::engine
