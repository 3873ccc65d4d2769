#include "core/engine/text/prompts.h"

#include "core/engine/engineerror.h"
#include "core/io/bytes.h"

#include <algorithm>
#include <filesystem>

namespace attnviz::engine::text {
namespace {

// For messages: the prompt, cut at 60 characters.
std::string quoted(const std::string& prompt)
{
    const auto printable = io::printable(prompt);
    return "'" + (printable.size() > 60 ? printable.substr(0, 57) + "..." : printable) + "'";
}

}  // namespace

std::string tokenizerFolder(const std::string& modelPath)
{
    return std::filesystem::is_directory(modelPath) ? modelPath
                                                    : std::filesystem::path(modelPath).parent_path().string();
}

Tokenizer findTokenizer(const TextTower& tower, const std::string& folder)
{
    const auto sentencePiece = [&folder](const char* file, const char* whose, SentencePieceStyle style) {
        const auto path = std::filesystem::path(folder) / file;
        if (!std::filesystem::exists(path))
            throw EngineError(std::string("no ") + whose + " tokenizer in " + io::printable(folder)
                              + ": put its SentencePiece model " + file + " beside the weights");
        return SentencePieceTokenizer(path.string(), style);
    };
    switch (tower.spec().tokenizer) {
    case TextTokenizerKind::SiglipSentencePiece:
        return sentencePiece("spiece.model", "SigLIP", SentencePieceStyle::Siglip);
    case TextTokenizerKind::XlmrSentencePiece:
        return sentencePiece("sentencepiece.bpe.model", "XLM-RoBERTa", SentencePieceStyle::XlmRoberta);
    case TextTokenizerKind::ClipBpe: break;
    }
    return ClipTokenizer(findClipVocabulary(folder));
}

PromptEncoder::PromptEncoder(const TextTower& tower, Tokenizer tokenizer)
    : m_tower(tower)
    , m_tokenizer(std::move(tokenizer))
{
}

std::vector<int64_t> PromptEncoder::idsOf(const std::string& prompt) const
{
    if (prompt.find_first_not_of(" \t\r\n") == std::string::npos)
        throw EngineError("an empty prompt asks for nothing: give some words");
    const int context = m_tower.spec().context;
    // the text's own ids, and the start and end tokens the tokenizer adds
    const auto [body, framing] = std::visit(
        [&](const auto& t) -> std::pair<std::size_t, std::size_t> {
            return {t.encode(prompt).size(), std::size_t(t.addedTokens())};
        },
        m_tokenizer);
    if (body + framing > std::size_t(context))
        throw EngineError("the prompt " + quoted(prompt) + " is " + std::to_string(body + framing)
                          + " tokens; the text tower reads " + std::to_string(context));
    return std::visit([&](const auto& t) { return t.tokenize(prompt, context); }, m_tokenizer);
}

torch::Tensor PromptEncoder::ids(const std::vector<std::string>& prompts) const
{
    std::vector<int64_t> all;
    for (const auto& p : prompts) {
        const auto ids = idsOf(p);
        all.insert(all.end(), ids.begin(), ids.end());
    }
    return torch::tensor(all, torch::kInt64).view({int64_t(prompts.size()), m_tower.spec().context});
}

torch::Tensor PromptEncoder::embed(const std::vector<std::string>& prompts)
{
    std::vector<std::string> missing;
    for (const auto& p : prompts)
        if (!m_cache.count(p) && std::find(missing.begin(), missing.end(), p) == missing.end())
            missing.push_back(p);
    if (!missing.empty()) {
        torch::NoGradGuard noGrad;  // not inference mode: the classes enter differentiable passes
        const auto embeddings = m_tower.embed(ids(missing)).to(torch::kCPU);
        for (std::size_t i = 0; i < missing.size(); ++i)
            m_cache[missing[i]] = embeddings[int64_t(i)];
    }
    std::vector<torch::Tensor> rows;
    rows.reserve(prompts.size());
    for (const auto& p : prompts)
        rows.push_back(m_cache.at(p));
    return torch::stack(rows);
}

torch::Tensor PromptEncoder::neutralPrompt()
{
    if (m_tower.spec().score != TextScore::Sigmoid)
        return {};
    return embed({"a photo of a"})[0];
}

torch::Tensor PromptEncoder::classEmbeddings(const std::vector<std::string>& labels,
                                             const std::vector<std::string>& templates)
{
    namespace F = torch::nn::functional;
    if (labels.empty() || templates.empty())
        throw EngineError("zero-shot classes need at least one label and one template");
    std::vector<torch::Tensor> classes;
    classes.reserve(labels.size());
    for (const auto& label : labels) {
        std::vector<std::string> texts;
        texts.reserve(templates.size());
        for (const auto& t : templates)
            texts.push_back(fillTemplate(t, label));
        const auto each = F::normalize(embed(texts), F::NormalizeFuncOptions().dim(-1));  // [templates, E]
        classes.push_back(F::normalize(each.mean(0), F::NormalizeFuncOptions().dim(-1)));
    }
    return torch::stack(classes);
}

std::string fillTemplate(const std::string& pattern, const std::string& label)
{
    std::string out;
    std::size_t from = 0;
    for (auto at = pattern.find("{}"); at != std::string::npos; at = pattern.find("{}", from)) {
        out += pattern.substr(from, at - from) + label;
        from = at + 2;
    }
    return out + pattern.substr(from);
}

}  // namespace attnviz::engine::text
