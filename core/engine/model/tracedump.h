#pragma once

#include "core/engine/model/trace.h"
#include "core/io/rawtensor.h"

#include <cstdint>
#include <string>

namespace attnviz::engine {

// Whether a dump writes every block's whole attention matrix.
enum class FullAttentionDump {
    WhileSmall,  // only while the dump, matrices included, stays within kFullAttentionDumpLimit
    Always,      // --dump-attention
};

// 2 GiB: a ViT-S/8 at 480 px has 3.7 GB of matrices, a ViT-B/16 at 224 px 22 MB.
constexpr int64_t kFullAttentionDumpLimit = int64_t(2) << 30;

// Bytes a trace's whole attention matrices take as F32: blocks x heads x T² x 4.
int64_t fullAttentionBytes(const Trace& trace);

// Bytes the tensors in `map` hold.
int64_t tensorMapBytes(const io::TensorMap& map);

// Adds a trace's tensors to `out` as F32, named for --dump files:
// <role>.input [1,C,H,W], <role>.logits [1,N], <role>.embedding [1,E],
// <role>.attn_cls.<l> [1,H,T] (the CLS token's row; <role>.attn_patch_mean.<l>, the
// patch rows' mean, without a CLS token), <role>.attn.<l> [1,H,T,T] (see FullAttentionDump),
// <role>.pool_attn [1,H,L,T], <role>.features.<name> [1,C,h,w]. Returns whether the whole
// matrices were written.
bool appendTraceTensors(const Trace& trace, const std::string& role, io::TensorMap& out,
                        FullAttentionDump full = FullAttentionDump::WhileSmall);

}  // namespace attnviz::engine
