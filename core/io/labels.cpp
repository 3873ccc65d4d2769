#include "core/io/labels.h"

#include "core/io/rawtensor.h"

#include <sstream>

namespace attnviz::io {

extern const char* const kImagenetLabelsText;  // generated from resources/labels/imagenet1k.txt

const std::vector<std::string>& imagenetLabels()
{
    static const std::vector<std::string> labels = [] {
        std::vector<std::string> out;
        std::istringstream in(kImagenetLabelsText);
        for (std::string line; std::getline(in, line);)
            if (!line.empty())
                out.push_back(line);
        return out;
    }();
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
    for (int i = 0; i < numClasses; ++i)
        out.push_back("class " + std::to_string(i));
    return out;
}

}  // namespace attnviz::io
