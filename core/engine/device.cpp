#include "core/engine/device.h"

#include "core/engine/engineerror.h"

#include <ATen/Context.h>

#include <dlfcn.h>

#include <cstdlib>
#include <thread>

namespace attnviz::engine {

torch::Device parseDevice(const std::string& name)
{
    if (name == "cpu")
        return torch::kCPU;
    if (name.rfind("cuda", 0) != 0)
        throw EngineError("unknown device '" + name + "' (use cpu, cuda or cuda:N)");
    if (!torch::cuda::is_available())
        throw EngineError("device '" + name + "' asked for, but this LibTorch build has no CUDA "
                          "or no GPU is visible; use --device cpu");
    int index = 0;
    if (name.size() > 4) {
        if (name[4] != ':')
            throw EngineError("unknown device '" + name + "' (use cpu, cuda or cuda:N)");
        try {
            std::size_t used = 0;
            index = std::stoi(name.substr(5), &used);
            if (used != name.size() - 5)
                throw std::invalid_argument(name);
        } catch (const std::exception&) {
            throw EngineError("unknown device '" + name + "' (use cpu, cuda or cuda:N)");
        }
    }
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

void configureThreads(int torchThreads)
{
    // Looked up at run time: the BLAS behind libtorch may or may not be OpenBLAS.
    using SetThreads = void (*)(int);
    // ATTNVIZ_BLAS_THREADS exists for the benchmark that justifies the default of 1.
    const char* blasEnv = std::getenv("ATTNVIZ_BLAS_THREADS");
    const int blasThreads = blasEnv ? std::max(1, std::atoi(blasEnv)) : 1;
    if (auto setBlasThreads = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads")))
        setBlasThreads(blasThreads);
    if (torchThreads <= 0)
        torchThreads = int(std::max(1u, std::thread::hardware_concurrency()));
    torch::set_num_threads(torchThreads);
}

}  // namespace attnviz::engine
