#include "core/engine/model/device.h"

#include "core/engine/engineerror.h"
#include "core/io/buildinfo.h"

#include <ATen/Context.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/version.h>

#include <dlfcn.h>

#include <cstdlib>
#include <thread>

namespace attnviz::engine {

std::optional<std::string> canonicalDeviceName(const std::string& name)
{
    if (name == "cpu")
        return name;
    if (name == "cuda")
        return std::string("cuda:0");
    if (name.rfind("cuda:", 0) != 0 || name.size() == 5 || name.size() > 9)
        return std::nullopt;
    for (std::size_t i = 5; i < name.size(); ++i)
        if (name[i] < '0' || name[i] > '9')
            return std::nullopt;
    return "cuda:" + std::to_string(std::stoi(name.substr(5)));
}

torch::Device parseDevice(const std::string& name)
{
    const auto canonical = canonicalDeviceName(name);
    if (!canonical)
        throw EngineError("unknown device '" + name + "' (use cpu, cuda or cuda:N)");
    if (*canonical == "cpu")
        return torch::kCPU;
    if (!torch::cuda::is_available())
        throw EngineError("device '" + name
                          + "' asked for, but this LibTorch build has no CUDA "
                            "or no GPU is visible; use --device cpu");
    const int index = std::stoi(canonical->substr(5));
    // TF32 would trade ~1e-3 relative error for speed; attention maps are compared
    // against references, so full float32 precision is kept.
    at::globalContext().setAllowTF32CuDNN(false);
    at::globalContext().setAllowTF32CuBLAS(false);
    const auto count = int(torch::cuda::device_count());
    if (index < 0 || index >= count)
        throw EngineError("device '" + name + "' does not exist: " + std::to_string(count) + " CUDA device(s) visible");
    return {torch::kCUDA, static_cast<c10::DeviceIndex>(index)};
}

std::vector<std::string> availableDevices()
{
    std::vector<std::string> out{"cpu"};
    if (torch::cuda::is_available())
        for (int i = 0; i < int(torch::cuda::device_count()); ++i)
            out.push_back("cuda:" + std::to_string(i));
    return out;
}

std::string libtorchVersion()
{
    return TORCH_VERSION;
}

std::string cudaDescription()
{
    if (!torch::cuda::is_available())
        return "none usable (CPU only)";
    const long runtime = at::detail::getCUDAHooks().versionCUDART();  // 12010: 12.1
    const auto gpus = torch::cuda::device_count();
    return "CUDA runtime " + std::to_string(runtime / 1000) + "." + std::to_string(runtime % 1000 / 10) + ", "
           + std::to_string(gpus) + (gpus == 1 ? " GPU" : " GPUs");
}

std::string versionReport(const std::string& program)
{
    return program + " " + io::attnvizVersion() + "\ncommit " + io::attnvizCommit() + "\nLibTorch " + libtorchVersion()
           + "\nCUDA: " + cudaDescription() + "\n";
}

namespace {

void setBlasThreads(int threads)
{
    // Looked up at run time: the BLAS behind libtorch may or may not be OpenBLAS.
    using SetThreads = void (*)(int);
    if (auto set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads")))
        set(threads);
}

int envThreads(const char* name, int fallback)
{
    const char* value = std::getenv(name);
    return value ? std::max(1, std::atoi(value)) : fallback;
}

}  // namespace

ThreadSetting configureThreads(int torchThreads)
{
    ThreadSetting s;
    if (torchThreads > 0) {
        s = {torchThreads, 1};
    } else {
        // Batch-1 inference spends its time in large sgemm calls that only BLAS
        // threads split (docs/benchmarks.md); the environment overrides for benchmarks.
        const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
        s = {envThreads("ATTNVIZ_TORCH_THREADS", 1), envThreads("ATTNVIZ_BLAS_THREADS", cores)};
    }
    setBlasThreads(s.blas);
    torch::set_num_threads(s.torch);
    return s;
}

}  // namespace attnviz::engine
