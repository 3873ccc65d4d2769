// Benchmark (not a test): the work the window runs on its worker threads with a
// progress line, for ViT-B/16 and ResNet-50 (the torchvision-architecture fixtures of
// the reference tests), CPU, default threads:
//   - effective field sizes of every block / stage (the receptive-field plot);
//   - minibatch CKA of both models over random 224x224 images (the CKA tab);
//   - how soon a cancelled ViT-B/16 gradient rollout returns (Cancel, a newer request).
// Usage: bench_longwork VIT_MODEL CNN_MODEL [RUNS] [CKA_IMAGES]   prints medians.
#include "core/engine/cancellation.h"
#include "core/engine/methods/effectivefield.h"
#include "core/engine/methods/gradrollout.h"
#include "core/engine/model/classifier.h"
#include "core/engine/model/device.h"
#include "core/engine/study/ckastudy.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <thread>
#include <vector>

namespace {

double medianSeconds(int runs, const std::function<void()>& work)
{
    std::vector<double> seconds;
    for (int i = 0; i < runs; ++i) {
        const auto start = std::chrono::steady_clock::now();
        work();
        seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(seconds.begin(), seconds.end());
    return seconds[seconds.size() / 2];
}

}  // namespace

int main(int argc, char** argv)
{
    using namespace attnviz;
    if (argc < 3) {
        std::fprintf(stderr, "usage: bench_longwork VIT_MODEL CNN_MODEL [RUNS] [CKA_IMAGES]\n");
        return 2;
    }
    engine::configureThreads();
    const auto vit = engine::loadClassifier(argv[1]);
    const auto cnn = engine::loadClassifier(argv[2]);
    const int runs = argc > 3 ? std::atoi(argv[3]) : 3;
    const auto images = std::size_t(argc > 4 ? std::atoi(argv[4]) : 64);
    torch::manual_seed(1);
    const auto input = torch::randn({1, 3, 224, 224});

    const double forwardVit = medianSeconds(runs, [&] { vit->forward(input); });
    const double forwardCnn = medianSeconds(runs, [&] { cnn->forward(input); });
    const double fieldsVit = medianSeconds(runs, [&] { engine::effectiveFieldSizes(*vit, input); });
    const double fieldsCnn = medianSeconds(runs, [&] { engine::effectiveFieldSizes(*cnn, input); });
    std::printf("forward pass:          ViT-B/16 %.0f ms, ResNet-50 %.0f ms\n", forwardVit * 1e3, forwardCnn * 1e3);
    std::printf("effective field sizes: ViT-B/16 %.0f ms (%d blocks), ResNet-50 %.0f ms (6 stages)\n", fieldsVit * 1e3,
                int(vit->spec().depth), fieldsCnn * 1e3);

    // Random images stand in for a decoded folder: this times the models and CKA only.
    const auto pool = torch::randn({int64_t(images), 3, 224, 224});
    const auto load = [&](std::size_t first, std::size_t count, const engine::CkaModel&) {
        return pool.narrow(0, int64_t(first), int64_t(count));
    };
    const std::vector<engine::CkaModel> models{{"vit", vit.get()}, {"cnn", cnn.get()}};
    const double cka = medianSeconds(1, [&] { engine::compareLayers(models, images, 32, load); });
    std::printf("CKA, both models, %zu images in minibatches of 32: %.1f s (%.0f ms per image)\n", images, cka,
                cka * 1e3 / double(images));

    // Cancel latency: ViT-B/16 gradient rollout (forward, then backward) on a worker
    // thread, stopped at a quarter (in the forward) and at three quarters (in the
    // backward) of its uncancelled time; the time from the stop to the worker's return.
    const double rollout = medianSeconds(runs, [&] { engine::gradientRollout(*vit, input, -1, {}); });
    std::printf("gradient rollout, ViT-B/16: %.0f ms uncancelled\n", rollout * 1e3);
    for (const double at : {0.25, 0.75}) {
        std::vector<double> latencies;
        int cancelled = 0;
        for (int i = 0; i < runs; ++i) {
            std::atomic<bool> stop{false};
            std::chrono::steady_clock::time_point returned;
            std::thread worker([&] {
                engine::CancellationScope scope([&] { return stop.load(); });
                try {
                    engine::gradientRollout(*vit, input, -1, {});
                } catch (const engine::Cancelled&) {
                    ++cancelled;
                }
                returned = std::chrono::steady_clock::now();
            });
            std::this_thread::sleep_for(std::chrono::duration<double>(rollout * at));
            const auto asked = std::chrono::steady_clock::now();
            stop = true;
            worker.join();
            latencies.push_back(std::chrono::duration<double>(returned - asked).count());
        }
        std::sort(latencies.begin(), latencies.end());
        std::printf("cancel at %.0f%% of it: returned after median %.1f ms, max %.1f ms (%d of %d runs cancelled)\n",
                    at * 100, latencies[latencies.size() / 2] * 1e3, latencies.back() * 1e3, cancelled, runs);
    }
    return 0;
}
