#pragma once

#include "core/engine/cnn/convnet.h"
#include "core/engine/loading/weightsource.h"
#include "core/io/modelconfig.h"

#include <vector>

namespace attnviz::engine::cnn {

// One CNN family as its checkpoints lay it out: whether a checkpoint's keys are this
// family's, and how to read its network (filling the spec's architecture, variant,
// naming, class count and input channels).
struct FamilyReader {
    const char* architecture;  // "resnet", "vgg", ...
    bool (*matches)(const WeightSource& source);
    Network (*read)(WeightSource& source, const io::ModelConfig& config, ModelSpec& spec);
};

const std::vector<FamilyReader>& familyReaders();

// The families, one file each.
bool looksLikeResNet(const WeightSource& s);
Network readResNet(WeightSource& s, const io::ModelConfig& config, ModelSpec& spec);
bool looksLikeVgg(const WeightSource& s);
Network readVgg(WeightSource& s, const io::ModelConfig& config, ModelSpec& spec);
bool looksLikeDenseNet(const WeightSource& s);
Network readDenseNet(WeightSource& s, const io::ModelConfig& config, ModelSpec& spec);
bool looksLikeMobileNetV2(const WeightSource& s);
Network readMobileNetV2(WeightSource& s, const io::ModelConfig& config, ModelSpec& spec);
bool looksLikeMobileNetV3(const WeightSource& s);
Network readMobileNetV3(WeightSource& s, const io::ModelConfig& config, ModelSpec& spec);
bool looksLikeEfficientNet(const WeightSource& s);
Network readEfficientNet(WeightSource& s, const io::ModelConfig& config, ModelSpec& spec);
bool looksLikeTimmEfficientNet(const WeightSource& s);
Network readTimmEfficientNet(WeightSource& s, const io::ModelConfig& config, ModelSpec& spec);
bool looksLikeRegNet(const WeightSource& s);
Network readRegNet(WeightSource& s, const io::ModelConfig& config, ModelSpec& spec);
bool looksLikeConvNeXt(const WeightSource& s);
Network readConvNeXt(WeightSource& s, const io::ModelConfig& config, ModelSpec& spec);

}  // namespace attnviz::engine::cnn
