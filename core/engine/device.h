#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

namespace attnviz::engine {

// "cpu", "cuda" or "cuda:N". Throws EngineError when the device is unknown, when this
// LibTorch has no CUDA, or when the index is out of range.
torch::Device parseDevice(const std::string& name);

// Devices a user can pick here: "cpu" plus "cuda:N" for each visible GPU.
std::vector<std::string> availableDevices();

// Sets LibTorch's intra-op threads (0 = one per core) and pins OpenBLAS to one
// thread: both pools at full width oversubscribe the cores (ResNet-50 0.05 s -> 1.6 s).
void configureThreads(int torchThreads = 0);

}  // namespace attnviz::engine
