#pragma once

// CLIP's text cleaning before byte-pair encoding, as open_clip's tokenizer does it by
// default (clean='lower'): ftfy.fix_text, html.unescape twice, whitespace collapsed and
// stripped, lower case. open_clip's HFTokenizer cleans the same way without the lower case
// (clean='whitespace').
//
// ftfy is a Python library with no C++ counterpart; of its default fixes this does the
// deterministic ones: HTML entities with a semicolon (where the text has no '<' yet),
// C1 controls read as Windows-1252, Latin ligatures, full-width forms, curly quotes,
// terminal escapes, control characters, NFC. It does not do ftfy's heuristic repair of
// mojibake (fix_encoding: "cafÃ©" stays as it is, where ftfy makes it "café").
// HTML entities: numeric ones and amp, lt, gt, quot, apos, nbsp; others ("&eacute;")
// stay as written, where Python's html.unescape knows all of HTML5's.

#include <string>

namespace attnviz::engine::text {

std::string cleanClipText(const std::string& utf8);
// The same, case kept (open_clip's clean='whitespace').
std::string cleanTextKeepingCase(const std::string& utf8);

}  // namespace attnviz::engine::text
