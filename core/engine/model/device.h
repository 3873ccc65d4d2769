#pragma once

#include <torch/torch.h>

#include <optional>
#include <string>
#include <vector>

namespace attnviz::engine {

// The canonical name of a device a user wrote: "cpu" -> "cpu", "cuda" -> "cuda:0",
// "cuda:N" -> "cuda:N"; nullopt for anything else. Says nothing of availability.
std::optional<std::string> canonicalDeviceName(const std::string& name);

// "cpu", "cuda" or "cuda:N". Throws EngineError when the device is unknown, when this
// LibTorch has no CUDA, or when the index is out of range.
torch::Device parseDevice(const std::string& name);

// Devices a user can pick here: "cpu" plus "cuda:N" for each visible GPU.
std::vector<std::string> availableDevices();

// For the About box: "1.13.0"; "CUDA runtime 12.1, 1 GPU" or "none usable (CPU only)".
std::string libtorchVersion();
std::string cudaDescription();
// What `program --version` prints: "<program> <version>", the git commit, the LibTorch
// version and whether CUDA is usable, one per line.
std::string versionReport(const std::string& program);

struct ThreadSetting {
    int torch = 1;  // LibTorch intra-op threads
    int blas = 1;   // OpenBLAS threads
};

// Never both pools at full width: they oversubscribe the cores (ViT-B/16 0.29 s ->
// 0.91 s on 2 cores). Default (torchThreads = 0): 1 LibTorch thread and one BLAS
// thread per core, the fastest for batch-1 inference measured here
// (ATTNVIZ_TORCH_THREADS / ATTNVIZ_BLAS_THREADS override it). torchThreads = N > 0:
// N LibTorch threads and 1 BLAS thread, better for batched convolutions.
ThreadSetting configureThreads(int torchThreads = 0);

}  // namespace attnviz::engine
