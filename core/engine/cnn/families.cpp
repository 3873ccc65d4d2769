#include "core/engine/cnn/families.h"

namespace attnviz::engine::cnn {

const std::vector<FamilyReader>& familyReaders()
{
    // Most specific first: every signature below is unique to its family.
    static const std::vector<FamilyReader> readers{
        {"resnet", "conv1, bn1, layer1.0.conv1", looksLikeResNet, readResNet},
        {"regnet", "stem.0, trunk_output.block1", looksLikeRegNet, readRegNet},
        {"densenet", "features.conv0, features.denseblock1", looksLikeDenseNet, readDenseNet},
        {"convnext", "features.0.0 (4x4), features.1.0.block, layer_scale", looksLikeConvNeXt, readConvNeXt},
        {"efficientnet", "features.1.0.block, classifier.1", looksLikeEfficientNet, readEfficientNet},
        {"efficientnet", "conv_stem, blocks.0.0.conv_dw, conv_head (timm)", looksLikeTimmEfficientNet,
         readTimmEfficientNet},
        {"mobilenet_v3", "features.1.block, classifier.3", looksLikeMobileNetV3, readMobileNetV3},
        {"mobilenet_v2", "features.1.conv, classifier.1", looksLikeMobileNetV2, readMobileNetV2},
        {"vgg", "features.0 (3x3), classifier.0, classifier.3", looksLikeVgg, readVgg},
    };
    return readers;
}

}  // namespace attnviz::engine::cnn
