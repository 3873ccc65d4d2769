#include "core/engine/errormessage.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <cctype>

namespace attnviz::engine {

std::string errorLine(const std::exception& e)
{
    const auto* torchError = dynamic_cast<const c10::Error*>(&e);
    const std::string text = torchError ? torchError->what_without_backtrace() : e.what();
    return text.substr(0, text.find('\n'));
}

bool isOutOfMemory(const std::string& message)
{
    std::string lower = message;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return lower.find("out of memory") != std::string::npos || lower.find("not enough memory") != std::string::npos;
}

}  // namespace attnviz::engine
