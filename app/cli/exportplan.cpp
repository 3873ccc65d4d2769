#include "app/cli/exportplan.h"

#include "app/cli/methodoptions.h"

#include "core/engine/engineerror.h"
#include "core/io/imagefiles.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

namespace attnviz::cli {

namespace fs = std::filesystem;

ExportImages exportImages(const Arguments& args)
{
    if (bool(args.value("images")) == bool(args.value("list")))
        throw UsageError("give exactly one of --images DIR and --list FILE");
    ExportImages out;
    auto& images = out.images;
    if (const auto dir = args.value("images")) {
        for (const auto& relative : io::imageFilesUnder(*dir))
            images.push_back({(fs::path(*dir) / relative).string(), relative});
        return out;
    }
    const fs::path list(*args.value("list"));
    std::ifstream in(list);
    if (!in)
        throw UsageError("cannot read the list '" + list.string() + "'");
    std::set<fs::path> seen;  // each file once, however the list spells it
    for (std::string line; std::getline(in, line);) {
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        if (line.empty())
            continue;
        const fs::path path(line);
        const auto relative = path.is_absolute() ? path.relative_path().generic_string()
                                                 : path.lexically_normal().generic_string();
        if (relative.rfind("..", 0) == 0)
            throw UsageError("list entry '" + line + "' leaves the list's folder; give it as an absolute path");
        const auto opened = path.is_absolute() ? fs::path(line) : list.parent_path() / path;
        std::error_code error;
        auto file = fs::weakly_canonical(fs::absolute(opened), error);
        if (error)
            file = fs::absolute(opened).lexically_normal();
        if (!seen.insert(file).second) {
            out.repeated.push_back(line);
            continue;
        }
        images.push_back({opened.string(), relative});
    }
    if (images.empty())
        throw UsageError("the list '" + list.string() + "' names no images");
    return out;
}

std::pair<int, int> shardOption(const Arguments& args)
{
    const auto text = args.value("shard").value_or("0/1");
    int index = -1, count = 0;
    char slash = 0;
    std::istringstream in(text);
    if (!(in >> index >> slash >> count) || slash != '/' || !in.eof() || count < 1 || index < 0 || index >= count)
        throw UsageError("--shard takes I/N with 0 <= I < N, got '" + text + "'");
    return {index, count};
}

namespace {

std::vector<std::string> commaSeparated(const std::string& text)
{
    std::vector<std::string> items;
    std::istringstream in(text);
    for (std::string item; std::getline(in, item, ',');)
        if (!item.empty())
            items.push_back(item);
    return items;
}

std::vector<engine::ViewMethod> askedMethods(const Arguments& args)
{
    std::vector<engine::ViewMethod> asked;
    for (const auto& name : commaSeparated(args.value("methods").value_or("")))
        if (name != "none")  // predictions only
            asked.push_back(engine::viewMethodFromName(name));
    return asked;
}

// --layers split by the family that has them: ViT blocks ("3", "-1", "2-5", "pool") and
// CNN layers ("layer3", "features.7"); "all" goes to both.
struct LayerChoice {
    bool all = false;
    std::vector<engine::LayerSelector> vit, cnn;
};

LayerChoice layerChoice(const Arguments& args)
{
    LayerChoice choice;
    const auto text = args.value("layers");
    if (!text)
        return choice;
    if (*text == "all") {
        choice.all = true;
        return choice;
    }
    static const std::regex range("([0-9]+)-([0-9]+)");
    for (const auto& item : commaSeparated(*text)) {
        std::smatch m;
        if (std::regex_match(item, m, range)) {
            const int first = std::stoi(m[1]), last = std::stoi(m[2]);
            if (first > last)
                throw UsageError("--layers range '" + item + "' runs backwards");
            for (int b = first; b <= last; ++b)
                choice.vit.push_back(engine::LayerSelector::block(b));
            continue;
        }
        const auto layer = engine::LayerSelector::parse(item);
        (layer.isBlock() || layer.isPool() ? choice.vit : choice.cnn).push_back(layer);
    }
    return choice;
}

void checkVitBlocks(const std::vector<engine::LayerSelector>& blocks, const engine::ModelSpec& spec)
{
    for (const auto& b : blocks) {
        if (b.isPool()) {
            if (!spec.attentionPool)
                throw UsageError("--layers pool: the ViT has no attention-pooling head");
            continue;
        }
        try {
            b.blockIn(spec.depth);
        } catch (const engine::EngineError&) {
            throw UsageError("--layers " + b.text() + ": the ViT has blocks 0.." + std::to_string(spec.depth - 1));
        }
    }
}

// CNN layer names are checked on one pass of a blank input: a name the model lacks would
// otherwise fail every image.
void checkCnnLayers(const std::vector<engine::LayerSelector>& layers, const engine::Classifier& model)
{
    const auto& size = model.spec().preprocessing.inputSize;
    torch::InferenceMode guard;
    const auto acts = model.activations(torch::zeros({1, size[0], size[1], size[2]}));
    for (const auto& layer : layers) {
        try {
            acts.feature(layer.text());
        } catch (const std::exception& e) {
            throw UsageError(std::string("--layers: ") + e.what());
        }
    }
}

// The rows of a method's figure for one model.
std::vector<engine::LayerSelector> methodLayers(engine::ViewMethod method, const LayerChoice& choice,
                                                const engine::ModelSpec& spec)
{
    const bool vit = spec.family == engine::Family::ViT;
    const auto& info = engine::methodInfo(method);
    std::vector<engine::LayerSelector> methodDefault(1);
    if (info.layer == engine::MethodLayer::Input)
        return methodDefault;  // one map over the input, whatever --layers says
    if (choice.all) {
        if (!vit || !info.startsAtBlock())
            return {engine::LayerSelector::all()};
        std::vector<engine::LayerSelector> starts;  // a rollout's (or LeGrad's) layer is its first block
        starts.reserve(std::size_t(spec.depth));
        for (int b = 0; b < spec.depth; ++b)
            starts.push_back(engine::LayerSelector::block(b));
        return starts;
    }
    auto layers = vit ? choice.vit : choice.cnn;
    if (method != engine::ViewMethod::Attention)  // the pool is the attention view's only
        layers.erase(std::remove(layers.begin(), layers.end(), engine::LayerSelector::pool()), layers.end());
    return layers.empty() ? methodDefault : layers;
}

// The columns of a method's figure: the heads where it has them, else the mean.
std::vector<engine::HeadChoice> methodHeads(engine::ViewMethod method, const Arguments& args,
                                            const engine::ModelSpec& spec)
{
    const auto mean = engine::HeadChoice::fused(engine::HeadFusion::Mean);
    const auto text = args.value("heads");
    if (!text)
        return {mean};
    const bool attention = engine::methodInfo(method).heads == engine::MethodHeads::Choose;
    std::vector<engine::HeadChoice> heads;
    for (const auto& name : commaSeparated(*text)) {
        const auto head = engine::headChoiceFromName(name);
        if (attention && head.kind == engine::HeadChoice::Kind::One && head.index >= spec.heads)
            throw UsageError("--heads " + name + ": the ViT has heads 0.." + std::to_string(spec.heads - 1));
        if (attention || (head.isFused() && engine::methodInfo(method).fusesHeads()))
            heads.push_back(head);
    }
    return heads.empty() ? std::vector<engine::HeadChoice>{mean} : heads;
}

MethodPlan methodPlan(engine::ViewMethod method, const LayerChoice& layers, const Arguments& args,
                      const engine::ModelSpec& spec)
{
    MethodPlan plan{method, {}};
    const auto settings = engine::settingsFor(method, methodSettings(args));  // the ones this method takes
    for (const auto& layer : methodLayers(method, layers, spec)) {
        auto& row = plan.requests.emplace_back();
        for (const auto& head : methodHeads(method, args, spec)) {
            engine::ViewRequest request;
            request.method = method;
            request.layer = layer;
            request.head = head;
            request.settings = settings;
            row.push_back(request);
        }
    }
    return plan;
}

// The plan, or with --text one copy per prompt explaining it, for a class-specific method.
void addMethodPlans(ExportModel& m, MethodPlan plan)
{
    const bool perPrompt = m.prompts && m.prompts->templates.empty();  // --text, not --labels
    if (!perPrompt || !engine::methodInfo(plan.method).explainsClass()) {
        m.methods.push_back(std::move(plan));
        return;
    }
    for (int p = 0; p < int(m.prompts->labels.size()); ++p) {
        auto copy = plan;
        copy.prompt = p;
        for (auto& row : copy.requests)
            for (auto& request : row)
                request.classIndex = p;
        m.methods.push_back(std::move(copy));
    }
}

}  // namespace

void planMethods(std::vector<ExportModel>& models, const Arguments& args)
{
    const auto asked = askedMethods(args);
    const auto layers = layerChoice(args);
    bool vitGiven = false, cnnGiven = false;
    for (auto& m : models) {
        const auto& spec = m.model->spec();
        const bool vit = spec.family == engine::Family::ViT;
        vitGiven = vitGiven || vit;
        cnnGiven = cnnGiven || !vit;
        if (vit)
            checkVitBlocks(layers.vit, spec);
        else if (!layers.cnn.empty())
            checkCnnLayers(layers.cnn, *m.model);
        std::vector<engine::ViewMethod> methods = asked;
        if (!args.value("methods"))
            methods = {vit ? engine::ViewMethod::Attention : engine::ViewMethod::GradCam};
        for (const auto method : methods)
            if (engine::methodInfo(method).supports(spec.family)
                && engine::methodInfo(method).layer != engine::MethodLayer::Unit)
                addMethodPlans(m, methodPlan(method, layers, args, spec));
    }
    if (!layers.vit.empty() && !vitGiven)
        throw UsageError("--layers " + layers.vit.front().text() + " is a ViT block, and no ViT is given");
    if (!layers.cnn.empty() && !cnnGiven)
        throw UsageError("--layers " + layers.cnn.front().text() + " is a CNN layer, and no CNN is given");
    for (const auto& info : engine::settingTable()) {
        bool taken = false;
        for (const auto& m : models)
            for (const auto& plan : m.methods)
                taken = taken || engine::methodInfo(plan.method).takes(info.setting);
        if (args.value(info.name) && !taken)
            throw UsageError(std::string("--") + info.name + " only applies to " + engine::methodsTaking(info.setting)
                             + ", and --methods asks for none of them");
    }
    for (const auto method : asked) {
        bool offered = false;
        for (const auto& m : models)
            for (const auto& plan : m.methods)
                offered = offered || plan.method == method;
        if (!offered)
            throw UsageError("no model given offers the method '" + engine::viewMethodName(method) + "'");
    }
}

std::vector<engine::ViewMaps> computePlannedViews(const engine::Classifier& model,
                                                  const std::vector<const engine::Trace*>& traces,
                                                  const MethodPlan& plan)
{
    // [image][row][cell]: each request computed for every image at once (engine::computeViews
    // batches the gradient CAMs), then each image's cells joined into its grid.
    std::vector<std::vector<std::vector<engine::ViewMaps>>> cells(traces.size(),
                                                                  std::vector<std::vector<engine::ViewMaps>>(
                                                                      plan.requests.size()));
    for (std::size_t r = 0; r < plan.requests.size(); ++r)
        for (const auto& request : plan.requests[r]) {
            auto views = engine::computeViews(model, traces, request);
            for (std::size_t n = 0; n < traces.size(); ++n)
                cells[n][r].push_back(std::move(views[n]));
        }
    std::vector<engine::ViewMaps> figures;
    figures.reserve(traces.size());
    for (auto& image : cells) {
        std::vector<engine::ViewMaps> rows;
        rows.reserve(image.size());
        for (auto& row : image)
            rows.push_back(engine::joinViews(row, engine::ViewAxis::Heads));
        figures.push_back(engine::joinViews(rows, engine::ViewAxis::Layers));
    }
    return figures;
}

engine::FaithfulnessOptions faithfulnessOptions(const Arguments& args)
{
    engine::FaithfulnessOptions options;
    options.steps = args.intValue("faithfulness-steps", options.steps, 1);
    options.batch = args.intValue("batch", options.batch, 1);
    options.deletionSubstrate = engine::substrateFromName(args.value("deletion-substrate").value_or("blur"));
    options.insertionSubstrate = engine::substrateFromName(args.value("insertion-substrate").value_or("blur"));
    return options;
}

}  // namespace attnviz::cli
