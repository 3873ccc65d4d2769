#include "core/engine/model/tracedump.h"

#include "core/engine/tensorconvert.h"

namespace attnviz::engine {

void appendTraceTensors(const Trace& trace, const std::string& role, io::TensorMap& out)
{
    out[role + ".input"] = toRawF32(trace.input);
    if (trace.logits.defined())
        out[role + ".logits"] = toRawF32(trace.logits);
    if (trace.embedding.defined())
        out[role + ".embedding"] = toRawF32(trace.embedding);
    for (std::size_t l = 0; l < trace.attentions.size(); ++l)
        out[role + ".attn." + std::to_string(l)] = toRawF32(trace.attentions[l].unsqueeze(0));
    if (trace.poolAttention.defined())  // [1, H, L, T]
        out[role + ".pool_attn"] = toRawF32(trace.poolAttention.unsqueeze(0));
    for (const auto& [name, feature] : trace.features)
        out[role + ".features." + name] = toRawF32(feature);
}

}  // namespace attnviz::engine
