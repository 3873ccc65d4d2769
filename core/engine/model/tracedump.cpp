#include "core/engine/model/tracedump.h"

#include "core/engine/tensorconvert.h"

namespace attnviz::engine {

int64_t fullAttentionBytes(const Trace& trace)
{
    const auto t = trace.attention.tokens();
    return int64_t(trace.attention.depth()) * trace.attention.heads() * t * t * int64_t(sizeof(float));
}

int64_t tensorMapBytes(const io::TensorMap& map)
{
    int64_t total = 0;
    for (const auto& entry : map)
        total += int64_t(entry.second.bytes.size());
    return total;
}

namespace {

// Every block's summary row, then (when `full`) its whole matrix, one block at a time.
void appendAttention(const Trace& trace, const std::string& role, io::TensorMap& out, bool full)
{
    const bool hasCls = trace.tokens.hasCls;
    const auto rowName = role + (hasCls ? ".attn_cls." : ".attn_patch_mean.");
    for (int l = 0; l < trace.attention.depth(); ++l) {
        const auto name = std::to_string(l);
        out[rowName + name] = toRawF32(trace.attention.summaryRow(l, hasCls).unsqueeze(0));  // [1, H, T]
        if (full)
            out[role + ".attn." + name] = toRawF32(trace.attention.matrix(l).unsqueeze(0));  // [1, H, T, T]
    }
}

}  // namespace

bool appendTraceTensors(const Trace& trace, const std::string& role, io::TensorMap& out, FullAttentionDump full)
{
    out[role + ".input"] = toRawF32(trace.input);
    if (trace.logits.defined())
        out[role + ".logits"] = toRawF32(trace.logits);
    if (trace.embedding.defined())
        out[role + ".embedding"] = toRawF32(trace.embedding);
    if (trace.poolAttention.defined())  // [1, H, L, T]
        out[role + ".pool_attn"] = toRawF32(trace.poolAttention.unsqueeze(0));
    for (const auto& [name, feature] : trace.features)
        out[role + ".features." + name] = toRawF32(feature);
    const bool fits = tensorMapBytes(out) + fullAttentionBytes(trace) <= kFullAttentionDumpLimit;
    const bool whole = !trace.attention.empty() && (full == FullAttentionDump::Always || fits);
    appendAttention(trace, role, out, whole);
    return whole;
}

}  // namespace attnviz::engine
