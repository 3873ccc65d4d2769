#pragma once

#include <exception>
#include <string>

namespace attnviz::engine {

// The one line a user is shown for an exception from the engine or LibTorch: a
// c10::Error without its C++ backtrace, any message cut at its first line.
std::string errorLine(const std::exception& e);

// Whether a message is an allocator's out-of-memory error ("CUDA out of memory. Tried to
// allocate ...", "DefaultCPUAllocator: not enough memory").
bool isOutOfMemory(const std::string& message);

}  // namespace attnviz::engine
