#pragma once

// The two committed timm fixtures the attribution references run on
// (tests/scripts/attribution_models.py): "cnn", a small ResNet-D, and "vit", a small
// DeiT III. A test that includes this defines ATTNVIZ_TIMM_FIXTURES and ATTNVIZ_VIT_FIXTURES.

#include "core/engine/model/classifier.h"

#include <memory>
#include <string>

namespace attnviz::testing {

inline std::unique_ptr<engine::Classifier> loadAttributionModel(const std::string& model)
{
    if (model == "cnn")
        return engine::loadClassifier(ATTNVIZ_TIMM_FIXTURES "timm_resnet_d");
    engine::LoadOptions options;
    options.heads = 4;  // timm's config does not say a ViT's heads
    return engine::loadClassifier(ATTNVIZ_VIT_FIXTURES "timm_deit3", options);
}

}  // namespace attnviz::testing
