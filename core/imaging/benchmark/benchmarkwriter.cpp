#include "core/imaging/benchmark/benchmarkwriter.h"

#include "core/imaging/benchmark/scene.h"
#include "core/imaging/pngwriter.h"
#include "core/io/atomicfile.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <stdexcept>

namespace attnviz::imaging::benchmark {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSplits[] = {"train", "test"};

std::string fileName(std::uint64_t index)
{
    char name[32];
    std::snprintf(name, sizeof name, "%05llu.png", static_cast<unsigned long long>(index));
    return name;
}

nlohmann::ordered_json shapeJson(const DrawnShape& s)
{
    return {{"kind", s.kind},     {"box", s.box},
            {"colour", s.colour}, {"centre", {s.centreX, s.centreY}},
            {"radius", s.radius}, {"rotation_degrees", s.rotationDegrees}};
}

nlohmann::ordered_json sceneJson(const Scene& scene, const std::string& image, const std::string& mask)
{
    auto distractors = nlohmann::ordered_json::array();
    for (const auto& d : scene.distractors)
        distractors.push_back(shapeJson(d));
    return {{"image", image},
            {"mask", mask},
            {"label", scene.label},
            {"object", shapeJson(scene.object)},
            {"distractors", distractors},
            {"background", {{"from", scene.backgroundFrom}, {"to", scene.backgroundTo}}}};
}

void makeFolders(const fs::path& root)
{
    for (const char* split : kSplits)
        for (const auto& name : classNames()) {
            fs::create_directories(root / split / name);
            fs::create_directories(root / "masks" / split / name);
        }
}

}  // namespace

bool writeBenchmark(const BenchmarkRequest& request, const std::function<bool(std::size_t, std::size_t)>& progress)
{
    const fs::path root(request.outDir);
    std::error_code error;
    if (fs::exists(root, error) && !(fs::is_directory(root, error) && fs::is_empty(root, error)))
        throw std::runtime_error("'" + request.outDir + "' exists and is not an empty folder; give a new one");
    makeFolders(root);

    const std::size_t counts[] = {request.trainCount, request.testCount};
    const std::size_t total = counts[0] + counts[1];
    std::size_t done = 0;
    nlohmann::ordered_json index = {{"benchmark", "attnviz colour shapes"},
                                    {"seed", request.seed},
                                    {"size", kSceneSize},
                                    {"classes", classNames()},
                                    {"counts", {{"train", counts[0]}, {"test", counts[1]}}},
                                    {"mask", "255 on the object's pixels: the pixels that decide the class"}};
    SceneOptions options;
    options.easy = request.easy;
    if (request.easy)
        index["easy"] = "the gradient and the object only: no texture, clutter or distractors";
    for (int split = 0; split < 2; ++split) {
        auto scenes = nlohmann::ordered_json::array();
        for (std::uint64_t i = 0; i < counts[split]; ++i) {
            const auto scene = makeScene(request.seed, split, i, options);
            const auto relative = fs::path(kSplits[split]) / classNames().at(std::size_t(scene.label)) / fileName(i);
            const auto maskRelative = fs::path("masks") / relative;
            writePng((root / relative).string(), scene.image, {});
            writePng((root / maskRelative).string(), scene.mask, {});
            scenes.push_back(sceneJson(scene, relative.generic_string(), maskRelative.generic_string()));
            if (progress && !progress(++done, total))
                return false;
        }
        index[kSplits[split]] = std::move(scenes);
    }
    const auto text = index.dump(1) + "\n";
    io::AtomicFile file((root / "index.json").string());
    file.write(text.data(), text.size());
    file.commit();
    return true;
}

}  // namespace attnviz::imaging::benchmark
