#include "app/cli/arguments.h"
#include "app/cli/commands.h"

#include "core/engine/attentiondistance.h"
#include "core/engine/classifier.h"
#include "core/engine/engineerror.h"
#include "core/engine/tensorconvert.h"
#include "core/io/safetensors.h"
#ifdef ATTNVIZ_HAVE_IMAGING
#include "core/imaging/imagedecoder.h"
#include "core/imaging/preprocess.h"
#endif

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <iostream>

namespace attnviz::cli {
namespace {

bool isImageFile(const std::filesystem::path& path)
{
    auto ext = path.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    for (const char* known : {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"})
        if (ext == known)
            return true;
    return false;
}

std::vector<std::string> imagesIn(const std::string& dir)
{
    std::error_code ec;
    std::vector<std::string> out;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
        if (entry.is_regular_file() && isImageFile(entry.path()))
            out.push_back(entry.path().string());
    if (ec)
        throw engine::EngineError("cannot read the folder '" + dir + "': " + ec.message());
    if (out.empty())
        throw engine::EngineError("no images (.png, .jpg, .bmp, .webp, .tif) in '" + dir + "'");
    std::sort(out.begin(), out.end());
    return out;
}

// The model inputs [1, C, H, W] to average over.
std::vector<torch::Tensor> inputs(const Arguments& args, const engine::ModelSpec& spec)
{
    if (auto tensor = args.value("tensor")) {
        const auto file = io::readSafetensors(*tensor);
        const auto it = file.tensors.count("vit.input") ? file.tensors.find("vit.input") : file.tensors.find("input");
        if (it == file.tensors.end())
            throw engine::EngineError("the --tensor file has neither 'vit.input' nor 'input'");
        return {engine::toTorch(it->second).to(torch::kFloat32)};
    }
#ifdef ATTNVIZ_HAVE_IMAGING
    const auto paths = args.value("image") ? std::vector<std::string>{*args.value("image")} : imagesIn(*args.value("images"));
    std::vector<torch::Tensor> out;
    for (const auto& path : paths)
        out.push_back(imaging::preprocessImage(imaging::decodeImageRgb(path), spec.preprocessing).tensor);
    return out;
#else
    (void)spec;
    throw UsageError("this build has no image support (built without OpenCV); use --tensor");
#endif
}

}  // namespace

int runMad(const std::vector<std::string>& words)
{
    const Arguments args(words, {"vit", "image", "images", "tensor", "heads"});
    if (!args.positional().empty())
        throw UsageError("unexpected argument '" + args.positional()[0] + "'");
    if (int(bool(args.value("image"))) + int(bool(args.value("images"))) + int(bool(args.value("tensor"))) != 1)
        throw UsageError("give exactly one of --image IMG, --images DIR and --tensor FILE");
    engine::LoadOptions load;
    load.heads = args.intValue("heads", 0, 1);
    const auto model = engine::loadClassifier(args.required("vit"), load);
    if (model->spec().family != engine::Family::ViT)
        throw UsageError("mad needs a ViT; '" + *args.value("vit") + "' is a " + model->spec().description);
    const auto batch = inputs(args, model->spec());
    std::vector<torch::Tensor> sums;  // per layer [H]
    for (const auto& input : batch) {
        const auto trace = model->forward(input);
        for (std::size_t l = 0; l < trace.attentions.size(); ++l) {
            const auto d = engine::meanAttentionDistance(trace.attentions[l], trace.tokens);
            if (sums.size() <= l)
                sums.push_back(d);
            else
                sums[l] += d;
        }
    }
    auto layers = nlohmann::ordered_json::array();
    for (const auto& s : sums) {
        const auto mean = (s / double(batch.size())).contiguous();
        layers.push_back(std::vector<float>(mean.data_ptr<float>(), mean.data_ptr<float>() + mean.numel()));
    }
    nlohmann::ordered_json out = {{"model", *args.value("vit")}, {"images", batch.size()}, {"unit", "pixels of the model input"},
                                  {"layers", layers}};
    std::cout << out.dump(2) << "\n";
    return 0;
}

}  // namespace attnviz::cli
