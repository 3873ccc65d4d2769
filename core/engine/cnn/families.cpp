#include "core/engine/cnn/families.h"

namespace attnviz::engine::cnn {

const std::vector<FamilyReader>& familyReaders()
{
    // Most specific first: the keys each recognises (in the comments) are its family's alone.
    static const std::vector<FamilyReader> readers{
        {"resnet", looksLikeResNet, readResNet},                            // conv1, bn1, layer1.0.conv1
        {"regnet", looksLikeRegNet, readRegNet},                            // stem.0, trunk_output.block1
        {"densenet", looksLikeDenseNet, readDenseNet},                      // features.conv0, features.denseblock1
        {"convnext", looksLikeConvNeXt, readConvNeXt},                      // features.1.0.block / stages.0.blocks
        {"efficientnet", looksLikeEfficientNet, readEfficientNet},          // features.1.0.block.0.0
        {"efficientnet", looksLikeTimmEfficientNet, readTimmEfficientNet},  // conv_stem, blocks.0.0.conv_dw
        {"mobilenet_v3", looksLikeMobileNetV3, readMobileNetV3},            // features.1.block.0.0
        {"mobilenet_v2", looksLikeMobileNetV2, readMobileNetV2},            // features.1.conv.0.0
        {"vgg", looksLikeVgg, readVgg},                                     // features.0 (conv), classifier.0/3
    };
    return readers;
}

}  // namespace attnviz::engine::cnn
