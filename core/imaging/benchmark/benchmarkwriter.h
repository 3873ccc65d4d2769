#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace attnviz::imaging::benchmark {

struct BenchmarkRequest {
    std::string outDir;
    std::uint64_t seed = 0;
    std::size_t trainCount = 0;
    std::size_t testCount = 0;
    bool easy = false;  // SceneOptions::easy: the gradient and the object only
};

// Writes the benchmark (scene.h) as an ImageFolder tree, one file per scene:
//   OUT/{train,test}/CLASS/NNNNN.png         the scenes, RGB 64 x 64
//   OUT/masks/{train,test}/CLASS/NNNNN.png   their object masks, grey, 255 = the object
//   OUT/index.json                           every scene's object and distractors
// NNNNN is the scene's index in its split. Each file is written atomically and the index
// last, so a tree without index.json is an interrupted run. Refuses an OUT that exists
// and is not empty (nothing of a user's is overwritten). `progress(done, total)` after
// each scene; returning false stops the run (false is then returned). Throws
// std::runtime_error with one line.
bool writeBenchmark(const BenchmarkRequest& request, const std::function<bool(std::size_t, std::size_t)>& progress);

}  // namespace attnviz::imaging::benchmark
