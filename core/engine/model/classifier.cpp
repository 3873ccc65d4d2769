#include "core/engine/model/classifier.h"

#include "core/engine/model/batchtraces.h"

#include "core/engine/engineerror.h"
#include "core/io/rawtensor.h"

namespace attnviz::engine {

Trace Classifier::forward(const torch::Tensor& input) const
{
    if (input.dim() != 4 || input.size(0) != 1)
        throw EngineError("a trace takes one image [1, C, H, W], got " + io::shapeString(input.sizes().vec()));
    return std::move(forwardBatch(input).front());
}

std::vector<Trace> batchTraces(const torch::Tensor& batch, const torch::Tensor& logits, double seconds)
{
    const auto input = batch.to(torch::kCPU, torch::kFloat32);
    const auto cpuLogits = logits.defined() ? logits.to(torch::kCPU) : logits;
    std::vector<Trace> traces(std::size_t(batch.size(0)));
    for (int64_t n = 0; n < batch.size(0); ++n) {
        auto& trace = traces[std::size_t(n)];
        trace.input = input.slice(0, n, n + 1);
        if (cpuLogits.defined())
            trace.logits = cpuLogits.slice(0, n, n + 1);
        trace.forwardSeconds = seconds / double(batch.size(0));
    }
    return traces;
}

std::vector<ResidualNorms> residualsOf(const std::vector<ResidualNorms>& batch, int64_t n)
{
    std::vector<ResidualNorms> out;
    out.reserve(batch.size());
    for (const auto& r : batch)
        out.push_back({r.name, r.skip.slice(0, n, n + 1), r.branch.slice(0, n, n + 1)});
    return out;
}

std::vector<torch::Tensor> Classifier::parameters() const
{
    std::vector<torch::Tensor> out;
    for (auto& [name, tensor] : namedParameters())
        out.push_back(tensor);
    return out;
}

}  // namespace attnviz::engine
