#pragma once

// The Unicode operations the tokenizers need, through ICU: code points, normalisation,
// Python's lower case and character classes. Text is UTF-8 in std::string and code
// points in std::u32string; malformed UTF-8 becomes U+FFFD.

#include <string>

namespace attnviz::engine::text {

std::u32string codePoints(const std::string& utf8);
std::string utf8(const std::u32string& codePoints);

std::string nfc(const std::string& utf8);
std::u32string nfkc(char32_t c);
// Full Unicode lower case, context included (final sigma), as Python's str.lower().
std::string lowerCase(const std::string& utf8);

bool isLetter(char32_t c);  // \p{L}: Lu, Ll, Lt, Lm, Lo
bool isNumber(char32_t c);  // \p{N}: Nd, Nl, No
// Python's str.isspace(): what str.split() splits on.
bool isPythonSpace(char32_t c);
// " ".join(text.split()): whitespace runs become one space, the ends go.
std::u32string collapsePythonSpace(const std::u32string& text);

}  // namespace attnviz::engine::text
