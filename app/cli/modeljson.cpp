#include "app/cli/modeljson.h"

#include "core/engine/vit/vit.h"

namespace attnviz::cli {

nlohmann::ordered_json specJson(const engine::ModelSpec& s)
{
    const bool vit = s.family == engine::Family::ViT;
    nlohmann::ordered_json j;
    j["family"] = engine::familyName(s.family);
    j["architecture"] = s.architecture;
    j["variant"] = s.variant;
    j["naming"] = engine::namingName(s.naming);
    j["description"] = s.description;
    j["depth"] = s.depth;
    j["heads"] = vit ? nlohmann::ordered_json(s.heads) : nlohmann::ordered_json();
    j["embed_dim"] = s.embedDim;
    j["patch_size"] = vit ? nlohmann::ordered_json(s.patchSize) : nlohmann::ordered_json();
    j["input_size"] = s.preprocessing.inputSize;
    j["prefix_tokens"] = vit ? s.prefixTokens() : 0;
    j["num_classes"] = s.numClasses;
    j["embedding_dim"] = s.numClasses > 0 ? nlohmann::ordered_json() : nlohmann::ordered_json(s.embeddingDim);
    j["preprocessing"] = {{"interpolation", s.preprocessing.interpolation},
                          {"crop_pct", s.preprocessing.cropPct},
                          {"mean", s.preprocessing.mean},
                          {"std", s.preprocessing.std}};
    j["config"] = s.configPath.empty() ? nlohmann::ordered_json()
                                       : nlohmann::ordered_json{{"path", s.configPath},
                                                                {"architecture", s.configArchitecture},
                                                                {"fields_read", s.configFields}};
    j["warnings"] = s.warnings;
    if (vit) {
        j["tokens"] = {{"cls", s.hasClsToken}, {"dist", s.hasDistToken}, {"registers", s.regTokens}};
        j["pos_embed_grid"] = s.posGrid;
        j["mlp"] = engine::mlpName(s.mlp);
        // What the head reads: the CLS token, the patch mean, both (HF DINOv2), or a
        // latent query's attention over every token (SigLIP).
        j["pool"] = s.attentionPool ? "attention" : s.headOnClsAndMean ? "cls+mean" : s.avgPool ? "mean" : "cls";
    } else {
        j["stages"] = s.stages;
    }
    return j;
}

nlohmann::ordered_json textTowerJson(const engine::Classifier& model)
{
    const auto* tower = engine::textTowerOf(model);
    if (!tower)
        return nullptr;
    const auto& s = tower->spec();
    return {{"layout", s.layout},
            {"width", s.width},
            {"layers", s.layers},
            {"heads", s.heads},
            {"context_length", s.context},
            {"vocab_size", s.vocabulary},
            {"embed_dim", s.embedDim},
            {"causal", s.causal},
            {"score", s.score == engine::text::TextScore::Sigmoid ? "sigmoid" : "softmax"}};
}

nlohmann::ordered_json predictionsJson(const std::vector<engine::Prediction>& predictions)
{
    auto out = nlohmann::ordered_json::array();
    for (const auto& p : predictions)
        out.push_back({{"index", p.index}, {"label", p.label}, {"probability", p.probability}});
    return out;
}

}  // namespace attnviz::cli
