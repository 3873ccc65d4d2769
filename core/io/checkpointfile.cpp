#include "core/io/checkpointfile.h"

#include "core/io/bytes.h"
#include "core/io/safetensors.h"
#include "core/io/torchcheckpoint.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace attnviz::io {
namespace {

namespace fs = std::filesystem;

bool looksLikeZip(const fs::path& path)
{
    std::ifstream in(path, std::ios::binary);
    char magic[2] = {};
    return in.read(magic, 2) && magic[0] == 'P' && magic[1] == 'K';
}

// The weights file of a HF / timm folder, or of an open_clip one.
fs::path weightsInFolder(const fs::path& folder)
{
    for (const char* name :
         {"model.safetensors", "pytorch_model.bin", "open_clip_model.safetensors", "open_clip_pytorch_model.bin"}) {
        if (fs::is_regular_file(folder / name))
            return folder / name;
    }
    throw FormatError("folder '" + folder.string()
                      + "' has none of model.safetensors, pytorch_model.bin, open_clip_model.safetensors, "
                        "open_clip_pytorch_model.bin");
}

TensorMap readWeights(const fs::path& file)
{
    const std::string ext = file.extension().string();
    if (ext == ".safetensors")
        return readSafetensors(file.string()).tensors;
    if (ext == ".pth" || ext == ".pt" || ext == ".bin" || ext == ".ckpt" || looksLikeZip(file))
        return readTorchCheckpoint(file.string());
    return readSafetensors(file.string()).tensors;
}

}  // namespace

TensorMap stripWrapperPrefixes(TensorMap tensors)
{
    // HF classification checkpoints nest the backbone under "vit." / "dinov2." beside
    // "classifier.".
    std::string hfBackbone;
    for (const char* prefix : {"vit.", "dinov2."})
        if (tensors.count(std::string(prefix) + "embeddings.patch_embeddings.projection.weight"))
            hfBackbone = prefix;
    bool hasBackbone = false;
    for (const auto& entry : tensors)
        hasBackbone = hasBackbone || startsWith(entry.first, "backbone.")
                      || startsWith(entry.first, "module.backbone.");
    // open_clip's TimmModel (SigLIP towers, timm trunks with a projection): the image model
    // is timm's under "visual.trunk.", open_clip's projection head (timm_proj) under
    // "visual.head." ("head.proj" once stripped), beside the text tower, which keeps its
    // names.
    const bool openClipTrunk = tensors.count("visual.trunk.patch_embed.proj.weight") != 0;
    // The name a key has in the model, or "" for a key the model does not take.
    const auto stripped = [&](std::string name) -> std::string {
        if (startsWith(name, "module."))
            name.erase(0, 7);
        if (openClipTrunk && startsWith(name, "visual."))
            name.erase(0, startsWith(name, "visual.trunk.") ? 13 : 7);
        if (!hfBackbone.empty() && startsWith(name, hfBackbone))
            name.erase(0, hfBackbone.size());
        if (hasBackbone) {
            if (!startsWith(name, "backbone."))
                return {};  // e.g. the DINO projection head: not part of the backbone
            name.erase(0, 9);
        }
        return name;
    };
    TensorMap out;
    for (auto& [key, tensor] : tensors) {
        const std::string name = stripped(key);
        if (name.empty())
            continue;
        // `module.x` beside `x`, say: which one the model got would depend on the order.
        if (out.count(name)) {
            const std::string& mine = key;  // (a structured binding cannot be captured in C++17)
            const auto other = std::find_if(tensors.begin(), tensors.end(), [&](const auto& entry) {
                return entry.first != mine && stripped(entry.first) == name;
            });
            throw PrefixCollision("the keys '" + printable(other->first) + "' and '" + printable(key)
                                  + "' both name the tensor '" + printable(name)
                                  + "' once wrapper prefixes are removed");
        }
        out[name] = std::move(tensor);
    }
    return out;
}

Checkpoint loadCheckpoint(const std::string& modelPath)
{
    const fs::path path(modelPath);
    std::error_code ec;
    if (!fs::exists(path, ec))
        throw FormatError("model path '" + modelPath + "' does not exist");
    const bool isFolder = fs::is_directory(path, ec);
    const fs::path weights = isFolder ? weightsInFolder(path) : path;
    const fs::path folder = isFolder ? path : path.parent_path();

    Checkpoint ckpt;
    ckpt.modelPath = modelPath;
    ckpt.weightsPath = weights.string();
    try {
        ckpt.tensors = stripWrapperPrefixes(readWeights(weights));
    } catch (const PrefixCollision& e) {
        throw FormatError(ckpt.weightsPath + ": " + e.what());
    }
    if (ckpt.tensors.empty())
        throw FormatError("'" + ckpt.weightsPath + "' holds no tensors");
    const bool openClip = weights.filename().string().rfind("open_clip_", 0) == 0;
    const fs::path config = folder / (openClip ? "open_clip_config.json" : "config.json");
    const fs::path preprocessor = folder / "preprocessor_config.json";
    if (fs::is_regular_file(config, ec))
        ckpt.config = parseModelConfig(config.string(),
                                       fs::is_regular_file(preprocessor, ec) ? preprocessor.string() : "");
    return ckpt;
}

}  // namespace attnviz::io
