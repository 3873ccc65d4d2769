#include "app/cli/arguments.h"
#include "app/cli/commands.h"
#include "app/cli/interrupt.h"
#include "app/cli/progressline.h"

#include "core/engine/cancellation.h"
#ifdef ATTNVIZ_HAVE_IMAGING
#include "core/imaging/benchmark/benchmarkwriter.h"
#include "core/imaging/benchmark/scene.h"
#endif

#include <nlohmann/json.hpp>

#include <iostream>

namespace attnviz::cli {

// benchmark make --out DIR --count N [--test-count M] [--seed S] [--easy]: the
// colour-shapes benchmark (core/imaging/benchmark) as an ImageFolder tree with masks and
// an index; --easy leaves out the texture, clutter and distractors (a curriculum's start).
int runBenchmark(const std::vector<std::string>& words)
{
    const Arguments args(words, {"out", "count", "test-count", "seed"}, {"easy"});
    if (args.positional().size() != 1 || args.positional()[0] != "make")
        throw UsageError("usage: benchmark make --out DIR --count N [--test-count M] [--seed S] [--easy]");
#ifdef ATTNVIZ_HAVE_IMAGING
    imaging::benchmark::BenchmarkRequest request;
    request.outDir = args.required("out");
    request.trainCount = std::size_t(args.intValue("count", 0, 1));
    if (!args.value("count"))
        throw UsageError("benchmark make needs --count N (the number of training scenes)");
    request.testCount = std::size_t(
        args.intValue("test-count", int(std::max<std::size_t>(10, request.trainCount / 5)), 1));
    request.seed = std::uint64_t(args.intValue("seed", 0, 0));
    request.easy = args.flag("easy");
    ProgressLine progress(std::cerr);
    bool finished = false;
    {
        InterruptScope interrupt;
        finished = imaging::benchmark::writeBenchmark(request, [&](std::size_t done, std::size_t total) {
            progress.imagesDone("benchmark", done, total);
            return !engine::cancellationRequested();
        });
    }
    if (!finished) {
        std::cerr << "\nbenchmark: interrupted; " << request.outDir
                  << " has no index.json and is incomplete: remove it and run again\n";
        return 130;
    }
    std::cout << nlohmann::ordered_json{{"out", request.outDir},
                                        {"seed", request.seed},
                                        {"train", request.trainCount},
                                        {"test", request.testCount},
                                        {"easy", request.easy},
                                        {"size", imaging::benchmark::kSceneSize},
                                        {"classes", imaging::benchmark::classNames()}}
                     .dump(2)
              << "\n";
    return 0;
#else
    throw UsageError("this build has no image support (built without OpenCV): benchmark make needs it");
#endif
}

}  // namespace attnviz::cli
