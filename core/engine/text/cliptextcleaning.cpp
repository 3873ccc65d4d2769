#include "core/engine/text/cliptextcleaning.h"

#include "core/engine/text/unicodetext.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

namespace attnviz::engine::text {
namespace {

// ---- HTML character references ----

struct NamedEntity {
    std::u32string_view name;
    char32_t value;
    bool legacy;  // Python's html.unescape also takes it without the semicolon
};

constexpr std::array<NamedEntity, 10> kEntities{{
    {U"amp", U'&', true},
    {U"AMP", U'&', true},
    {U"lt", U'<', true},
    {U"LT", U'<', true},
    {U"gt", U'>', true},
    {U"GT", U'>', true},
    {U"quot", U'"', true},
    {U"QUOT", U'"', true},
    {U"apos", U'\'', false},
    {U"nbsp", 0xA0, true},
}};

// U+0080..U+009F read as the Windows-1252 bytes 0x80..0x9F; the five bytes it leaves
// undefined stay as they are.
char32_t windows1252(char32_t c)
{
    static constexpr std::array<char16_t, 32> kTable{0x20AC, 0x81,   0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
                                                     0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D,   0x017D, 0x8F,
                                                     0x90,   0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
                                                     0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D,   0x017E, 0x0178};
    return c >= 0x80 && c <= 0x9F ? kTable[c - 0x80] : c;
}

// What Python's html.unescape makes of a numeric reference's value: U+FFFD for what is
// no character, Windows-1252 for 0x80..0x9F, nothing for the code points HTML forbids.
std::u32string numericReference(uint64_t value)
{
    if (value == 0 || (value >= 0xD800 && value <= 0xDFFF) || value > 0x10FFFF)
        return U"\uFFFD";
    const auto c = windows1252(char32_t(value));
    const bool forbidden = (c >= 0x01 && c <= 0x08) || c == 0x0B || (c >= 0x0E && c <= 0x1F) || (c >= 0x7F && c <= 0x9F)
                           || (c >= 0xFDD0 && c <= 0xFDEF) || (c & 0xFFFE) == 0xFFFE;
    return forbidden ? U"" : std::u32string(1, c);
}

bool isDigitOf(char32_t c, int base)
{
    return (c >= '0' && c <= '9') || (base == 16 && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')));
}

// A reference at text[at] ('&'): what it stands for and its length, or nothing.
std::optional<std::pair<std::u32string, std::size_t>> reference(const std::u32string& text, std::size_t at,
                                                                bool needSemicolon)
{
    std::size_t i = at + 1;
    if (i < text.size() && text[i] == '#') {
        const int base = i + 1 < text.size() && (text[i + 1] == 'x' || text[i + 1] == 'X') ? 16 : 10;
        i += base == 16 ? 2 : 1;
        const std::size_t first = i;
        uint64_t value = 0;
        for (; i < text.size() && isDigitOf(text[i], base); ++i) {
            const auto digit = uint64_t(text[i] <= '9' ? text[i] - '0' : (text[i] | 0x20) - 'a' + 10);
            value = std::min<uint64_t>(value * uint64_t(base) + digit, 0x110000);  // past the last code point
        }
        const bool semicolon = i < text.size() && text[i] == ';';
        if (i == first || (needSemicolon && !semicolon))
            return std::nullopt;
        return std::pair{numericReference(value), i + (semicolon ? 1 : 0) - at};
    }
    for (const auto& e : kEntities) {
        if (text.compare(i, e.name.size(), e.name) != 0)
            continue;
        const bool semicolon = i + e.name.size() < text.size() && text[i + e.name.size()] == ';';
        if (semicolon || (!needSemicolon && e.legacy))
            return std::pair{std::u32string(1, e.value), 1 + e.name.size() + (semicolon ? 1 : 0)};
    }
    return std::nullopt;
}

std::u32string unescapeHtml(const std::u32string& text, bool needSemicolon)
{
    std::u32string out;
    for (std::size_t i = 0; i < text.size();) {
        const auto ref = text[i] == '&' ? reference(text, i, needSemicolon) : std::nullopt;
        if (ref) {
            out += ref->first;
            i += ref->second;
        } else {
            out.push_back(text[i++]);
        }
    }
    return out;
}

// ftfy unescapes entities only until the first line that holds a '<' (HTML that is
// meant as markup): the lines before it.
std::u32string ftfyUnescape(const std::u32string& text)
{
    const auto angle = text.find(U'<');
    if (angle == std::u32string::npos)
        return unescapeHtml(text, true);
    const auto lineStart = text.rfind(U'\n', angle);
    const auto cut = lineStart == std::u32string::npos ? 0 : lineStart + 1;
    return unescapeHtml(text.substr(0, cut), true) + text.substr(cut);
}

// ---- ftfy's character fixes ----

std::u32string fixCharacters(const std::u32string& text)
{
    std::u32string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char32_t c = text[i];
        if (c >= 0x80 && c <= 0x9F) {  // C1 controls: text that was Windows-1252
            out.push_back(windows1252(c));
        } else if (c == 0xFB05) {  // ligatures expand; ftfy keeps the long s of this one
            out += U"\u017Ft";
        } else if ((c >= 0xFB00 && c <= 0xFB06) || (c >= 0x0132 && c <= 0x0133) || c == 0x0149
                   || (c >= 0x01C4 && c <= 0x01CC) || (c >= 0x01F1 && c <= 0x01F3) || (c >= 0xFF01 && c <= 0xFFEF)) {
            out += nfkc(c);  // and full-width forms become their usual width
        } else if (c == 0x3000) {
            out.push_back(' ');
        } else if (c == 0x02BC || (c >= 0x2018 && c <= 0x201B)) {
            out.push_back('\'');
        } else if (c >= 0x201C && c <= 0x201F) {
            out.push_back('"');
        } else if (c == 0x1B && i + 1 < text.size() && text[i + 1] == '[') {  // terminal escape ESC [ 0-9; letter
            std::size_t j = i + 2;
            while (j < text.size() && ((text[j] >= '0' && text[j] <= '9') || text[j] == ';'))
                ++j;
            if (j < text.size() && ((text[j] | 0x20) >= 'a' && (text[j] | 0x20) <= 'z'))
                i = j;
            else
                out.push_back(c);
        } else {
            out.push_back(c);
        }
    }
    return out;
}

bool isRemovedControl(char32_t c)
{
    return c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F || (c >= 0x206A && c <= 0x206F)
           || c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC);
}

std::u32string withoutControls(const std::u32string& text)
{
    std::u32string out;
    for (const char32_t c : text)
        if (!isRemovedControl(c))
            out.push_back(c);
    return out;
}

}  // namespace

std::string cleanTextKeepingCase(const std::string& utf8Text)
{
    // ftfy.fix_text (its deterministic fixes), then NFC
    auto text = codePoints(nfc(utf8(withoutControls(fixCharacters(ftfyUnescape(codePoints(utf8Text)))))));
    text = unescapeHtml(unescapeHtml(text, false), false);  // html.unescape, twice
    return utf8(collapsePythonSpace(text));
}

std::string cleanClipText(const std::string& utf8Text)
{
    return lowerCase(cleanTextKeepingCase(utf8Text));
}

}  // namespace attnviz::engine::text
