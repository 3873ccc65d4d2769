#include "core/io/modelconfig.h"

#include "core/io/atomicfile.h"
#include "core/io/rawtensor.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <map>

namespace attnviz::io {
namespace {

using nlohmann::json;

json readJson(const std::string& path)
{
    std::ifstream in(path);
    if (!in)
        throw FormatError("cannot open '" + path + "'");
    try {
        return json::parse(in);
    } catch (const json::exception& e) {
        throw FormatError("'" + path + "' is not valid JSON: " + e.what());
    }
}

// The first of `keys` present in `j` with the wanted type, converted.
template <typename T>
std::optional<T> pick(const json& j, std::initializer_list<const char*> keys)
{
    if (!j.is_object())
        return std::nullopt;
    for (const char* key : keys) {
        auto it = j.find(key);
        if (it == j.end() || it->is_null())
            continue;
        try {
            return it->get<T>();
        } catch (const json::exception&) {
            throw FormatError(std::string("config field '") + key + "' has the wrong type: " + it->dump());
        }
    }
    return std::nullopt;
}

std::vector<std::string> labelsFromId2Label(const json& j)
{
    std::map<int, std::string> byIndex;
    for (const auto& [key, value] : j.items()) {
        try {
            byIndex[std::stoi(key)] = value.get<std::string>();
        } catch (const std::exception&) {
            throw FormatError("config id2label entry '" + key + "' is not an index with a name");
        }
    }
    std::vector<std::string> labels;
    for (const auto& [index, name] : byIndex) {
        if (index != int(labels.size()))
            return {};  // gaps: better no names than shifted ones
        labels.push_back(name);
    }
    return labels;
}

std::optional<std::string> interpolationFromPil(int resample)
{
    switch (resample) {
    case 0: return "nearest";
    case 2: return "bilinear";
    case 3: return "bicubic";
    default: return std::nullopt;
    }
}

void readPreprocess(const json& j, PreprocessConfig& p)
{
    if (auto size = pick<std::vector<int>>(j, {"input_size"})) {
        if (size->size() != 3)
            throw FormatError("config input_size must be [C, H, W]");
        p.inputSize = std::array<int, 3>{(*size)[0], (*size)[1], (*size)[2]};
    }
    if (auto v = pick<std::string>(j, {"interpolation"}))
        p.interpolation = v;
    if (auto v = pick<double>(j, {"crop_pct"}))
        p.cropPct = v;
    if (auto v = pick<std::string>(j, {"crop_mode"}))
        p.cropMode = v;
    if (auto v = pick<std::vector<double>>(j, {"mean", "image_mean"}))
        p.mean = v;
    if (auto v = pick<std::vector<double>>(j, {"std", "image_std"}))
        p.std = v;
}

// HF image processors: {"size": {"height": 224, "width": 224}, "resample": 2, ...}
// {"height": h, "width": w}, {"shortest_edge": s} or a plain number -> (h, w)
std::optional<std::array<int, 2>> hfSize(const json& j, const char* key)
{
    if (!j.contains(key))
        return std::nullopt;
    const json& v = j[key];
    if (v.is_number_integer())
        return std::array<int, 2>{v.get<int>(), v.get<int>()};
    if (v.is_object() && v.contains("height") && v.contains("width"))
        return std::array<int, 2>{v["height"].get<int>(), v["width"].get<int>()};
    if (v.is_object() && v.contains("shortest_edge"))
        return std::array<int, 2>{v["shortest_edge"].get<int>(), v["shortest_edge"].get<int>()};
    return std::nullopt;
}

// HF image processors resize to `size` (ViT: straight to H x W, a squash), then
// center-crop to `crop_size` when do_center_crop is set (DeiT).
void readHfPreprocessor(const json& j, PreprocessConfig& p, int channels)
{
    readPreprocess(j, p);
    if (auto resample = pick<int>(j, {"resample"}))
        p.interpolation = interpolationFromPil(*resample);
    const auto size = hfSize(j, "size");
    const auto crop = pick<bool>(j, {"do_center_crop"}).value_or(false) ? hfSize(j, "crop_size") : std::nullopt;
    if (crop && size) {
        p.inputSize = std::array<int, 3>{channels, (*crop)[0], (*crop)[1]};
        p.cropPct = double((*crop)[0]) / double((*size)[0]);
        p.cropMode = "center";
    } else if (size) {
        p.inputSize = std::array<int, 3>{channels, (*size)[0], (*size)[1]};
        p.cropPct = 1.0;
        p.cropMode = "squash";
    }
}

void readModelArgs(const json& args, ModelConfig& c)
{
    if (auto v = pick<int>(args, {"num_heads"})) c.numHeads = v;
    if (auto v = pick<int>(args, {"embed_dim"})) c.embedDim = v;
    if (auto v = pick<int>(args, {"depth"})) c.depth = v;
    if (auto v = pick<int>(args, {"patch_size"})) c.patchSize = v;
    if (auto v = pick<std::string>(args, {"global_pool"})) c.globalPool = v;
    if (auto v = pick<int>(args, {"stem_stride"})) c.stemStride = v;
    if (auto v = pick<bool>(args, {"stem_pool"})) c.stemPool = v;
}

// open_clip_config.json: {"model_cfg": {"quick_gelu", "vision_cfg": {"image_size",
// "layers", "width", "patch_size", "head_width"}}, "preprocess_cfg": {"mean", "std",
// "interpolation", "resize_mode"}}. Heads are width / head_width (open_clip's default 64).
void readOpenClipConfig(const json& j, ModelConfig& c)
{
    const json& model = j["model_cfg"];
    c.architecture = "open_clip";
    if (pick<bool>(model, {"quick_gelu"}).value_or(false))
        c.hiddenAct = "quick_gelu";
    const json vision = model.contains("vision_cfg") ? model["vision_cfg"] : json::object();
    // A timm image tower (SigLIP) is named by timm's architecture, which decides what
    // its weights cannot tell (the GELU variant).
    if (auto timmName = pick<std::string>(vision, {"timm_model_name"}))
        c.architecture = *timmName;
    const auto width = pick<int>(vision, {"width"});
    c.embedDim = width;
    c.depth = pick<int>(vision, {"layers"});
    c.patchSize = pick<int>(vision, {"patch_size"});
    if (width)
        c.numHeads = *width / pick<int>(vision, {"head_width"}).value_or(64);
    if (auto size = pick<int>(vision, {"image_size"}))
        c.preprocess.inputSize = std::array<int, 3>{3, *size, *size};
    const json pre = j.contains("preprocess_cfg") ? j["preprocess_cfg"] : json::object();
    c.preprocess.mean = pick<std::vector<double>>(pre, {"mean"});
    c.preprocess.std = pick<std::vector<double>>(pre, {"std"});
    c.preprocess.interpolation = pick<std::string>(pre, {"interpolation"});
    c.preprocess.cropPct = 1.0;  // open_clip resizes the shortest side to the size, then crops it
    if (pick<std::string>(pre, {"resize_mode"}) == std::string("squash"))  // SigLIP: straight to the size
        c.preprocess.cropMode = "squash";
}

}  // namespace

ModelConfig parseModelConfig(const std::string& path, const std::string& preprocessorPath)
{
    const json j = readJson(path);
    if (!j.is_object())
        throw FormatError("'" + path + "' is not a JSON object");
    ModelConfig c;
    c.present = true;
    c.path = path;
    try {
        c.architecture = pick<std::string>(j, {"architecture"}).value_or("");
        if (c.architecture.empty() && j.contains("architectures") && j["architectures"].is_array()
            && !j["architectures"].empty())
            c.architecture = j["architectures"][0].get<std::string>();
        c.numClasses = pick<int>(j, {"num_classes"});
        if (j.contains("model_cfg")) {
            readOpenClipConfig(j, c);
            return c;
        }
        // A CLIPModel / SiglipModel config nests the image tower's fields.
        const json& tower = j.contains("vision_config") && j["vision_config"].is_object() ? j["vision_config"] : j;
        c.numHeads = pick<int>(tower, {"num_attention_heads", "num_heads"});
        c.embedDim = pick<int>(tower, {"hidden_size", "embed_dim"});
        c.depth = pick<int>(tower, {"num_hidden_layers", "depth"});
        c.patchSize = pick<int>(tower, {"patch_size"});
        c.layerNormEps = pick<double>(tower, {"layer_norm_eps"});
        c.hiddenAct = pick<std::string>(tower, {"hidden_act"});
        c.swiglu = pick<bool>(tower, {"use_swiglu_ffn"});
        c.globalPool = pick<std::string>(j, {"global_pool"});
        if (j.contains("model_args"))
            readModelArgs(j["model_args"], c);
        if (auto labels = pick<std::vector<std::string>>(j, {"label_names", "labels"}))
            c.labelNames = *labels;
        else if (j.contains("id2label") && j["id2label"].is_object())
            c.labelNames = labelsFromId2Label(j["id2label"]);
        if (!c.numClasses && !c.labelNames.empty() && j.contains("id2label"))
            c.numClasses = int(c.labelNames.size());
        if (j.contains("evaluation") && j["evaluation"].is_object()) {
            const auto& e = j["evaluation"];
            c.evaluatedAccuracy = pick<double>(e, {"accuracy"});
            const auto split = pick<std::string>(e, {"split"}).value_or("");
            const auto count = pick<int>(e, {"count"});
            c.evaluatedOn = split + (count ? (split.empty() ? "" : ", ") + std::to_string(*count) + " images" : "");
        }
        readPreprocess(j, c.preprocess);
        if (j.contains("pretrained_cfg"))
            readPreprocess(j["pretrained_cfg"], c.preprocess);
        const int channels = pick<int>(tower, {"num_channels", "in_chans"}).value_or(3);
        if (auto size = pick<int>(tower, {"image_size", "img_size"}); size && !c.preprocess.inputSize)
            c.preprocess.inputSize = std::array<int, 3>{channels, *size, *size};
        if (!preprocessorPath.empty()) {
            readHfPreprocessor(readJson(preprocessorPath), c.preprocess, channels);
        }
    } catch (const json::exception& e) {
        throw FormatError("'" + path + "': unexpected content: " + e.what());
    } catch (const FormatError& e) {
        throw FormatError("'" + path + "': " + e.what());
    }
    return c;
}

namespace {

template <typename T>
void putIf(nlohmann::ordered_json& j, const char* key, const std::optional<T>& value)
{
    if (value)
        j[key] = *value;
}

}  // namespace

void writeModelConfig(const std::string& path, const ModelConfig& c, const std::string& extraJson)
{
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    j["architecture"] = c.architecture;
    putIf(j, "num_classes", c.numClasses);
    if (!c.labelNames.empty())
        j["label_names"] = c.labelNames;
    nlohmann::ordered_json args = nlohmann::ordered_json::object();
    putIf(args, "num_heads", c.numHeads);
    putIf(args, "embed_dim", c.embedDim);
    putIf(args, "depth", c.depth);
    putIf(args, "patch_size", c.patchSize);
    putIf(args, "global_pool", c.globalPool);
    putIf(args, "stem_stride", c.stemStride);
    putIf(args, "stem_pool", c.stemPool);
    putIf(j, "layer_norm_eps", c.layerNormEps);
    j["model_args"] = args;
    nlohmann::ordered_json pre = nlohmann::ordered_json::object();
    putIf(pre, "input_size", c.preprocess.inputSize);
    putIf(pre, "interpolation", c.preprocess.interpolation);
    putIf(pre, "crop_pct", c.preprocess.cropPct);
    putIf(pre, "crop_mode", c.preprocess.cropMode);
    putIf(pre, "mean", c.preprocess.mean);
    putIf(pre, "std", c.preprocess.std);
    j["pretrained_cfg"] = pre;
    try {
        j.update(nlohmann::ordered_json::parse(extraJson));
    } catch (const json::exception& e) {
        throw FormatError(std::string("cannot write config: extra fields are not a JSON object: ") + e.what());
    }
    const std::string text = j.dump(2) + "\n";
    AtomicFile file(path);
    file.write(text.data(), text.size());
    file.commit();
}

}  // namespace attnviz::io
