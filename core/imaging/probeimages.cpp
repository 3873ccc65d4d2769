#include "core/imaging/probeimages.h"

#include "core/imaging/imagebatches.h"

#include <memory>

namespace attnviz::imaging {

engine::ProbeData probeDataFrom(const io::ImageFolderSplit& split, const engine::Preprocessing& p)
{
    engine::ProbeData data;
    data.trainLabels = torch::tensor(split.train.labels, torch::kLong);
    data.testLabels = torch::tensor(split.test.labels, torch::kLong);
    data.classes = int(split.train.classes.size());
    auto train = std::make_shared<ImageBatches>(split.train.paths);
    auto test = std::make_shared<ImageBatches>(split.test.paths);
    data.load = [train, test, p](bool held, std::size_t first, std::size_t count) {
        return (held ? *test : *train).batch(first, count, p);
    };
    return data;
}

}  // namespace attnviz::imaging
