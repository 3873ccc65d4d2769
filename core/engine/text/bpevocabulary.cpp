#include "core/engine/text/bpevocabulary.h"

#include "core/engine/engineerror.h"
#include "core/io/boundedjson.h"
#include "core/io/bytes.h"

#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

namespace attnviz::engine::text {
namespace {

namespace fs = std::filesystem;

// open_clip and OpenAI read merges lines[1 : 49152 - 256 - 2 + 1] of their file, which
// holds more: the vocabulary is 49152 - 2 merged tokens less the 256 bytes, twice.
constexpr std::size_t kOpenClipMerges = 49152 - 256 - 2;
constexpr std::size_t kMaxVocabularyBytes = 64u << 20;

std::string codePointUtf8(unsigned c)
{
    std::string out;
    if (c < 0x80) {
        out.push_back(char(c));
    } else {  // the alphabet stays below U+0800: two bytes
        out.push_back(char(0xC0 | (c >> 6)));
        out.push_back(char(0x80 | (c & 0x3F)));
    }
    return out;
}

// Bytes in the order their tokens take ids: the printable ones, then the moved ones.
std::vector<int> alphabetOrder()
{
    std::vector<int> own, moved;
    for (int b = 0; b < 256; ++b)
        ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE) ? own : moved).push_back(b);
    own.insert(own.end(), moved.begin(), moved.end());
    return own;
}

[[noreturn]] void fail(const std::string& file, const std::string& what)
{
    throw EngineError("tokenizer file " + io::printable(file) + ": " + what);
}

std::string gunzip(const std::string& path)
{
    std::unique_ptr<gzFile_s, int (*)(gzFile)> file(gzopen(path.c_str(), "rb"), &gzclose);
    if (!file)
        fail(path, "cannot be opened");
    std::string out;
    char chunk[1 << 16];
    for (;;) {
        const int got = gzread(file.get(), chunk, sizeof chunk);
        if (got < 0)
            fail(path, "is not a readable gzip file");
        if (got == 0)
            return out;
        out.append(chunk, std::size_t(got));
        if (out.size() > kMaxVocabularyBytes)
            fail(path, "expands to more than " + std::to_string(kMaxVocabularyBytes >> 20) + " MB");
    }
}

std::string readText(const std::string& path)
{
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in)
        fail(path, "cannot be opened");
    if (std::size_t(in.tellg()) > kMaxVocabularyBytes)
        fail(path, "is larger than " + std::to_string(kMaxVocabularyBytes >> 20) + " MB");
    in.seekg(0);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::string> lines(const std::string& text)
{
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        out.push_back(line);
    }
    return out;
}

std::pair<std::string, std::string> mergeOf(const std::string& line, const std::string& file, std::size_t number)
{
    std::istringstream in(line);
    std::string a, b, extra;
    if (!(in >> a >> b) || (in >> extra))
        fail(file, "line " + std::to_string(number) + " is not a merge 'a b': '" + io::printable(line) + "'");
    return {a, b};
}

int64_t idOf(const BpeVocabulary& v, const std::string& token)
{
    const auto it = v.ids.find(token);
    if (it == v.ids.end())
        fail(v.source, "has no token '" + io::printable(token) + "'");
    return it->second;
}

// What every reader checks: the byte alphabet and each merge's result are tokens, so
// that any text encodes; the special tokens are there.
void checkComplete(BpeVocabulary& v)
{
    for (const auto& c : clipByteAlphabet()) {
        idOf(v, c);
        idOf(v, c + "</w>");
    }
    for (const auto& [a, b] : v.merges)
        idOf(v, a + b);
    for (const auto& [token, id] : v.ids)
        if (id < 0 || id >= int64_t(v.ids.size()))
            fail(v.source, "gives '" + io::printable(token) + "' the id " + std::to_string(id) + ", outside 0.."
                               + std::to_string(v.ids.size() - 1));
    v.startId = idOf(v, v.startToken);
    v.endId = idOf(v, v.endToken);
}

void readHfSpecialTokens(BpeVocabulary& v)
{
    v.startToken = "<|startoftext|>";
    v.endToken = "<|endoftext|>";
    checkComplete(v);
    v.padId = v.endId;  // HF's CLIPTokenizer: pad_token = "<|endoftext|>"
}

}  // namespace

const std::array<std::string, 256>& clipByteAlphabet()
{
    static const auto table = [] {
        std::array<std::string, 256> t;
        unsigned next = 256;
        for (const int b : alphabetOrder())
            t[std::size_t(b)] = codePointUtf8(
                (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE ? unsigned(b) : next++);
        return t;
    }();
    return table;
}

BpeVocabulary readOpenClipVocabulary(const std::string& gzPath)
{
    BpeVocabulary v;
    v.source = gzPath;
    const auto all = lines(gunzip(gzPath));
    for (std::size_t i = 1; i < all.size() && v.merges.size() < kOpenClipMerges; ++i)
        if (!(all[i].empty() && i + 1 == all.size()))  // a newline after the last merge
            v.merges.push_back(mergeOf(all[i], gzPath, i + 1));
    std::vector<std::string> tokens;
    for (const int b : alphabetOrder())
        tokens.push_back(clipByteAlphabet()[std::size_t(b)]);
    for (int i = 0; i < 256; ++i)
        tokens.push_back(tokens[std::size_t(i)] + "</w>");
    for (const auto& [a, b] : v.merges)
        tokens.push_back(a + b);
    v.startToken = "<start_of_text>";
    v.endToken = "<end_of_text>";
    tokens.push_back(v.startToken);
    tokens.push_back(v.endToken);
    for (std::size_t i = 0; i < tokens.size(); ++i)
        if (!v.ids.emplace(tokens[i], int64_t(i)).second)
            fail(gzPath, "makes the token '" + io::printable(tokens[i]) + "' twice");
    checkComplete(v);
    v.padId = 0;  // open_clip's tokenize pads with zeros
    return v;
}

namespace {

void readVocabObject(BpeVocabulary& v, const nlohmann::json& vocab)
{
    if (!vocab.is_object())
        fail(v.source, "has no vocabulary object (token -> id)");
    for (const auto& [token, id] : vocab.items()) {
        if (!id.is_number_integer())
            fail(v.source, "gives '" + io::printable(token) + "' the id " + io::describeJson(id));
        v.ids.emplace(token, id.get<int64_t>());
    }
}

}  // namespace

BpeVocabulary readHfVocabulary(const std::string& vocabJson, const std::string& mergesTxt)
{
    BpeVocabulary v;
    v.source = vocabJson;
    readVocabObject(v, io::readJsonFile(vocabJson));
    const auto all = lines(readText(mergesTxt));
    for (std::size_t i = 0; i < all.size(); ++i)
        if (!all[i].empty() && !io::startsWith(all[i], "#version"))
            v.merges.push_back(mergeOf(all[i], mergesTxt, i + 1));
    readHfSpecialTokens(v);
    return v;
}

BpeVocabulary readTokenizerJson(const std::string& path)
{
    BpeVocabulary v;
    v.source = path;
    const auto json = io::readJsonFile(path);
    const auto model = json.is_object() ? json.value("model", nlohmann::json()) : nlohmann::json();
    if (!model.is_object() || model.value("type", "") != "BPE")
        fail(path, "has no byte-pair model (\"model\": {\"type\": \"BPE\"})");
    readVocabObject(v, model.value("vocab", nlohmann::json()));
    const auto merges = model.value("merges", nlohmann::json::array());
    for (std::size_t i = 0; i < merges.size(); ++i) {
        const auto& m = merges[i];
        if (m.is_string())
            v.merges.push_back(mergeOf(m.get<std::string>(), path, i + 1));
        else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string())
            v.merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
        else
            fail(path, "merge " + std::to_string(i) + " is " + io::describeJson(m) + ", not \"a b\" or [a, b]");
    }
    readHfSpecialTokens(v);
    return v;
}

BpeVocabulary findClipVocabulary(const std::string& folder)
{
    const fs::path dir(folder);
    if (fs::exists(dir / "tokenizer.json"))
        return readTokenizerJson((dir / "tokenizer.json").string());
    if (fs::exists(dir / "vocab.json") && fs::exists(dir / "merges.txt"))
        return readHfVocabulary((dir / "vocab.json").string(), (dir / "merges.txt").string());
    if (fs::exists(dir / "bpe_simple_vocab_16e6.txt.gz"))
        return readOpenClipVocabulary((dir / "bpe_simple_vocab_16e6.txt.gz").string());
    throw EngineError("no CLIP tokenizer in " + io::printable(folder)
                      + ": put tokenizer.json (or vocab.json and merges.txt, or open_clip's "
                        "bpe_simple_vocab_16e6.txt.gz) beside the weights");
}

}  // namespace attnviz::engine::text
