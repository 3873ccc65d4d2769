#include "core/engine/cnn/layer.h"

#include "core/engine/cancellation.h"
#include "core/engine/engineerror.h"
#include "core/io/bytes.h"

#include <algorithm>

namespace attnviz::engine::cnn {

void recordOutput(const Layer& layer, torch::Tensor& x, RunContext& context)
{
    if (layer.record == kNone)  // only recorded outputs can be replaced
        return;
    if (context.replacement && context.replacement->layer == layer.name) {
        // The named output [1, C, h, w] becomes the replacement [K, C, h, w].
        const auto& v = context.replacement->value;
        if (v.dim() != x.dim() || x.dim() != 4 || v.size(1) != x.size(1) || v.size(2) != x.size(2)
            || v.size(3) != x.size(3))
            throw EngineError("replacement for '" + layer.name + "' must be [K, " + std::to_string(x.size(1)) + ", "
                              + std::to_string(x.size(2)) + ", " + std::to_string(x.size(3)) + "], got "
                              + io::shapeString(v.sizes().vec()));
        x = v.to(x.device(), x.scalar_type());
        context.replaced = true;
    }
    if ((layer.record & kStage) && context.stages)
        context.stages->emplace_back(layer.name, x);
    if ((layer.record & kBlock) && context.blocks)
        context.blocks->emplace_back(layer.name, x);
}

torch::Tensor Sequence::forward(const torch::Tensor& input, RunContext& context) const
{
    auto x = input;
    for (const auto& layer : layers) {
        x = layer->forward(x, context);
        recordOutput(*layer, x, context);
        if (layer->record != kNone) {  // a block or stage: where cancelled work stops
            throwIfCancelled();
            checkCancelledInBackward(x);
        }
    }
    return x;
}

ReceptiveField Sequence::field(const ReceptiveField& in, FieldSink& sink) const
{
    auto f = in;
    for (const auto& layer : layers) {
        f = layer->field(f, sink);
        if (layer->record == kNone)
            continue;
        const bool stage = (layer->record & kStage) != 0;
        // A recorded conv or pool is already in the list under its own name.
        if (!sink.fields.empty() && sink.fields.back().name == layer->name) {
            sink.fields.back().stage = sink.fields.back().stage || stage;
            continue;
        }
        f.name = layer->name;
        f.stage = stage;
        sink.fields.push_back(f);
        f.stage = false;
    }
    return f;
}

void Sequence::collect(std::vector<NamedTensor>& out)
{
    for (auto& layer : layers)
        layer->collect(out);
}

int Sequence::depth() const
{
    int n = 0;
    for (const auto& layer : layers)
        n += layer->depth();
    return n;
}

ReceptiveField unionField(const ReceptiveField& a, const ReceptiveField& b)
{
    const double lo = std::min(a.start - (a.size - 1) / 2, b.start - (b.size - 1) / 2);
    const double hi = std::max(a.start + (a.size - 1) / 2, b.start + (b.size - 1) / 2);
    ReceptiveField merged = a;
    merged.size = hi - lo + 1;
    merged.start = (lo + hi) / 2;
    return merged;
}

}  // namespace attnviz::engine::cnn
