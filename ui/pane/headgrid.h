#pragma once

#include "ui/pane/panestate.h"
#include "ui/side.h"

#include "core/engine/model/classifier.h"
#include "core/imaging/overlay.h"

#include <QImage>
#include <QString>
#include <QStringList>

#include <vector>

namespace attnviz::ui {

// What the pane's thumbnail grid shows for one trace: a ViT's attention of every block
// (rows) and head (columns), each row on its own range so that heads compare; a CNN's
// stages as mean activations, one per row. No widget: ThumbnailGrid draws it.
struct HeadGridContent {
    std::vector<QImage> cells;  // rows x columns, row-major
    int rows = 0, columns = 0;
    QStringList rowLabels;  // "block 5", "pool", "layer3"
    QString title;          // what the cells are, in short
    QString columnTitle;    // "head" for a ViT
    QString explanation;    // the tooltip, where the title cannot say it all
};
HeadGridContent headGridContent(const engine::Classifier& model, const engine::Trace& trace, Side side,
                                std::optional<GridCell> query, imaging::Colormap colormap);

// How a view's layer is shown: "block 5", "from block 0", "attention pool", "layer3".
QString layerLabel(Side side, const std::string& layer);

// What a view is, in one line: "attention · block 5 · head mean · class Coat".
// `labels`: the model's class labels; `query` and `unit` as the pane holds them.
QString viewCaption(const engine::ViewMaps& view, Side side, const std::vector<std::string>& labels,
                    std::optional<GridCell> query, std::optional<GridCell> unit);

}  // namespace attnviz::ui
