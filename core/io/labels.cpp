#include "core/io/labels.h"

#include "core/io/rawtensor.h"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace attnviz::io {

extern const char* const kImagenetLabelsText;  // generated from resources/labels/imagenet1k.txt

namespace {

// The non-empty lines of `in`, without a line's trailing '\r'.
std::vector<std::string> nonEmptyLines(std::istream& in)
{
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) {
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        if (!line.empty())
            out.push_back(line);
    }
    return out;
}

}  // namespace

const std::vector<std::string>& imagenetLabels()
{
    static const std::vector<std::string> labels = [] {
        std::istringstream in(kImagenetLabelsText);
        return nonEmptyLines(in);
    }();
    return labels;
}

std::vector<std::string> readLabelFile(const std::string& path)
{
    std::ifstream in(path);
    if (!in)
        throw FormatError("cannot read the label file '" + path + "'");
    auto labels = nonEmptyLines(in);
    if (labels.empty())
        throw FormatError("the label file '" + path + "' names no classes (one a line)");
    return labels;
}

const std::vector<std::string>& fashionMnistLabels()
{
    static const std::vector<std::string> labels{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                 "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
    return labels;
}

std::vector<std::string> labelsFor(const ModelConfig& config, int numClasses)
{
    if (!config.labelNames.empty()) {
        if (int(config.labelNames.size()) != numClasses)
            throw FormatError("config '" + config.path + "' names " + std::to_string(config.labelNames.size())
                              + " labels but the model has " + std::to_string(numClasses) + " classes");
        return config.labelNames;
    }
    if (numClasses == int(imagenetLabels().size()))
        return imagenetLabels();
    std::vector<std::string> out;
    out.reserve(std::size_t(std::max(numClasses, 0)));
    for (int i = 0; i < numClasses; ++i)
        out.push_back("class " + std::to_string(i));
    return out;
}

}  // namespace attnviz::io
