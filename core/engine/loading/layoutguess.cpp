#include "core/engine/loading/layoutguess.h"

#include "core/io/bytes.h"

#include <vector>

namespace attnviz::engine {
namespace {

struct Layout {
    const char* name;
    std::vector<const char*> prefixes;  // the module paths its keys start with
};

const std::vector<Layout>& layouts()
{
    static const std::vector<Layout> all{
        {"timm ViT",
         {"cls_token", "pos_embed", "patch_embed.", "blocks.", "norm.", "fc_norm.", "head.", "reg_token", "dist_token",
          "head_dist."}},
        {"torchvision ViT", {"class_token", "conv_proj.", "encoder.", "heads."}},
        {"HF transformers ViT", {"vit.", "embeddings.", "encoder.layer.", "layernorm.", "pooler.", "classifier."}},
        {"torchvision/timm ResNet", {"conv1.", "bn1.", "layer1.", "layer2.", "layer3.", "layer4.", "fc."}},
        {"torchvision RegNet", {"stem.", "trunk_output.", "fc."}},
        {"torchvision DenseNet",
         {"features.conv0.", "features.norm0.", "features.denseblock", "features.transition", "features.norm5.",
          "classifier."}},
        {"torchvision ConvNeXt / EfficientNet / MobileNet / VGG", {"features.", "classifier."}},
        {"timm ConvNeXt", {"stem.", "stages.", "head."}},
        {"timm EfficientNet", {"conv_stem.", "bn1.", "blocks.", "conv_head.", "bn2.", "classifier."}},
    };
    return all;
}

bool placed(const Layout& layout, const std::string& key)
{
    for (const char* prefix : layout.prefixes)
        if (key.rfind(prefix, 0) == 0)
            return true;
    return false;
}

}  // namespace

std::string nearestLayout(const io::TensorMap& tensors)
{
    const Layout* best = nullptr;
    std::size_t bestCount = 0;
    for (const auto& layout : layouts()) {
        std::size_t count = 0;
        for (const auto& entry : tensors)
            count += placed(layout, entry.first);
        if (count > bestCount)
            best = &layout, bestCount = count;
    }
    if (!best)
        return "no known layout places any of its keys";
    std::string unplaced;
    int shown = 0;
    for (auto it = tensors.begin(); it != tensors.end() && shown < 3; ++it)
        if (!placed(*best, it->first))
            unplaced += std::string(shown++ ? ", " : "") + "'" + io::printable(it->first) + "'";
    std::string line = "nearest layout: " + std::string(best->name) + " (" + std::to_string(bestCount) + " of "
                       + std::to_string(tensors.size()) + " keys)";
    return line
           + (unplaced.empty() ? "; its readers did not recognise the block layout"
                               : "; first keys it cannot place: " + unplaced);
}

}  // namespace attnviz::engine
