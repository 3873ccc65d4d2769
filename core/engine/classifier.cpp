#include "core/engine/classifier.h"

#include "core/engine/engineerror.h"
#include "core/io/rawtensor.h"

namespace attnviz::engine {

Trace Classifier::forward(const torch::Tensor& input) const
{
    if (input.dim() != 4 || input.size(0) != 1)
        throw EngineError("a trace takes one image [1, C, H, W], got " + io::shapeString(input.sizes().vec()));
    return std::move(forwardBatch(input).front());
}

}  // namespace attnviz::engine
