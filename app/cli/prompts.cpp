#include "app/cli/prompts.h"

#include "core/engine/engineerror.h"
#include "core/engine/text/prompts.h"
#include "core/engine/vit/vit.h"
#include "core/io/labels.h"

#include <chrono>
#include <type_traits>
#include <variant>

namespace attnviz::cli {
namespace {

constexpr std::size_t kListedClasses = 100;

}  // namespace

void checkPromptOptions(const Arguments& args)
{
    for (const char* option : {"text", "labels", "template"})
        if (args.value(option) && !args.value("vit"))
            throw UsageError(std::string("--") + option + " needs --vit MODEL (a CLIP or SigLIP model)");
}

std::optional<PromptClasses> applyPrompts(const Arguments& args, engine::Classifier& model,
                                          const std::string& modelPath)
{
    const auto texts = args.values("text");
    const auto labelsFile = args.value("labels");
    auto templates = args.values("template");
    if (texts.empty() && !labelsFile && templates.empty())
        return std::nullopt;
    if (!texts.empty() && (labelsFile || !templates.empty()))
        throw UsageError("give prompts with --text, or classes with --labels / --template, not both");
    auto* vit = dynamic_cast<engine::VisionTransformer*>(&model);
    if (!vit || !vit->textTower())
        throw UsageError("'" + modelPath
                         + "' has no text tower: --text, --labels and --template need a CLIP or "
                           "SigLIP model");
    const auto start = std::chrono::steady_clock::now();
    const auto& tower = *vit->textTower();
    engine::text::PromptEncoder encoder(tower,
                                        engine::text::findTokenizer(tower, engine::text::tokenizerFolder(modelPath)));
    PromptClasses out;
    if (!texts.empty()) {
        out.labels = texts;
        out.ids = encoder.ids(texts);
        out.embeddings = encoder.embed(texts);
    } else {
        if (templates.empty())
            templates = {"a photo of a {}."};
        out.labels = labelsFile ? io::readLabelFile(*labelsFile) : io::imagenetLabels();
        out.templates = templates;
        out.embeddings = encoder.classEmbeddings(out.labels, templates);
    }
    vit->setPromptClasses(out.embeddings, out.labels);
    out.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    return out;
}

nlohmann::ordered_json tokenizerJson(const engine::Classifier& model, const std::string& modelPath)
{
    const auto* tower = engine::textTowerOf(model);
    if (!tower)
        return nullptr;
    try {
        const auto tokenizer = engine::text::findTokenizer(*tower, engine::text::tokenizerFolder(modelPath));
        const auto file = std::visit(
            [](const auto& t) -> std::string {
                if constexpr (std::is_same_v<std::decay_t<decltype(t)>, engine::text::ClipTokenizer>)
                    return t.vocabulary().source;
                else
                    return t.source();
            },
            tokenizer);
        return {{"file", file}};
    } catch (const engine::EngineError& e) {
        return {{"missing", e.what()}};
    }
}

nlohmann::ordered_json promptsJson(const PromptClasses& prompts, const engine::ModelSpec& spec,
                                   const torch::Tensor& logits)
{
    const auto scores = logits.reshape({-1}).to(torch::kFloat64);
    const auto probabilities = spec.sigmoidScores ? torch::sigmoid(scores) : torch::softmax(scores, 0);
    nlohmann::ordered_json j;
    j[prompts.templates.empty() ? "texts" : "labels"] = prompts.labels.size();
    if (!prompts.templates.empty())
        j["templates"] = prompts.templates;
    j["probability"] = spec.sigmoidScores ? "sigmoid of each score" : "softmax over the scores";
    if (prompts.labels.size() <= kListedClasses) {  // beyond, top_k ranks them
        auto rows = nlohmann::ordered_json::array();
        for (std::size_t i = 0; i < prompts.labels.size(); ++i)
            rows.push_back({{"label", prompts.labels[i]},
                            {"score", scores[int64_t(i)].item<double>()},
                            {"probability", probabilities[int64_t(i)].item<double>()}});
        j["scores"] = rows;
    }
    j["text_ms"] = prompts.ms;
    return j;
}

}  // namespace attnviz::cli
