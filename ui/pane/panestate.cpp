#include "ui/pane/panestate.h"

#include <algorithm>

namespace attnviz::ui {

PaneChoices paneChoices(const engine::ModelSpec& spec, const engine::Trace& trace)
{
    PaneChoices choices;
    for (const auto& info : engine::methodTable())
        if (info.supports(spec.family))
            choices.methods.push_back(info.method);
    const bool vit = spec.family == engine::Family::ViT;
    if (vit) {
        for (int b = 0; b < trace.attention.depth(); ++b)
            choices.layers.push_back(std::to_string(b));
        if (trace.poolAttention.defined())  // SigLIP: the attention pool
            choices.layers.emplace_back(engine::kPoolLayer);
    } else
        for (const auto& [name, features] : trace.features)
            choices.layers.push_back(name);
    for (const char* fusion : {"mean", "max", "min"})
        choices.heads.push_back({fusion, -1});
    if (vit)
        for (int h = 0; h < spec.heads; ++h)
            choices.heads.push_back({std::to_string(h), h});
    choices.classes = spec.labels;
    return choices;
}

engine::ViewRequest paneRequest(const PaneSelection& selection)
{
    engine::ViewRequest r;
    r.method = selection.method;
    r.layer = engine::LayerSelector::parse(selection.layer);
    const auto& info = engine::methodInfo(r.method);
    if (info.rollsOut())
        r.layer = engine::LayerSelector::block(0);  // rolled out from the first block; the box is for the others
    else if (!info.takesLayer())
        r.layer = {};
    else if (r.layer.isPool() && (r.method != engine::ViewMethod::Attention || selection.query))
        r.layer = engine::LayerSelector::block(-1);  // only attention has a pool row, and no query patch
    const auto& head = selection.head;
    const auto chosen = head.index >= 0 ? engine::HeadChoice::one(head.index) : engine::headChoiceFromName(head.name);
    if (info.heads == engine::MethodHeads::Choose || (info.fusesHeads() && chosen.isFused()))
        r.head = chosen;
    r.classIndex = selection.classIndex;
    r.vitCamInput = selection.camInput;
    r.settings = engine::settingsFor(r.method, selection.settings);  // the method's own, no others
    if (info.query)                                                  // a ViT's query patch; a CNN's place is its unit
        r.query = selection.query ? selection.query : selection.unit;
    if (info.layer == engine::MethodLayer::Unit)
        r.query = selection.unit;  // the unit whose field it is
    return r;
}

ShownValues shownValues(engine::Family family, const PaneSelection& selection)
{
    const auto& info = engine::methodInfo(selection.method);
    const auto request = paneRequest(selection);
    ShownValues shown;
    if (info.rollsOut())
        shown.layer = engine::kRolledOutFrom + request.layer.text();  // "from 0", as the caption's "from block 0"
    else if (info.layer == engine::MethodLayer::SumFrom)
        shown.layer = "last two";  // summed over the last two blocks: the box is for the others
    else if (info.layer == engine::MethodLayer::Input)
        shown.layer = "input";
    else if (!info.takesLayer())
        shown.layer = ShownValues::kNotUsed;
    if (family != engine::Family::ViT || info.heads == engine::MethodHeads::None)
        shown.head = ShownValues::kNotUsed;
    else if (info.fusesHeads() && selection.head.index >= 0)
        shown.head = engine::headChoiceName(request.head);  // one head chosen, the heads fused: the fusion used
    if (!info.explainsClass())
        shown.classLabel = ShownValues::kNotUsed;
    if (!info.camInput)
        shown.camInput = ShownValues::kNotUsed;
    return shown;
}

engine::ViewMaps everyHeadAttention(const engine::Classifier& model, const engine::Trace& trace,
                                    std::optional<GridCell> query)
{
    engine::ViewRequest all;
    all.method = engine::ViewMethod::Attention;
    all.layer = engine::LayerSelector::all();
    all.head = engine::HeadChoice::all();
    all.query = query;
    return engine::computeView(model, trace, all);
}

GridCell unitOnGrid(std::optional<GridCell> chosen, int64_t rows, int64_t cols)
{
    const auto unit = chosen.value_or(GridCell(int(rows / 2), int(cols / 2)));
    return {std::min(unit.first, int(rows - 1)), std::min(unit.second, int(cols - 1))};
}

GridCell cellAt(cv::Point2d inputUnit, int64_t rows, int64_t cols)
{
    const auto cell = [](double fraction, int64_t cells) {
        return std::clamp(int(fraction * double(cells)), 0, int(cells) - 1);
    };
    return {cell(inputUnit.y, rows), cell(inputUnit.x, cols)};
}

cv::Point2d cellCentre(GridCell cell, int64_t rows, int64_t cols)
{
    return {(cell.second + 0.5) / double(cols), (cell.first + 0.5) / double(rows)};
}

std::shared_ptr<const engine::ViewMaps> ViewCache::find(const std::string& key) const
{
    const auto it = m_views.find(key);
    return it == m_views.end() ? nullptr : it->second;
}

void ViewCache::remember(const std::string& key, std::shared_ptr<const engine::ViewMaps> view)
{
    if (m_views.count(key) == 0) {
        m_order.push_back(key);
        if (m_order.size() > kCapacity) {  // the oldest goes
            m_views.erase(m_order.front());
            m_order.pop_front();
        }
    }
    m_views[key] = std::move(view);
}

void ViewCache::clear()
{
    m_views.clear();
    m_order.clear();
    m_pending.clear();
}

PaneGeometry PaneGeometry::make(cv::Size input, cv::Size image, cv::Size whole, const imaging::CropBox& crop)
{
    PaneGeometry g;
    g.input = input;
    g.image = image;
    g.crop = crop;
    if (!image.empty() && !whole.empty()) {
        g.whole = whole;
        const double sx = double(whole.width) / image.width, sy = double(whole.height) / image.height;
        g.cropInWhole = cv::Rect2d(crop.x * sx, crop.y * sy, crop.width * sx, crop.height * sy);
    }
    return g;
}

cv::Rect2d PaneGeometry::inputRegion() const
{
    return showsWhole ? cropInWhole : cv::Rect2d(0, 0, input.width, input.height);
}

std::optional<cv::Point2d> PaneGeometry::inputFromPicture(cv::Point2d p) const
{
    const auto region = inputRegion();
    const auto shown = picture();
    const double x = (p.x * shown.width - region.x) / region.width;
    const double y = (p.y * shown.height - region.y) / region.height;
    if (x < 0 || x > 1 || y < 0 || y > 1)
        return std::nullopt;
    return cv::Point2d(x, y);
}

std::optional<cv::Point2d> PaneGeometry::inputFromImage(cv::Point2d i) const
{
    if (image.empty())
        return std::nullopt;
    const double x = (i.x * image.width - crop.x) / crop.width;
    const double y = (i.y * image.height - crop.y) / crop.height;
    if (x < 0 || x >= 1 || y < 0 || y >= 1)  // the image's far edges belong to no input cell
        return std::nullopt;
    return cv::Point2d(x, y);
}

cv::Point2d PaneGeometry::imageFromInput(cv::Point2d u) const
{
    return {(crop.x + u.x * crop.width) / image.width, (crop.y + u.y * crop.height) / image.height};
}

}  // namespace attnviz::ui
