#pragma once

// JSON from strangers (config.json, preprocessor_config.json) with limits that hold
// before the document is built: its size, and its nesting depth, so that neither the
// parse nor any recursive walk over the result (nlohmann's dump() recurses) can
// exhaust memory or the stack, and the number of values.

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>

namespace attnviz::io {

struct JsonLimits {
    std::size_t maxBytes = 16u << 20;
    int maxDepth = 64;
    // Values of any kind: `[[],[],...]` costs nlohmann some 20 times its text, so the
    // count, not only the bytes, bounds the memory of the document.
    std::size_t maxValues = 1'000'000;
};

// Reads and parses `path`; throws FormatError naming the file and the limit or the
// syntax error.
nlohmann::json readJsonFile(const std::string& path, const JsonLimits& limits = {});

// A short description of a value for a one-line message: numbers, booleans and short
// strings as they are, anything else by its kind ("an array of 3", "an object").
// Never recursive.
std::string describeJson(const nlohmann::json& value);

}  // namespace attnviz::io
