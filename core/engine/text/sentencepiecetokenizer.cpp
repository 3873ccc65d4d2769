#include "core/engine/text/sentencepiecetokenizer.h"

#include "core/engine/engineerror.h"
#include "core/engine/text/cliptextcleaning.h"
#include "core/engine/text/sentencepieceplugin.h"
#include "core/engine/text/unicodetext.h"
#include "core/io/bytes.h"

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1  // dlmopen
#endif
#include <dlfcn.h>

#include <algorithm>
#include <array>
#include <filesystem>

namespace attnviz::engine::text {
namespace {

namespace fs = std::filesystem;

// The plugin's functions, resolved once.
struct Plugin {
    decltype(&attnviz_spm_load) load = nullptr;
    decltype(&attnviz_spm_free) free = nullptr;
    decltype(&attnviz_spm_encode) encode = nullptr;
    decltype(&attnviz_spm_end_id) endId = nullptr;
    decltype(&attnviz_spm_size) size = nullptr;
    std::string error;  // why it is not there
};

template <typename F>
void resolve(void* library, const char* name, F& function)
{
    function = reinterpret_cast<F>(dlsym(library, name));
    if (!function)
        throw EngineError(std::string("the SentencePiece plugin has no ") + name);
}

Plugin loadPlugin()
{
    constexpr const char* kName = "libattnviz_sentencepiece.so";
    const auto programDir = fs::read_symlink("/proc/self/exe").parent_path();
    Plugin p;
    for (const auto& dir : {programDir, programDir / ".." / "bin", programDir / ".." / "lib" / "attnviz" / "plugins"}) {
        const auto path = dir / kName;
        if (!fs::exists(path))
            continue;
        void* library = dlmopen(LM_ID_NEWLM, path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!library) {
            p.error = std::string("the SentencePiece plugin does not load: ") + dlerror();
            return p;
        }
        try {
            resolve(library, "attnviz_spm_load", p.load);
            resolve(library, "attnviz_spm_free", p.free);
            resolve(library, "attnviz_spm_encode", p.encode);
            resolve(library, "attnviz_spm_end_id", p.endId);
            resolve(library, "attnviz_spm_size", p.size);
        } catch (const EngineError& e) {
            p = Plugin{};
            p.error = e.what();
        }
        return p;
    }
    p.error = std::string("a SentencePiece tokenizer (SigLIP's, XLM-RoBERTa's) needs ") + kName
              + ", which is not beside the program, in ../bin or "
                "in ../lib/attnviz/plugins";
    return p;
}

const Plugin& plugin()
{
    static const Plugin p = loadPlugin();
    if (!p.load)
        throw EngineError(p.error);
    return p;
}

}  // namespace

std::string normaliseSiglipText(const std::string& utf8Text)
{
    std::u32string kept;
    for (const char32_t c : codePoints(lowerCase(utf8Text))) {
        // Python's string.punctuation: the printable ASCII that is no letter, digit or space
        const bool punctuation = c > 0x20 && c < 0x7F && !(c >= '0' && c <= '9')
                                 && !((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
        if (!punctuation)
            kept.push_back(c);
    }
    return utf8(collapsePythonSpace(kept));
}

SentencePieceTokenizer::SentencePieceTokenizer(const std::string& modelPath, SentencePieceStyle style)
    : m_processor(nullptr,
                  [](void* p) {
                      if (p)
                          plugin().free(p);
                  })
    , m_source(modelPath)
    , m_style(style)
{
    if (!fs::is_regular_file(modelPath))
        throw EngineError("no SentencePiece model " + io::printable(modelPath));
    std::array<char, 512> error{};
    m_processor.reset(plugin().load(modelPath.c_str(), error.data(), int(error.size())));
    if (!m_processor)
        throw EngineError("tokenizer file " + io::printable(modelPath) + " is not a SentencePiece model ("
                          + io::printable(error.data()) + ")");
    if (m_style == SentencePieceStyle::XlmRoberta) {  // fairseq's dictionary: <s> <pad> </s> <unk>
        m_startId = 0;
        m_padId = 1;
        m_endId = 2;
        return;
    }
    m_endId = plugin().endId(m_processor.get());
    if (m_endId < 0)
        throw EngineError("SentencePiece model " + io::printable(modelPath) + " has no end token");
    m_padId = m_endId;  // HF's SiglipTokenizer: pad_token = "</s>"
}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;
SentencePieceTokenizer::SentencePieceTokenizer(SentencePieceTokenizer&&) noexcept = default;
SentencePieceTokenizer& SentencePieceTokenizer::operator=(SentencePieceTokenizer&&) noexcept = default;

int64_t SentencePieceTokenizer::size() const
{
    // XLM-RoBERTa: the pieces shifted by one, <pad>, and the <mask> after them
    return plugin().size(m_processor.get()) + (m_style == SentencePieceStyle::XlmRoberta ? 2 : 0);
}

std::vector<int64_t> SentencePieceTokenizer::encode(const std::string& utf8Text) const
{
    const bool xlmr = m_style == SentencePieceStyle::XlmRoberta;
    const auto text = xlmr ? cleanTextKeepingCase(utf8Text) : normaliseSiglipText(utf8Text);
    std::array<char, 512> error{};
    std::vector<int> ids(text.size() + 16);  // SentencePiece gives at most a piece per byte (+ the word start)
    const int count = plugin().encode(m_processor.get(), text.c_str(), ids.data(), int(ids.size()), error.data(),
                                      int(error.size()));
    if (count < 0 || count > int(ids.size()))
        throw EngineError("SentencePiece could not encode the text: " + io::printable(error.data()));
    std::vector<int64_t> out(ids.begin(), ids.begin() + count);
    if (xlmr)  // XLMRobertaTokenizer._convert_token_to_id: fairseq_offset 1, unknown -> <unk>
        for (auto& id : out)
            id = id == 0 ? 3 : id + 1;
    return out;
}

std::vector<int64_t> SentencePieceTokenizer::tokenize(const std::string& utf8Text, int context) const
{
    auto ids = encode(utf8Text);
    const int room = context - addedTokens();
    if (int(ids.size()) > room)
        ids.resize(std::size_t(std::max(room, 0)));
    if (m_startId >= 0)
        ids.insert(ids.begin(), m_startId);
    ids.push_back(m_endId);
    ids.resize(std::size_t(context), m_padId);
    return ids;
}

}  // namespace attnviz::engine::text
