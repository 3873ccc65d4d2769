#include "core/engine/text/cliptokenizer.h"

#include "core/engine/engineerror.h"
#include "core/engine/text/cliptextcleaning.h"
#include "core/engine/text/unicodetext.h"
#include "core/io/bytes.h"

#include <algorithm>
#include <climits>
#include <utility>

namespace attnviz::engine::text {
namespace {

// CLIP's split of cleaned text into pieces, the regex
//   <special>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
// tried in that order at each position; whitespace between pieces is dropped.
class PieceScanner {
public:
    PieceScanner(std::u32string text, std::vector<std::u32string> specials)
        : m_text(std::move(text))
        , m_specials(std::move(specials))
    {
    }

    // The next piece, or an empty string at the end.
    std::u32string next()
    {
        while (m_at < m_text.size() && isPythonSpace(m_text[m_at]))
            ++m_at;
        if (m_at == m_text.size())
            return {};
        const std::size_t length = pieceLength();
        auto piece = m_text.substr(m_at, length);
        m_at += length;
        return piece;
    }

private:
    bool startsWith(std::u32string_view s) const { return m_text.compare(m_at, s.size(), s) == 0; }

    std::size_t runOf(bool (*inRun)(char32_t)) const
    {
        std::size_t end = m_at;
        while (end < m_text.size() && inRun(m_text[end]))
            ++end;
        return end - m_at;
    }

    std::size_t pieceLength() const
    {
        for (const auto& s : m_specials)
            if (startsWith(s))
                return s.size();
        for (const std::u32string_view c : {U"'s", U"'t", U"'re", U"'ve", U"'m", U"'ll", U"'d"})
            if (startsWith(c))
                return c.size();
        if (isLetter(m_text[m_at]))
            return runOf(isLetter);
        if (isNumber(m_text[m_at]))
            return 1;
        return runOf([](char32_t c) { return !isPythonSpace(c) && !isLetter(c) && !isNumber(c); });
    }

    std::u32string m_text;
    std::vector<std::u32string> m_specials;
    std::size_t m_at = 0;
};

}  // namespace

ClipTokenizer::ClipTokenizer(BpeVocabulary vocabulary)
    : m_vocabulary(std::move(vocabulary))
{
    for (std::size_t r = 0; r < m_vocabulary.merges.size(); ++r)
        m_ranks.emplace(m_vocabulary.merges[r].first + " " + m_vocabulary.merges[r].second, int(r));
}

// A piece's symbols after byte-pair merging: its UTF-8 bytes in CLIP's alphabet, the last
// one marked "</w>", then the adjacent pair of lowest rank merged everywhere (leftmost
// first) until no pair has a rank.
std::vector<std::string> ClipTokenizer::bytePairs(const std::string& piece) const
{
    std::vector<std::string> word;
    for (const unsigned char byte : piece)
        word.push_back(clipByteAlphabet()[byte]);
    word.back() += "</w>";
    while (word.size() > 1) {
        int best = INT_MAX;
        std::pair<std::string, std::string> bestPair;
        for (std::size_t i = 0; i + 1 < word.size(); ++i) {
            const auto it = m_ranks.find(word[i] + " " + word[i + 1]);
            if (it != m_ranks.end() && it->second < best) {
                best = it->second;
                bestPair = {word[i], word[i + 1]};
            }
        }
        if (best == INT_MAX)
            break;
        std::vector<std::string> merged;
        for (std::size_t i = 0; i < word.size(); ++i) {
            if (i + 1 < word.size() && word[i] == bestPair.first && word[i + 1] == bestPair.second) {
                merged.push_back(bestPair.first + bestPair.second);
                ++i;
            } else {
                merged.push_back(word[i]);
            }
        }
        word = std::move(merged);
    }
    return word;
}

std::vector<int64_t> ClipTokenizer::encode(const std::string& utf8Text) const
{
    const auto& v = m_vocabulary;
    PieceScanner scanner(codePoints(cleanClipText(utf8Text)), {codePoints(v.startToken), codePoints(v.endToken)});
    std::vector<int64_t> ids;
    for (auto piece = scanner.next(); !piece.empty(); piece = scanner.next()) {
        const auto bytes = utf8(piece);
        if (bytes == v.startToken || bytes == v.endToken) {
            ids.push_back(bytes == v.startToken ? v.startId : v.endId);
            continue;
        }
        for (const auto& symbol : bytePairs(bytes)) {
            const auto it = v.ids.find(symbol);
            if (it == v.ids.end())  // checked when the vocabulary was read; kept for safety
                throw EngineError("tokenizer " + io::printable(v.source) + " has no token '" + io::printable(symbol)
                                  + "'");
            ids.push_back(it->second);
        }
    }
    return ids;
}

std::vector<int64_t> ClipTokenizer::tokenize(const std::string& utf8Text, int context) const
{
    std::vector<int64_t> ids{m_vocabulary.startId};
    const auto body = encode(utf8Text);
    ids.insert(ids.end(), body.begin(), body.end());
    ids.push_back(m_vocabulary.endId);
    if (int(ids.size()) > context) {
        ids.resize(std::size_t(context));
        ids.back() = m_vocabulary.endId;
    }
    ids.resize(std::size_t(context), m_vocabulary.padId);
    return ids;
}

}  // namespace attnviz::engine::text
