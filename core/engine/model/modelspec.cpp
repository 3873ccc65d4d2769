#include "core/engine/model/modelspec.h"

#include <stdexcept>

namespace attnviz::engine {

std::string familyName(Family family)
{
    return family == Family::ViT ? "vit" : "cnn";
}

Family familyFromName(const std::string& name)
{
    for (const auto family : kFamilies)
        if (familyName(family) == name)
            return family;
    throw std::invalid_argument("no model family '" + name + "' (vit or cnn)");
}

std::string namingName(Naming naming)
{
    switch (naming) {
    case Naming::Timm: return "timm";
    case Naming::Torchvision: return "torchvision";
    case Naming::HF: return "hf";
    case Naming::OpenCLIP: return "open_clip";
    }
    return "timm";
}

std::string mlpName(ViTMlp mlp)
{
    switch (mlp) {
    case ViTMlp::Gelu: return "gelu";
    case ViTMlp::QuickGelu: return "quick_gelu";
    case ViTMlp::SwiGlu: return "swiglu";
    case ViTMlp::GeluTanh: return "gelu_tanh";
    }
    return "gelu";
}

}  // namespace attnviz::engine
