#include "core/engine/modelspec.h"

namespace attnviz::engine {

std::string familyName(Family family) { return family == Family::ViT ? "vit" : "cnn"; }

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

}  // namespace attnviz::engine
