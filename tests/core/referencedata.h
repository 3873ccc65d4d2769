#pragma once

// Reading reference tensors and comparing with them, shared by the parity tests.
#include "core/engine/tensorconvert.h"
#include "core/io/safetensors.h"

#include <torch/torch.h>

#include <algorithm>
#include <map>
#include <string>

namespace attnviz::testing {

inline std::map<std::string, torch::Tensor> loadReference(const std::string& path)
{
    std::map<std::string, torch::Tensor> out;
    for (const auto& [key, raw] : io::readSafetensors(path).tensors)
        out[key] = engine::toTorch(raw);
    return out;
}

inline double maxAbsDiff(const torch::Tensor& a, const torch::Tensor& b)
{
    return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

// max |actual - expected| relative to the largest reference magnitude
inline double relativeDiff(const torch::Tensor& actual, const torch::Tensor& expected)
{
    return maxAbsDiff(actual, expected) / std::max(1e-12, expected.abs().max().item<double>());
}

}  // namespace attnviz::testing
