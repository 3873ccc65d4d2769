#include "core/imaging/probeimages.h"

#include "core/imaging/imagebatches.h"
#include "core/io/idxdataset.h"

#include <cmath>
#include <filesystem>
#include <memory>
#include <stdexcept>

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

engine::LabelledSet openLabelledSet(const std::string& path, const engine::LabelledSetOptions& o)
{
    if (io::holdsIdxSplit(path, o.trainSplit)) {
        if (!o.testRoot.empty())
            throw std::runtime_error("'" + path
                                     + "' holds IDX files, whose held-out split is --test-split, not a "
                                       "second folder");
        return engine::openIdxSet(path, o);
    }
    if (!std::filesystem::is_directory(path))
        throw std::runtime_error("cannot read the folder '" + path + "'");
    bool hasSubfolder = false;
    for (const auto& entry : std::filesystem::directory_iterator(path))
        hasSubfolder = hasSubfolder || entry.is_directory();
    if (!hasSubfolder)
        throw std::runtime_error("'" + path + "' holds neither IDX files (" + o.trainSplit
                                 + "-labels-idx1-ubyte[.gz]) nor class subfolders (ROOT/CLASS/IMAGE)");
    io::ImageFolderSplit split;
    std::string description;
    if (!o.testRoot.empty()) {
        split.train = io::readImageFolder(path);
        split.test = io::readImageFolder(o.testRoot);
        if (split.test.classes != split.train.classes)
            throw std::runtime_error("the held-out tree '" + o.testRoot + "' has other class folders than '" + path
                                     + "'");
        description = "ImageFolder trees, held out: " + o.testRoot;
    } else {
        split = io::splitImageFolder(io::readImageFolder(path), o.heldOut);
        description = "ImageFolder tree, " + std::to_string(int(std::lround(o.heldOut * 100)))
                      + " % of each class held out";
    }
    split.train = io::evenlySpaced(split.train, o.limit);
    split.test = io::evenlySpaced(split.test, o.testLimit);
    return {description, [split](const engine::Preprocessing& p) { return probeDataFrom(split, p); }};
}

}  // namespace attnviz::imaging
