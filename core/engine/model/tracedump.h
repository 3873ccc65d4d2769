#pragma once

#include "core/engine/model/trace.h"
#include "core/io/rawtensor.h"

#include <string>

namespace attnviz::engine {

// Adds a trace's tensors to `out` as F32, named for --dump files:
// <role>.input [1,C,H,W], <role>.logits [1,N], <role>.attn.<l> [1,H,T,T],
// <role>.features.<name> [1,C,h,w].
void appendTraceTensors(const Trace& trace, const std::string& role, io::TensorMap& out);

}  // namespace attnviz::engine
