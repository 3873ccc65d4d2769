#pragma once

#include "core/engine/modelspec.h"
#include "core/engine/trace.h"

#include <torch/torch.h>

#include <memory>
#include <string>

namespace attnviz::engine {

// One loaded model of either family. forward() is reentrant: it runs under inference
// mode with eval semantics and returns everything the views need in one pass.
class Classifier {
public:
    virtual ~Classifier() = default;

    virtual const ModelSpec& spec() const = 0;
    // input: [1, C, H, W] float32 (any device); H, W need not match the checkpoint's.
    virtual Trace forward(const torch::Tensor& input) const = 0;
    virtual void to(torch::Device device) = 0;
    virtual torch::Device device() const = 0;
};

struct LoadOptions {
    int heads = 0;  // > 0 overrides config.json and the head_dim-64 rule
    std::string device = "cpu";
};

// Loads a model path (file or HF folder), recognises the architecture from its keys,
// checks every shape and moves it to the device. Throws EngineError or io::FormatError.
std::unique_ptr<Classifier> loadClassifier(const std::string& modelPath, const LoadOptions& options = {});

}  // namespace attnviz::engine
