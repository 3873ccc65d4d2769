#pragma once

#include <stdexcept>

namespace attnviz::engine {

// A model that cannot be loaded or run as asked. what() is one line meant for users.
class EngineError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace attnviz::engine
