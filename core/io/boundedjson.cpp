#include "core/io/boundedjson.h"

#include "core/io/bytes.h"
#include "core/io/rawtensor.h"

#include <filesystem>
#include <fstream>
#include <iterator>

namespace attnviz::io {

nlohmann::json readJsonFile(const std::string& path, const JsonLimits& limits)
{
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    std::ifstream in(path, std::ios::binary);
    if (ec || !in)
        throw FormatError("cannot open '" + path + "'");
    if (size > limits.maxBytes)
        throw FormatError("'" + path + "' is " + std::to_string(size) + " bytes, over the "
                          + std::to_string(limits.maxBytes) + "-byte limit for a JSON file");
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    // The callback sees each value's depth as it is parsed; nlohmann's parser itself
    // keeps its state on the heap, so deep input is refused here without recursion.
    std::size_t values = 0;
    const auto depthLimit = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json&) {
        if (depth > limits.maxDepth)
            throw FormatError("'" + path + "' nests values more than " + std::to_string(limits.maxDepth)
                              + " levels deep");
        if (event == nlohmann::json::parse_event_t::value || event == nlohmann::json::parse_event_t::object_start
            || event == nlohmann::json::parse_event_t::array_start)
            if (++values > limits.maxValues)
                throw FormatError("'" + path + "' holds more than " + std::to_string(limits.maxValues) + " values");
        return true;
    };
    try {
        return nlohmann::json::parse(text, depthLimit);
    } catch (const nlohmann::json::exception& e) {
        throw FormatError("'" + path + "' is not valid JSON: " + printable(e.what()));
    }
}

std::string describeJson(const nlohmann::json& value)
{
    switch (value.type()) {
    case nlohmann::json::value_t::array: return "an array of " + std::to_string(value.size());
    case nlohmann::json::value_t::object: return "an object";
    case nlohmann::json::value_t::string: {
        const auto& text = value.get_ref<const std::string&>();
        return text.size() <= 40 ? "\"" + printable(text) + "\""
                                 : "a string of " + std::to_string(text.size()) + " bytes";
    }
    case nlohmann::json::value_t::binary: return "binary data";
    case nlohmann::json::value_t::discarded: return "nothing";
    default: return value.dump();  // null, a boolean or a number: one token
    }
}

}  // namespace attnviz::io
