#include "core/engine/text/unicodetext.h"

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <stdexcept>

namespace attnviz::engine::text {
namespace {

std::string toUtf8(const icu::UnicodeString& s)
{
    std::string out;
    s.toUTF8String(out);
    return out;
}

const icu::Normalizer2& normalizer(bool compatibility)
{
    UErrorCode status = U_ZERO_ERROR;
    const auto* n = compatibility ? icu::Normalizer2::getNFKCInstance(status)
                                  : icu::Normalizer2::getNFCInstance(status);
    if (U_FAILURE(status) || !n)
        throw std::runtime_error(std::string("ICU has no normaliser: ") + u_errorName(status));
    return *n;
}

}  // namespace

std::u32string codePoints(const std::string& utf8Text)
{
    const auto s = icu::UnicodeString::fromUTF8(utf8Text);
    std::u32string out;
    out.reserve(std::size_t(s.length()));
    for (int32_t i = 0; i < s.length(); i = s.moveIndex32(i, 1))
        out.push_back(char32_t(s.char32At(i)));
    return out;
}

std::string utf8(const std::u32string& points)
{
    icu::UnicodeString s;
    for (const char32_t c : points)
        s.append(UChar32(c));
    return toUtf8(s);
}

std::string nfc(const std::string& utf8Text)
{
    UErrorCode status = U_ZERO_ERROR;
    const auto out = normalizer(false).normalize(icu::UnicodeString::fromUTF8(utf8Text), status);
    return U_SUCCESS(status) ? toUtf8(out) : utf8Text;
}

std::u32string nfkc(char32_t c)
{
    UErrorCode status = U_ZERO_ERROR;
    const auto out = normalizer(true).normalize(icu::UnicodeString(UChar32(c)), status);
    return U_SUCCESS(status) ? codePoints(toUtf8(out)) : std::u32string(1, c);
}

std::string lowerCase(const std::string& utf8Text)
{
    auto s = icu::UnicodeString::fromUTF8(utf8Text);
    s.toLower(icu::Locale::getRoot());
    return toUtf8(s);
}

bool isLetter(char32_t c)
{
    const auto type = u_charType(UChar32(c));
    return type == U_UPPERCASE_LETTER || type == U_LOWERCASE_LETTER || type == U_TITLECASE_LETTER
           || type == U_MODIFIER_LETTER || type == U_OTHER_LETTER;
}

bool isNumber(char32_t c)
{
    const auto type = u_charType(UChar32(c));
    return type == U_DECIMAL_DIGIT_NUMBER || type == U_LETTER_NUMBER || type == U_OTHER_NUMBER;
}

bool isPythonSpace(char32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680
           || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

std::u32string collapsePythonSpace(const std::u32string& text)
{
    std::u32string out;
    bool pendingSpace = false;
    for (const char32_t c : text) {
        if (isPythonSpace(c)) {
            pendingSpace = !out.empty();
            continue;
        }
        if (pendingSpace)
            out.push_back(' ');
        pendingSpace = false;
        out.push_back(c);
    }
    return out;
}

}  // namespace attnviz::engine::text
