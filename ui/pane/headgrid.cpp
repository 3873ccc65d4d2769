#include "ui/pane/headgrid.h"

#include "ui/imageconvert.h"

#include <QCoreApplication>

namespace attnviz::ui {
namespace {

QString tr(const char* text)
{
    return QCoreApplication::translate("attnviz::ui::ModelPane", text);
}

// A cell at least 28 pixels a side, else one pixel per map cell.
QImage gridCell(const torch::Tensor& map, const imaging::MapRange& range, const imaging::OverlayOptions& options)
{
    const auto side = int(std::max<int64_t>(28, std::max(map.size(0), map.size(1))));
    return toQImage(imaging::renderMap(map, range, cv::Size(side, side), options));
}

QString vitGridTitle(const engine::Trace& trace, std::optional<GridCell> query)
{
    if (query)
        return tr("patch %1,%2 attention, blocks × heads").arg(query->first).arg(query->second);
    if (trace.tokens.hasCls)
        return tr("CLS attention, blocks × heads");
    // No CLS token: what stands for it is said, not hidden (docs/methods.md).
    return trace.poolAttention.defined() ? tr("no CLS: mean patch row; pool") : tr("no CLS: mean patch row");
}

QString vitGridExplanation(const engine::Trace& trace, std::optional<GridCell> query)
{
    if (query || trace.tokens.hasCls)
        return {};
    QString text = tr("This model has no CLS token: a block's map is the mean attention row of its patches.");
    if (trace.poolAttention.defined())
        text += tr(" The last row, pool, is its attention-pooling head: the learned query that summarises the "
                   "image attends over the last block's tokens. It stands for CLS attention.");
    return text;
}

}  // namespace

HeadGridContent headGridContent(const engine::Classifier& model, const engine::Trace& trace, Side side,
                                std::optional<GridCell> query, imaging::Colormap colormap)
{
    imaging::OverlayOptions options;
    options.colormap = colormap;
    HeadGridContent grid;
    if (model.spec().family != engine::Family::ViT) {
        for (const auto& map : stageMeanActivations(trace))
            grid.cells.push_back(gridCell(map, imaging::rangeOf(map), options));
        for (const auto& [name, features] : trace.features)
            grid.rowLabels << QString::fromStdString(name);
        grid.rows = int(grid.cells.size());
        grid.columns = 1;
        grid.title = tr("stages, mean activation");
        return grid;
    }
    const auto view = everyHeadAttention(model, trace, query);  // [blocks, heads, gh, gw]
    for (int64_t l = 0; l < view.maps.size(0); ++l) {
        const auto range = imaging::rangeOf(view.maps[l]);  // per layer: heads compare
        for (int64_t h = 0; h < view.maps.size(1); ++h)
            grid.cells.push_back(gridCell(view.maps[l][h], range, options));
        const auto& layer = view.layers[std::size_t(l)];
        grid.rowLabels << (layer == engine::kPoolLayer ? QString::fromLatin1(engine::kPoolLayer)
                                                       : layerLabel(side, layer));
    }
    grid.rows = int(view.maps.size(0));
    grid.columns = int(view.maps.size(1));
    grid.title = vitGridTitle(trace, query);
    grid.columnTitle = tr("head");
    grid.explanation = vitGridExplanation(trace, query);
    return grid;
}

QString layerLabel(Side side, const std::string& layer)
{
    // ViT layers are blocks ("block 5") or the attention pool; CNN layers name themselves
    // ("layer3"); a map over the model input says "input".
    if (layer == engine::kPoolLayer)
        return tr("attention pool");
    const auto name = QString::fromStdString(layer);
    const auto rolledOutFrom = QLatin1String(engine::kRolledOutFrom);  // "from 3": rolled out from block 3
    if (name.startsWith(rolledOutFrom))
        return tr("from block %1").arg(name.mid(rolledOutFrom.size()));
    bool isBlock = false;  // not "input", the layer of a map over the model input
    name.toInt(&isBlock);
    return side == Side::ViT && isBlock ? tr("block %1").arg(name) : name;
}

QString viewCaption(const engine::ViewMaps& view, Side side, const std::vector<std::string>& labels,
                    std::optional<GridCell> query, std::optional<GridCell> unit)
{
    const auto method = QString::fromStdString(engine::viewMethodName(view.method));
    QString text = QStringLiteral("%1 · %2").arg(method, layerLabel(side, view.layers[0]));
    if (engine::methodInfo(view.method).heads != engine::MethodHeads::None)
        text += QStringLiteral(" · head %1").arg(QString::fromStdString(view.heads[0]));
    if (!view.camInput.empty())
        text += view.camInput == "norm1" ? tr(" · norm1 output") : tr(" · residual stream");
    if (view.classIndex) {
        const auto c = std::size_t(*view.classIndex);
        text += QStringLiteral(" · class %1").arg(c < labels.size() ? QString::fromStdString(labels[c]) : QString());
    }
    // A place asked about that this method does not take is only marked on the picture.
    const bool takesQuery = engine::methodInfo(view.method).query;
    if (query)
        text += (takesQuery ? tr(" · query patch %1,%2") : tr(" · patch %1,%2 marked"))
                    .arg(query->first)
                    .arg(query->second);
    if (view.method == engine::ViewMethod::EffectiveField && unit)
        text += tr(" · box: theoretical field");  // the layer reads "layer3 @row,col": the unit
    else if (unit)
        text +=
            (takesQuery ? tr(" · query unit %1,%2") : tr(" · unit %1,%2 marked")).arg(unit->first).arg(unit->second);
    return text;
}

}  // namespace attnviz::ui
