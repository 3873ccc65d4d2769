#include "core/io/modelconfig.h"

#include "core/io/atomicfile.h"
#include "core/io/boundedjson.h"
#include "core/io/bytes.h"
#include "core/io/rawtensor.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <map>

namespace attnviz::io {
namespace {

using nlohmann::json;

json readJson(const std::string& path)
{
    return readJsonFile(path);
}

// Every number is range-checked in the width JSON gave it before it is narrowed, so
// 4294967306 classes or a crop of 1e-300 is an error naming the field, not 10 classes
// or an overflow later. The ranges are generous bounds of real models, not policy.
struct Range {
    double min;
    double max;
};

constexpr Range kCount{0, 1'000'000};  // classes (0: a backbone without a head)
constexpr Range kWidth{1, 65'536};     // embedding widths, heads
constexpr Range kDepth{1, 1'024};      // blocks
constexpr Range kSide{1, 4'096};       // image and patch sides, in pixels
constexpr Range kChannels{1, 64};
constexpr Range kStride{1, 64};
constexpr Range kResample{0, 5};  // PIL's filters
constexpr Range kCropPct{0.05, 1.0};
constexpr Range kMean{-1'000, 1'000};
constexpr Range kStd{1e-6, 1'000};  // divides the image
constexpr Range kEps{1e-30, 1};
constexpr Range kFraction{0, 1};
constexpr Range kImages{0, 1e9};

[[noreturn]] void wrongValue(const char* key, const json& value, const std::string& expected)
{
    throw FormatError(std::string("config field '") + key + "' is " + describeJson(value) + ", expected " + expected);
}

std::string rangeText(Range r, bool integer)
{
    const auto text = [integer](double v) {
        if (integer)
            return std::to_string(static_cast<long long>(v));
        std::string t = std::to_string(v);
        t.erase(t.find_last_not_of('0') + 1);
        return t.back() == '.' ? t + "0" : t;
    };
    return (integer ? "an integer in " : "a number in ") + text(r.min) + ".." + text(r.max);
}

double numberIn(const char* key, const json& value, Range r, bool integer)
{
    if (!value.is_number())
        wrongValue(key, value, rangeText(r, integer));
    const double v = value.get<double>();  // exact up to 2^53, and monotone: a fair range test
    if (!std::isfinite(v) || v < r.min || v > r.max || (integer && v != std::floor(v)))
        wrongValue(key, value, rangeText(r, integer));
    return v;
}

const json* firstPresent(const json& j, std::initializer_list<const char*> keys, const char*& found)
{
    if (!j.is_object())
        return nullptr;
    for (const char* key : keys) {
        auto it = j.find(key);
        if (it != j.end() && !it->is_null()) {
            found = key;
            return &*it;
        }
    }
    return nullptr;
}

std::optional<int> pickInt(const json& j, std::initializer_list<const char*> keys, Range r)
{
    const char* key = nullptr;
    const json* v = firstPresent(j, keys, key);
    return v ? std::optional<int>(int(numberIn(key, *v, r, true))) : std::nullopt;
}

std::optional<double> pickNumber(const json& j, std::initializer_list<const char*> keys, Range r)
{
    const char* key = nullptr;
    const json* v = firstPresent(j, keys, key);
    return v ? std::optional<double>(numberIn(key, *v, r, false)) : std::nullopt;
}

std::optional<std::string> pickString(const json& j, std::initializer_list<const char*> keys)
{
    const char* key = nullptr;
    const json* v = firstPresent(j, keys, key);
    if (v && !v->is_string())
        wrongValue(key, *v, "a string");
    return v ? std::optional<std::string>(v->get<std::string>()) : std::nullopt;
}

std::optional<bool> pickBool(const json& j, std::initializer_list<const char*> keys)
{
    const char* key = nullptr;
    const json* v = firstPresent(j, keys, key);
    if (v && !v->is_boolean())
        wrongValue(key, *v, "true or false");
    return v ? std::optional<bool>(v->get<bool>()) : std::nullopt;
}

// A list of numbers, each in `r`, of count in [1, maxCount].
std::optional<std::vector<double>> pickNumbers(const json& j, std::initializer_list<const char*> keys, Range r,
                                               std::size_t maxCount = 64, bool integer = false)
{
    const char* key = nullptr;
    const json* v = firstPresent(j, keys, key);
    if (!v)
        return std::nullopt;
    if (!v->is_array() || v->empty() || v->size() > maxCount)
        wrongValue(key, *v, "a list of 1.." + std::to_string(maxCount) + " numbers");
    std::vector<double> out;
    for (const auto& item : *v)
        out.push_back(numberIn(key, item, r, integer));
    return out;
}

std::optional<std::vector<std::string>> pickStrings(const json& j, std::initializer_list<const char*> keys)
{
    const char* key = nullptr;
    const json* v = firstPresent(j, keys, key);
    if (!v)
        return std::nullopt;
    if (!v->is_array())
        wrongValue(key, *v, "a list of names");
    std::vector<std::string> out;
    for (const auto& item : *v) {
        if (!item.is_string())
            wrongValue(key, item, "a list of names");
        out.push_back(item.get<std::string>());
    }
    return out;
}

std::vector<std::string> labelsFromId2Label(const json& j)
{
    std::map<int, std::string> byIndex;
    for (const auto& [key, value] : j.items()) {
        std::size_t used = 0;
        int index = -1;
        try {
            index = std::stoi(key, &used);
        } catch (const std::exception&) {
        }
        if (index < 0 || used != key.size() || !value.is_string())
            throw FormatError("config id2label entry '" + printable(key) + "' is not an index with a name");
        byIndex[index] = value.get<std::string>();
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
    if (auto size = pickNumbers(j, {"input_size"}, kSide, 3, true)) {
        if (size->size() != 3 || (*size)[0] > kChannels.max)
            throw FormatError("config input_size must be [C, H, W] with C in 1..64 and sides in 1..4096");
        p.inputSize = std::array<int, 3>{int((*size)[0]), int((*size)[1]), int((*size)[2])};
    }
    if (auto v = pickString(j, {"interpolation"}))
        p.interpolation = v;
    if (auto v = pickNumber(j, {"crop_pct"}, kCropPct))
        p.cropPct = v;
    if (auto v = pickString(j, {"crop_mode"}))
        p.cropMode = v;
    if (auto v = pickNumbers(j, {"mean", "image_mean"}, kMean))
        p.mean = v;
    if (auto v = pickNumbers(j, {"std", "image_std"}, kStd))
        p.std = v;
}

// HF image processors: {"size": {"height": 224, "width": 224}, "resample": 2, ...}
// {"height": h, "width": w}, {"shortest_edge": s} or a plain number -> (h, w)
std::optional<std::array<int, 2>> hfSize(const json& j, const char* key)
{
    if (!j.contains(key))
        return std::nullopt;
    const json& v = j[key];
    if (v.is_number()) {
        const int side = int(numberIn(key, v, kSide, true));
        return std::array<int, 2>{side, side};
    }
    const auto side = [&v, key](const char* name) {
        const auto value = pickInt(v, {name}, kSide);
        if (!value)  // null
            throw FormatError(std::string("config field '") + key + "." + name + "' is null, expected an integer");
        return *value;
    };
    if (v.is_object() && v.contains("height") && v.contains("width"))
        return std::array<int, 2>{side("height"), side("width")};
    if (v.is_object() && v.contains("shortest_edge"))
        return std::array<int, 2>{side("shortest_edge"), side("shortest_edge")};
    return std::nullopt;
}

// HF image processors resize to `size` (ViT: straight to H x W, a squash), then
// center-crop to `crop_size` when do_center_crop is set (DeiT).
void readHfPreprocessor(const json& j, PreprocessConfig& p, int channels)
{
    readPreprocess(j, p);
    if (auto resample = pickInt(j, {"resample"}, kResample))
        p.interpolation = interpolationFromPil(*resample);
    const auto size = hfSize(j, "size");
    const auto crop = pickBool(j, {"do_center_crop"}).value_or(false) ? hfSize(j, "crop_size") : std::nullopt;
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
    if (auto v = pickInt(args, {"num_heads"}, kWidth))
        c.numHeads = v;
    if (auto v = pickInt(args, {"embed_dim"}, kWidth))
        c.embedDim = v;
    if (auto v = pickInt(args, {"depth"}, kDepth))
        c.depth = v;
    if (auto v = pickInt(args, {"patch_size"}, kSide))
        c.patchSize = v;
    if (auto v = pickString(args, {"global_pool"}))
        c.globalPool = v;
    if (auto v = pickInt(args, {"stem_stride"}, kStride))
        c.stemStride = v;
    if (auto v = pickBool(args, {"stem_pool"}))
        c.stemPool = v;
}

// open_clip's text_cfg: {"heads", "no_causal_mask", "pool_type", "act_kwargs":
// {"approximate"}, "norm_kwargs": {"eps"}, "context_length", "hf_model_name",
// "hf_pooler_type"}; the activation is the model's quick_gelu unless act_kwargs says
// otherwise.
void readOpenClipTextConfig(const json& text, const ModelConfig& c, TextConfig& t)
{
    t.heads = pickInt(text, {"heads"}, kWidth);
    if (auto noMask = pickBool(text, {"no_causal_mask"}))
        t.causal = !*noMask;
    t.pool = pickString(text, {"pool_type"});
    t.hiddenAct = c.hiddenAct.value_or("gelu");
    if (text.contains("act_kwargs") && pickString(text["act_kwargs"], {"approximate"}) == std::string("tanh"))
        t.hiddenAct = "gelu_pytorch_tanh";
    if (text.contains("norm_kwargs"))
        t.layerNormEps = pickNumber(text["norm_kwargs"], {"eps"}, kEps);
    t.contextLength = pickInt(text, {"context_length"}, kWidth);
    t.hfModelName = pickString(text, {"hf_model_name"});
    t.hfPooler = pickString(text, {"hf_pooler_type"});
}

// HF's text_config: {"num_attention_heads", "hidden_act", "layer_norm_eps", "eos_token_id"}.
void readHfTextConfig(const json& text, TextConfig& t)
{
    t.heads = pickInt(text, {"num_attention_heads"}, kWidth);
    t.hiddenAct = pickString(text, {"hidden_act"});
    t.layerNormEps = pickNumber(text, {"layer_norm_eps"}, kEps);
    t.eosTokenId = pickInt(text, {"eos_token_id"}, kCount);
}

void readZeroShotConfig(const json& zeroShot, ZeroShotConfig& z)
{
    if (!zeroShot.is_object())
        wrongValue("zero_shot", zeroShot, "an object with \"labels\" and \"templates\"");
    z.labels = pickStrings(zeroShot, {"labels"}).value_or(std::vector<std::string>{});
    z.templates = pickStrings(zeroShot, {"templates"}).value_or(std::vector<std::string>{"a photo of a {}."});
    if (z.labels.empty() || z.templates.empty())
        throw FormatError("\"zero_shot\" needs a non-empty list of \"labels\" (and of \"templates\", if given)");
    for (const auto& t : z.templates)
        if (t.find("{}") == std::string::npos)
            throw FormatError("zero-shot template '" + printable(t) + "' has no {} for the label");
}

// open_clip_config.json: {"model_cfg": {"quick_gelu", "vision_cfg": {"image_size",
// "layers", "width", "patch_size", "head_width"}}, "preprocess_cfg": {"mean", "std",
// "interpolation", "resize_mode"}}. Heads are width / head_width (open_clip's default 64).
void readOpenClipConfig(const json& j, ModelConfig& c)
{
    const json& model = j["model_cfg"];
    c.architecture = "open_clip";
    if (pickBool(model, {"quick_gelu"}).value_or(false))
        c.hiddenAct = "quick_gelu";
    const json vision = model.contains("vision_cfg") ? model["vision_cfg"] : json::object();
    // A timm image tower (SigLIP) is named by timm's architecture, which decides what
    // its weights cannot tell (the GELU variant).
    if (auto timmName = pickString(vision, {"timm_model_name"}))
        c.architecture = *timmName;
    if (auto pool = pickString(vision, {"timm_pool"}))  // "token", "avg", "map"
        c.globalPool = pool;
    const auto width = pickInt(vision, {"width"}, kWidth);
    c.embedDim = width;
    c.depth = pickInt(vision, {"layers"}, kDepth);
    c.patchSize = pickInt(vision, {"patch_size"}, kSide);
    if (width)
        c.numHeads = std::max(1, *width / pickInt(vision, {"head_width"}, kWidth).value_or(64));
    if (auto size = pickInt(vision, {"image_size"}, kSide))
        c.preprocess.inputSize = std::array<int, 3>{3, *size, *size};
    const json pre = j.contains("preprocess_cfg") ? j["preprocess_cfg"] : json::object();
    c.preprocess.mean = pickNumbers(pre, {"mean"}, kMean);
    c.preprocess.std = pickNumbers(pre, {"std"}, kStd);
    c.preprocess.interpolation = pickString(pre, {"interpolation"});
    c.preprocess.cropPct = 1.0;  // open_clip resizes the shortest side to the size, then crops it
    if (pickString(pre, {"resize_mode"}) == std::string("squash"))  // SigLIP: straight to the size
        c.preprocess.cropMode = "squash";
    readOpenClipTextConfig(model.contains("text_cfg") ? model["text_cfg"] : json::object(), c, c.text);
    if (j.contains("zero_shot"))
        readZeroShotConfig(j["zero_shot"], c.zeroShot);
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
        c.architecture = pickString(j, {"architecture"}).value_or("");
        if (const auto names = pickStrings(j, {"architectures"}); c.architecture.empty() && names && !names->empty())
            c.architecture = names->front();
        c.numClasses = pickInt(j, {"num_classes"}, kCount);
        if (j.contains("model_cfg")) {
            readOpenClipConfig(j, c);
            return c;
        }
        // A CLIPModel / SiglipModel config nests the image tower's fields.
        const json& tower = j.contains("vision_config") && j["vision_config"].is_object() ? j["vision_config"] : j;
        c.numHeads = pickInt(tower, {"num_attention_heads", "num_heads"}, kWidth);
        c.embedDim = pickInt(tower, {"hidden_size", "embed_dim"}, kWidth);
        c.depth = pickInt(tower, {"num_hidden_layers", "depth"}, kDepth);
        c.patchSize = pickInt(tower, {"patch_size"}, kSide);
        c.layerNormEps = pickNumber(tower, {"layer_norm_eps"}, kEps);
        c.hiddenAct = pickString(tower, {"hidden_act"});
        c.swiglu = pickBool(tower, {"use_swiglu_ffn"});
        c.globalPool = pickString(j, {"global_pool"});
        if (j.contains("text_config") && j["text_config"].is_object())
            readHfTextConfig(j["text_config"], c.text);
        if (j.contains("model_args"))
            readModelArgs(j["model_args"], c);
        if (auto labels = pickStrings(j, {"label_names", "labels"}))
            c.labelNames = *labels;
        else if (j.contains("id2label") && j["id2label"].is_object())
            c.labelNames = labelsFromId2Label(j["id2label"]);
        if (!c.numClasses && !c.labelNames.empty() && j.contains("id2label"))
            c.numClasses = int(c.labelNames.size());
        if (j.contains("evaluation") && j["evaluation"].is_object()) {
            const auto& e = j["evaluation"];
            c.evaluatedAccuracy = pickNumber(e, {"accuracy"}, kFraction);
            const auto split = pickString(e, {"split"}).value_or("");
            const auto count = pickInt(e, {"count"}, kImages);
            c.evaluatedOn = split + (count ? (split.empty() ? "" : ", ") + std::to_string(*count) + " images" : "");
        }
        readPreprocess(j, c.preprocess);
        if (j.contains("pretrained_cfg"))
            readPreprocess(j["pretrained_cfg"], c.preprocess);
        const int channels = pickInt(tower, {"num_channels", "in_chans"}, kChannels).value_or(3);
        if (auto size = pickInt(tower, {"image_size", "img_size"}, kSide); size && !c.preprocess.inputSize)
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
