#include "ui/pane/modelpane.h"

#include "ui/appsettings.h"
#include "ui/imageconvert.h"

#include "core/engine/errormessage.h"
#include "core/engine/methods/cam.h"
#include "core/engine/methods/receptivefield.h"
#include "core/engine/model/predictions.h"
#include "core/imaging/marks.h"
#include "core/imaging/overlay.h"
#include "core/imaging/pngwriter.h"
#include "core/imaging/viewimage.h"
#include "core/io/pngmetadata.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QKeyEvent>
#include <QLabel>
#include <QSlider>
#include <QVBoxLayout>

#include <cmath>

namespace attnviz::ui {
namespace {

constexpr int kDisplaySide = 448;  // the picture's shorter side on screen

using engine::ViewMethod;

QString methodName(ViewMethod method)
{
    return QString::fromStdString(engine::viewMethodName(method));
}

void stepCombo(QComboBox* combo, int delta)
{
    if (combo->count() == 0 || !combo->isEnabled())
        return;
    combo->setCurrentIndex(std::clamp(combo->currentIndex() + delta, 0, combo->count() - 1));
}

}  // namespace

ModelPane::ModelPane(Side side, QWidget* parent)
    : QWidget(parent)
    , m_side(side)
{
    setFocusPolicy(Qt::StrongFocus);
    buildControls();
}

void ModelPane::buildControls()
{
    auto* layout = new QVBoxLayout(this);
    m_title = new QLabel(tr("%1: no model").arg(sideTitle(m_side)), this);
    m_title->setObjectName(QStringLiteral("title"));
    m_title->setWordWrap(true);
    m_title->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_predictions = new QLabel(this);
    m_predictions->setTextFormat(Qt::RichText);
    layout->addWidget(m_title);
    layout->addWidget(m_predictions);

    auto* form = new QFormLayout;
    // What the model is asked (method, layer, head, class, CAM input) refreshes the view;
    // how it is drawn (colormap, normalisation, upsampling, alpha, keep mass) only draws
    // the view shown again, and never reaches the worker.
    const auto combo = [this](const QString& objectName, void (ModelPane::*onChange)()) {
        auto* c = new QComboBox(this);
        c->setObjectName(objectName);
        c->setFocusPolicy(Qt::ClickFocus);  // arrow keys stay with the pane
        connect(c, &QComboBox::currentIndexChanged, this, [this, onChange] {
            if (!m_filling)
                (this->*onChange)();
        });
        return c;
    };
    m_method = combo(QStringLiteral("method"), &ModelPane::refresh);
    m_layer = combo(QStringLiteral("layer"), &ModelPane::refresh);
    m_head = combo(QStringLiteral("head"), &ModelPane::refresh);
    m_class = combo(QStringLiteral("class"), &ModelPane::refresh);
    m_camInput = combo(QStringLiteral("camInput"), &ModelPane::refresh);
    m_camInput->addItem(tr("norm1 output"), QStringLiteral("norm1"));
    m_camInput->addItem(tr("residual stream"), QStringLiteral("residual"));
    m_camInput->setToolTip(tr("Which tokens of a ViT block a CAM reads: its norm1 output (as pytorch-grad-cam's "
                              "blocks[i].norm1) or the residual stream entering the block"));
    m_colormap = combo(QStringLiteral("colormap"), &ModelPane::recolor);
    for (const char* name : {"viridis", "inferno", "magma", "plasma", "turbo", "jet", "gray"})
        m_colormap->addItem(QString::fromLatin1(name));
    m_normalization = combo(QStringLiteral("normalization"), &ModelPane::rerender);
    m_normalization->addItem(tr("per map"), QStringLiteral("map"));
    m_normalization->addItem(tr("per layer (heads compare)"), QStringLiteral("layer"));
    m_upsampling = combo(QStringLiteral("upsampling"), &ModelPane::rerender);
    m_upsampling->addItem(tr("nearest (patches)"), QStringLiteral("nearest"));
    m_upsampling->addItem(tr("bilinear"), QStringLiteral("bilinear"));
    m_alpha = new QSlider(Qt::Horizontal, this);
    m_alpha->setRange(0, 100);
    m_alpha->setValue(50);
    m_alpha->setFocusPolicy(Qt::ClickFocus);
    connect(m_alpha, &QSlider::valueChanged, this, &ModelPane::rerender);
    m_keepMass = new QDoubleSpinBox(this);
    m_keepMass->setRange(0.05, 1.0);
    m_keepMass->setSingleStep(0.05);
    m_keepMass->setValue(1.0);
    m_keepMass->setFocusPolicy(Qt::ClickFocus);
    connect(m_keepMass, &QDoubleSpinBox::valueChanged, this, &ModelPane::rerender);

    form->addRow(tr("Method"), m_method);
    auto* layerRow = new QHBoxLayout;
    layerRow->addWidget(m_layer, 1);
    layerRow->addWidget(m_camInput);
    form->addRow(tr("Layer"), layerRow);
    form->addRow(tr("Head"), m_head);
    form->addRow(tr("Class"), m_class);
    form->addRow(tr("Colormap"), m_colormap);
    form->addRow(tr("Alpha"), m_alpha);
    form->addRow(tr("Normalise"), m_normalization);
    form->addRow(tr("Upsampling"), m_upsampling);
    form->addRow(tr("Keep mass"), m_keepMass);
    m_wholeImage = new QCheckBox(tr("whole image, the model's crop outlined"), this);
    m_wholeImage->setObjectName(QStringLiteral("wholeImage"));
    m_wholeImage->setFocusPolicy(Qt::ClickFocus);
    m_wholeImage->setToolTip(tr("Draw the map back onto the image as opened: what the model did not see is dimmed"));
    connect(m_wholeImage, &QCheckBox::toggled, this, &ModelPane::rerender);
    form->addRow(tr("Show"), m_wholeImage);
    m_grid = new ThumbnailGrid(this);
    connect(m_grid, &ThumbnailGrid::cellClicked, this, &ModelPane::selectCell);
    auto* top = new QHBoxLayout;
    top->addLayout(form, 3);
    top->addWidget(m_grid, 2);
    layout->addLayout(top);

    m_state = new QLabel(this);
    m_state->setObjectName(QStringLiteral("state"));
    layout->addWidget(m_state);
    m_view = new OverlayView(this);
    layout->addWidget(m_view, 1);
    connect(m_view, &OverlayView::hovered, this, &ModelPane::showHover);
    connect(m_view, &OverlayView::clicked, this, &ModelPane::pictureClicked);
}

void ModelPane::setAnalysis(std::shared_ptr<const PaneAnalysis> analysis)
{
    m_analysis = std::move(analysis);
    m_query.reset();
    m_unit.reset();
    m_shown.reset();
    m_computed.clear();  // views of the previous trace
    m_computedOrder.clear();
    m_pendingKey.clear();
    const auto& spec = m_analysis->model->spec();
    m_picture = imaging::enlargePicture(imaging::inputPicture(m_analysis->trace.input, spec.preprocessing),
                                        kDisplaySide);
    m_wholePicture = cv::Mat();
    if (m_analysis->image) {
        const auto& image = *m_analysis->image;
        m_wholePicture = imaging::displayPicture(image, kDisplaySide, 2 * kDisplaySide);
        // Each axis by its own factor: the picture's sides are rounded separately.
        const double sx = double(m_wholePicture.cols) / image.cols, sy = double(m_wholePicture.rows) / image.rows;
        const auto& c = m_analysis->crop;
        m_cropInWhole = cv::Rect2d(c.x * sx, c.y * sy, c.width * sx, c.height * sy);
    }
    // The model's own name (folder or file); the full path is in the tooltip.
    // A model without a classifier (DINO, CLIP towers) outputs an embedding: say so, as
    // the views that need a class do.
    QString card = spec.numClasses == 0   ? tr("no classes: outputs a %1-d image embedding").arg(spec.embeddingDim)
                   : spec.numClasses == 1 ? tr("1 class")
                                          : tr("%1 classes").arg(spec.numClasses);
    if (spec.reportedAccuracy)
        card += tr(" · accuracy %1 on %2 (its config.json)")
                    .arg(*spec.reportedAccuracy, 0, 'f', 4)
                    .arg(QString::fromStdString(spec.reportedOn).toHtmlEscaped());
    // Broken weights (NaN, infinity) load, but what the model shows may be meaningless.
    for (const auto& warning : spec.warnings)
        card += QStringLiteral("<br><span style=\"color:#b00020\">%1</span>")
                    .arg(tr("Warning: %1").arg(QString::fromStdString(warning)).toHtmlEscaped());
    m_title->setText(QStringLiteral("<b>%1</b><br>%2<br>%3")
                         .arg(QString::fromStdString(spec.description).toHtmlEscaped(),
                              QFileInfo(m_analysis->modelPath).fileName().toHtmlEscaped(), card));
    m_title->setToolTip(m_analysis->modelPath);
    QStringList lines;
    for (const auto& p : engine::topK(m_analysis->trace.logits, spec.labels, 3))
        lines << QStringLiteral("%1 <b>%2</b>")
                     .arg(QString::fromStdString(p.label).toHtmlEscaped())
                     .arg(p.probability, 0, 'f', 3);
    m_predictions->setText(lines.join(QStringLiteral("<br>")));
    fillModelControls();
    updateGrid();
    refresh();
}

void ModelPane::fillModelControls()
{
    m_filling = true;
    const auto& trace = m_analysis->trace;
    const auto& spec = m_analysis->model->spec();
    const bool vit = spec.family == engine::Family::ViT;
    const auto shown = m_method->currentData();
    m_method->clear();
    for (const auto& info : engine::methodTable())
        if (info.supports(spec.family))
            m_method->addItem(QString::fromLatin1(info.name), int(info.method));
    m_camInput->setVisible(vit);
    m_method->setCurrentIndex(std::max(0, m_method->findData(shown)));
    m_layer->clear();
    if (vit) {
        for (std::size_t b = 0; b < trace.attentions.size(); ++b)
            m_layer->addItem(QString::number(b));
        if (trace.poolAttention.defined())  // SigLIP: the attention pool, selected by default
            m_layer->addItem(QString::fromLatin1(engine::kPoolLayer));
    } else
        for (const auto& [name, tensor] : trace.features)
            m_layer->addItem(QString::fromStdString(name));
    m_layer->setCurrentIndex(m_layer->count() - 1);
    // Item data: the head's index, or -1 for a fusion of all heads.
    m_head->clear();
    for (const char* fusion : {"mean", "max", "min"})
        m_head->addItem(QString::fromLatin1(fusion), -1);
    if (vit)
        for (int h = 0; h < spec.heads; ++h)
            m_head->addItem(QString::number(h), h);
    m_class->clear();
    m_class->addItem(tr("top-1"), -1);
    for (std::size_t c = 0; c < spec.labels.size(); ++c)
        m_class->addItem(QString::fromStdString(spec.labels[c]), int(c));
    m_filling = false;
}

ViewMethod ModelPane::method() const
{
    return m_method->count() ? ViewMethod(m_method->currentData().toInt()) : ViewMethod::Attention;
}
QString ModelPane::layer() const
{
    return m_layer->currentText();
}
QString ModelPane::head() const
{
    return m_head->currentText();
}

engine::ViewRequest ModelPane::request() const
{
    engine::ViewRequest r;
    r.method = method();
    r.layer = layer().toStdString();
    const auto& info = engine::methodInfo(r.method);
    if (info.rollsOut())
        r.layer = "0";  // rolled out from the first block; the layer box applies to the others
    else if (!info.takesLayer())
        r.layer.clear();
    else if (r.layer == engine::kPoolLayer && (r.method != ViewMethod::Attention || m_query))
        r.layer = "-1";  // only attention has a pool row, and no query patch; the others read the last block
    const bool fused = info.fusesHeads();
    // Item data: a head's index, or -1 for the fusions named by the item text.
    const int index = m_head->currentData().toInt();
    const auto chosen = index >= 0 ? engine::HeadChoice::one(index) : engine::headChoiceFromName(head().toStdString());
    if (info.heads == engine::MethodHeads::Choose || (fused && chosen.isFused()))
        r.head = chosen;
    r.classIndex = m_class->currentData().toInt();
    r.vitCamInput = engine::vitCamInputFromName(m_camInput->currentData().toString().toStdString());
    if (info.query)
        r.query = m_query;
    if (info.layer == engine::MethodLayer::Unit)
        r.query = m_unit;  // the unit whose field it is
    return r;
}

void ModelPane::refresh()
{
    if (!m_analysis || m_filling)
        return;
    const bool vit = m_analysis->model->spec().family == engine::Family::ViT;
    const auto m = method();
    const auto& info = engine::methodInfo(m);
    m_head->setEnabled(vit && info.heads != engine::MethodHeads::None);
    m_class->setEnabled(info.explainsClass());
    m_layer->setEnabled(info.takesLayer());
    m_camInput->setEnabled(vit && info.camInput);
    selectGridCell();
    if (m == ViewMethod::EffectiveField) {
        // The unit clicked last, else the centre of the current layer's grid.
        const auto& features = m_analysis->trace.features.at(std::size_t(m_layer->currentIndex())).second;
        const auto unit = m_unit.value_or(std::make_pair(int(features.size(2) / 2), int(features.size(3) / 2)));
        m_unit = std::make_pair(std::min(unit.first, int(features.size(2) - 1)),
                                std::min(unit.second, int(features.size(3) - 1)));
    }
    const auto r = request();
    if (info.needsModel()) {
        const auto key = engine::viewRequestKey(r);
        if (showComputed(key) || stillComputing(key))
            return;
        // Keep showing the last picture until the worker delivers the new one.
        m_waiting = true;
        m_pendingKey = key;
        m_state->setText(tr("computing %1 …").arg(methodName(m)));
        if (m == ViewMethod::EffectiveField)
            emit effectiveFieldRequested(m_analysis, layer(), m_unit->first, m_unit->second);
        else
            emit gradientViewRequested(m_analysis, r);
        if (m_shown && m_shown->method == r.method)
            render(*m_shown);
        return;
    }
    m_waiting = false;  // whatever gradient view was asked for before is not shown now
    try {
        render(engine::computeView(*m_analysis->model, m_analysis->trace, r));
    } catch (const std::exception& e) {
        m_state->setText(QString::fromStdString(engine::errorLine(e)));
    }
}

std::optional<std::string> ModelPane::modelRequestKey() const
{
    if (!engine::methodInfo(method()).needsModel())
        return std::nullopt;
    return engine::viewRequestKey(request());
}

bool ModelPane::showComputed(const std::string& key)
{
    const auto it = m_computed.find(key);
    if (it == m_computed.end())
        return false;
    m_waiting = false;  // a result still on its way is kept when it comes, not shown
    render(*it->second);
    return true;
}

bool ModelPane::stillComputing(const std::string& key)
{
    if (key != m_pendingKey)
        return false;
    m_waiting = true;  // asked again while on the worker: it comes, and is not restarted
    m_state->setText(tr("computing %1 …").arg(methodName(method())));
    return true;
}

void ModelPane::remember(const std::string& key, std::shared_ptr<const engine::ViewMaps> view)
{
    if (m_computed.count(key) == 0) {
        m_computedOrder.push_back(key);
        if (m_computedOrder.size() > kComputedViews) {  // the oldest goes
            m_computed.erase(m_computedOrder.front());
            m_computedOrder.pop_front();
        }
    }
    m_computed[key] = std::move(view);
}

void ModelPane::rerender()
{
    if (m_analysis && m_shown && !m_filling)
        render(*m_shown);
}

void ModelPane::recolor()
{
    rerender();
    updateGrid();
}

void ModelPane::selectGridCell()
{
    if (!m_analysis || m_grid->columns() == 0)
        return;
    const bool vit = m_analysis->model->spec().family == engine::Family::ViT;
    m_grid->setSelected(m_layer->currentIndex(), vit ? m_head->currentData().toInt() : 0);
}

void ModelPane::viewAbandoned()
{
    m_pendingKey.clear();
    if (!m_waiting)
        return;
    m_waiting = false;
    m_state->setText(
        tr("%1 was not computed (cancelled or failed); the picture is the previous view").arg(methodName(method())));
    emit rendered();
}

void ModelPane::viewReady(std::shared_ptr<const engine::ViewMaps> view)
{
    // The controller delivers only the newest request of a pane: the one pending.
    if (!m_analysis || m_pendingKey.empty())
        return;
    remember(m_pendingKey, view);
    const bool wanted = modelRequestKey() == m_pendingKey;
    m_pendingKey.clear();
    if (!wanted)
        return;  // the user moved on meanwhile; it is kept for when they come back
    m_waiting = false;
    render(*view);
}

void ModelPane::render(const engine::ViewMaps& view)
{
    m_shown = view;
    imaging::OverlayOptions options;
    options.colormap = imaging::colormapFromName(m_colormap->currentText().toStdString());
    options.alpha = m_alpha->value() / 100.0;
    options.upsampling = imaging::upsamplingFromName(m_upsampling->currentData().toString().toStdString());
    const auto map = imaging::keepMass(view.maps[0][0], m_keepMass->value());
    auto range = imaging::rangeOf(map);
    // Per layer: the range of every head of the shown view's layer, so that heads compare.
    if (m_normalization->currentData().toString() == QLatin1String("layer") && view.method == ViewMethod::Attention) {
        engine::ViewRequest all;
        all.layer = view.layers[0];
        all.head = engine::HeadChoice::all();
        all.query = m_query;
        try {
            range = imaging::rangeOf(engine::computeView(*m_analysis->model, m_analysis->trace, all).maps[0]);
        } catch (const std::exception&) {
            // the view's own range then; refresh() has said what failed
        }
    }
    m_rendered = showsWholeImage() ? imaging::renderOverlayInRegion(m_wholePicture, map, inputRegion(), range, options)
                                   : imaging::renderOverlay(m_picture, map, range, options);
    if (view.method == ViewMethod::EffectiveField)
        drawReceptiveBox(m_rendered);
    if (m_query)
        drawQueryPatch(m_rendered);
    m_view->setImage(toQImage(m_rendered), picture().cols);
    m_state->setText(viewCaption(view));
    emit rendered();
}

QString ModelPane::viewCaption(const engine::ViewMaps& view) const
{
    QString text = QStringLiteral("%1 · %2").arg(methodName(view.method), layerLabel(view.layers[0]));
    if (engine::methodInfo(view.method).heads != engine::MethodHeads::None)
        text += QStringLiteral(" · head %1").arg(QString::fromStdString(view.heads[0]));
    if (!view.camInput.empty())
        text += view.camInput == "norm1" ? tr(" · norm1 output") : tr(" · residual stream");
    if (view.classIndex)
        text += QStringLiteral(" · class %1").arg(m_class->itemText(*view.classIndex + 1));
    if (m_query)
        text += QStringLiteral(" · query patch %1,%2").arg(m_query->first).arg(m_query->second);
    if (view.method == ViewMethod::EffectiveField && m_unit)
        text += tr(" · box: theoretical field");  // the layer reads "layer3 @row,col": the unit
    return text;
}

std::optional<FaithfulnessRequest> ModelPane::faithfulnessRequest() const
{
    // An effective field is a unit's, not a class's; a model without classes has no
    // probability to follow.
    if (!m_analysis || !m_shown || m_shown->method == ViewMethod::EffectiveField
        || m_analysis->model->spec().numClasses == 0)
        return std::nullopt;
    return FaithfulnessRequest{m_analysis, m_shown->maps[0][0], m_shown->classIndex.value_or(-1),
                               viewCaption(*m_shown)};
}

void ModelPane::showHover(QPointF unit)
{
    if (!m_shown)
        return;
    const auto input = inputUnitFromPicture(unit);
    if (!input) {
        emit statusMessage(tr("%1: outside what the model sees").arg(sideTitle(m_side)));
        return;
    }
    const auto cell = imaging::cellAt(m_shown->maps[0][0], input->x(), input->y());
    emit statusMessage(tr("%1: cell row %2, col %3 · value %4")
                           .arg(sideTitle(m_side))
                           .arg(cell.row)
                           .arg(cell.col)
                           .arg(cell.value, 0, 'g', 4));
}

bool ModelPane::showsWholeImage() const
{
    return m_wholeImage->isChecked() && !m_wholePicture.empty();
}

const cv::Mat& ModelPane::picture() const
{
    return showsWholeImage() ? m_wholePicture : m_picture;
}

cv::Rect2d ModelPane::inputRegion() const
{
    return showsWholeImage() ? m_cropInWhole : cv::Rect2d(0, 0, m_picture.cols, m_picture.rows);
}

std::optional<QPointF> ModelPane::inputUnitFromPicture(QPointF p) const
{
    const auto region = inputRegion();
    const double x = (p.x() * picture().cols - region.x) / region.width;
    const double y = (p.y() * picture().rows - region.y) / region.height;
    if (x < 0 || x > 1 || y < 0 || y > 1)
        return std::nullopt;
    return QPointF(x, y);
}

std::optional<QPointF> ModelPane::inputUnitFromImage(QPointF i) const
{
    if (!m_analysis || !m_analysis->image)
        return std::nullopt;
    const auto& c = m_analysis->crop;
    const double x = (i.x() * m_analysis->image->cols - c.x) / c.width;
    const double y = (i.y() * m_analysis->image->rows - c.y) / c.height;
    if (x < 0 || x >= 1 || y < 0 || y >= 1)
        return std::nullopt;
    return QPointF(x, y);
}

QPointF ModelPane::imageUnitFromInput(QPointF u) const
{
    const auto& c = m_analysis->crop;
    return {(c.x + u.x() * c.width) / m_analysis->image->cols, (c.y + u.y() * c.height) / m_analysis->image->rows};
}

void ModelPane::pictureClicked(QPointF unit)
{
    if (!m_analysis)
        return;
    const auto input = inputUnitFromPicture(unit);
    if (input)
        queryAtInput(*input);  // else outside what this model sees
    if (!m_analysis->image)
        return;
    if (showsWholeImage())
        emit imageClicked(unit);  // the picture is the whole image
    else if (input)
        emit imageClicked(imageUnitFromInput(*input));
}

void ModelPane::queryAt(QPointF location)
{
    if (m_analysis)
        if (const auto input = inputUnitFromPicture(location))
            queryAtInput(*input);
}

void ModelPane::queryAtImage(QPointF imageUnit)
{
    if (const auto input = inputUnitFromImage(imageUnit))
        queryAtInput(*input);
}

void ModelPane::queryAtInput(QPointF location)
{
    if (!m_analysis)
        return;
    const auto cell = [&](double fraction, int64_t cells) {
        return std::clamp(int(fraction * double(cells)), 0, int(cells) - 1);
    };
    if (m_analysis->model->spec().family == engine::Family::ViT) {
        const auto& tokens = m_analysis->trace.tokens;
        setQuery(std::make_pair(cell(location.y(), tokens.gridH), cell(location.x(), tokens.gridW)));
        return;
    }
    const auto& features = m_analysis->trace.features.at(std::size_t(m_layer->currentIndex())).second;
    setUnit(std::make_pair(cell(location.y(), features.size(2)), cell(location.x(), features.size(3))));
}

void ModelPane::setUnit(std::optional<std::pair<int, int>> unit)
{
    m_unit = unit;
    if (unit && method() != ViewMethod::EffectiveField)
        setMethod(ViewMethod::EffectiveField);  // refreshes
    else
        refresh();
}

void ModelPane::drawReceptiveBox(cv::Mat& image) const
{
    if (!m_unit || !m_analysis)
        return;
    const auto field = engine::theoreticalField(m_analysis->model->spec(), layer().toStdString());
    if (!field)
        return;
    const auto& input = m_analysis->trace.input;
    const auto box = engine::receptiveBox(*field, m_unit->first, m_unit->second, int(input.size(2)),
                                          int(input.size(3)));
    imaging::outlineBox(image, box, inputRegion(), int(input.size(3)));
}

void ModelPane::drawQueryPatch(cv::Mat& image) const
{
    // The patch whose row of attention is shown, outlined so the eye finds the source.
    const auto& tokens = m_analysis->trace.tokens;
    imaging::outlineCell(image, inputRegion(), tokens.gridH, tokens.gridW, m_query->first, m_query->second);
}

void ModelPane::updateGrid()
{
    if (!m_analysis)
        return;
    imaging::OverlayOptions options;
    options.colormap = imaging::colormapFromName(m_colormap->currentText().toStdString());
    std::vector<QImage> cells;
    const auto cell = [&](const torch::Tensor& map, const imaging::MapRange& range) {
        const auto side = int(std::max<int64_t>(28, std::max(map.size(0), map.size(1))));
        cells.push_back(toQImage(imaging::renderMap(map, range, cv::Size(side, side), options)));
    };
    if (m_analysis->model->spec().family == engine::Family::ViT) {
        const auto view = attentionOfEveryHead();
        QStringList labels;
        for (int64_t l = 0; l < view.maps.size(0); ++l) {
            const auto range = imaging::rangeOf(view.maps[l]);  // per layer: heads compare
            for (int64_t h = 0; h < view.maps.size(1); ++h)
                cell(view.maps[l][h], range);
            const auto& layer = view.layers[std::size_t(l)];
            labels << (layer == engine::kPoolLayer ? QString::fromLatin1(engine::kPoolLayer) : layerLabel(layer));
        }
        m_grid->setCells(cells, int(view.maps.size(0)), int(view.maps.size(1)), labels, gridTitle(), tr("head"));
        m_grid->setToolTip(gridExplanation());
    } else {
        for (const auto& map : engine::stageMeanActivations(m_analysis->trace))
            cell(map, imaging::rangeOf(map));
        QStringList names;
        for (const auto& [name, features] : m_analysis->trace.features)
            names << QString::fromStdString(name);
        m_grid->setCells(cells, int(cells.size()), 1, names, tr("stages, mean activation"));
    }
    selectGridCell();
}

QString ModelPane::layerLabel(const std::string& layer) const
{
    // ViT layers are blocks ("block 5") or the attention pool; CNN layers name themselves ("layer3").
    if (layer == engine::kPoolLayer)
        return tr("attention pool");
    const auto name = QString::fromStdString(layer);
    if (name.startsWith(QLatin1String("from ")))  // rolled out from a block
        return tr("from block %1").arg(name.mid(5));
    return m_side == Side::ViT ? tr("block %1").arg(name) : name;
}

QString ModelPane::gridTitle() const
{
    if (m_query)
        return tr("patch %1,%2 attention, blocks × heads").arg(m_query->first).arg(m_query->second);
    if (m_analysis->trace.tokens.hasCls)
        return tr("CLS attention, blocks × heads");
    // No CLS token: what stands for it is said, not hidden (docs/methods.md).
    return m_analysis->trace.poolAttention.defined() ? tr("no CLS: mean patch row; pool")
                                                     : tr("no CLS: mean patch row");
}

QString ModelPane::gridExplanation() const
{
    if (m_query || m_analysis->trace.tokens.hasCls)
        return {};
    QString text = tr("This model has no CLS token: a block's map is the mean attention row of its patches.");
    if (m_analysis->trace.poolAttention.defined())
        text += tr(" The last row, pool, is its attention-pooling head: the learned query that summarises the "
                   "image attends over the last block's tokens. It stands for CLS attention.");
    return text;
}

void ModelPane::selectCell(int row, int column)
{
    m_filling = true;
    if (m_analysis->model->spec().family == engine::Family::ViT) {
        m_layer->setCurrentIndex(row);
        m_head->setCurrentIndex(m_head->findData(column));
        if (method() != ViewMethod::Attention)
            m_method->setCurrentIndex(m_method->findData(int(ViewMethod::Attention)));
    } else {
        m_layer->setCurrentIndex(row);
    }
    m_filling = false;
    refresh();
}

void ModelPane::setQuery(std::optional<std::pair<int, int>> patch)
{
    m_query = patch;
    if (patch)
        setMethod(ViewMethod::Attention);
    updateGrid();
    refresh();
}

void ModelPane::clearQuery()
{
    m_unit.reset();
    setQuery(std::nullopt);
}

void ModelPane::setMethod(ViewMethod method)
{
    const int index = m_method->findData(int(method));
    if (index >= 0)
        m_method->setCurrentIndex(index);
}

void ModelPane::showHead(int layer, int head)
{
    setMethod(ViewMethod::Attention);
    const int layerIndex = m_layer->findText(QString::number(layer));
    const int headIndex = m_head->findData(head);
    if (layerIndex >= 0)
        m_layer->setCurrentIndex(layerIndex);
    if (headIndex >= 0)
        m_head->setCurrentIndex(headIndex);
    setFocus();  // the arrow keys go on from this head
}

void ModelPane::setColormap(const QString& name)
{
    const int index = m_colormap->findText(name);
    if (index >= 0)
        m_colormap->setCurrentIndex(index);
}

void ModelPane::stepLayer(int delta)
{
    stepCombo(m_layer, delta);
}
void ModelPane::stepHead(int delta)
{
    stepCombo(m_head, delta);
}

void ModelPane::keyPressEvent(QKeyEvent* event)
{
    switch (event->key()) {
    case Qt::Key_Up:
    case Qt::Key_PageUp: stepLayer(-1); break;
    case Qt::Key_Down:
    case Qt::Key_PageDown: stepLayer(+1); break;
    case Qt::Key_Left: stepHead(-1); break;
    case Qt::Key_Right: stepHead(+1); break;
    case Qt::Key_Escape:
        clearQuery();
        emit queryCleared();  // the other pane forgets the same place
        break;
    default: QWidget::keyPressEvent(event); return;
    }
    event->accept();
}

imaging::ViewImageOptions ModelPane::imageOptions() const
{
    imaging::ViewImageOptions options;
    options.overlay.colormap = imaging::colormapFromName(m_colormap->currentText().toStdString());
    options.overlay.alpha = m_alpha->value() / 100.0;
    options.overlay.upsampling = imaging::upsamplingFromName(m_upsampling->currentData().toString().toStdString());
    options.normalization = imaging::normalizationFromName(m_normalization->currentData().toString().toStdString());
    options.keepMass = m_keepMass->value();
    return options;
}

std::string ModelPane::className(const engine::ViewMaps& view) const
{
    return view.classIndex ? m_class->itemText(*view.classIndex + 1).toStdString() : std::string();
}

void ModelPane::exportOverlay(const QString& path) const
{
    if (!m_shown || m_rendered.empty())
        throw std::runtime_error("nothing to export yet");
    imaging::writePng(path.toStdString(), m_rendered,
                      imaging::viewDescription(m_analysis->modelPath.toStdString(), *m_shown, className(*m_shown),
                                               imageOptions()));
}

engine::ViewMaps ModelPane::attentionOfEveryHead() const
{
    engine::ViewRequest all;
    all.method = ViewMethod::Attention;
    all.layer = "all";
    all.head = engine::HeadChoice::all();
    all.query = m_query;
    return engine::computeView(*m_analysis->model, m_analysis->trace, all);  // [blocks, heads, gh, gw]
}

void ModelPane::exportMontage(const QString& path) const
{
    if (!m_analysis || m_analysis->model->spec().family != engine::Family::ViT)
        throw std::runtime_error("a layer x head montage needs a ViT");
    const auto view = attentionOfEveryHead();
    const auto options = imageOptions();
    const auto picture = imaging::inputPicture(m_analysis->trace.input, m_analysis->model->spec().preprocessing);
    imaging::writePng(path.toStdString(), imaging::renderView(picture, view, options),
                      imaging::viewDescription(m_analysis->modelPath.toStdString(), view, {}, options));
}

void ModelPane::exportGrid(const QString& path) const
{
    writeWidgetPng(*m_grid, path,
                   {{io::pngkey::kSoftware, "attnviz"},
                    {io::pngkey::kModel, m_analysis ? m_analysis->modelPath.toStdString() : ""}});
}

void ModelPane::saveSettings() const
{
    settings::PaneRendering r;
    r.colormap = m_colormap->currentText();
    r.alpha = m_alpha->value();
    r.normalization = m_normalization->currentIndex();
    r.upsampling = m_upsampling->currentIndex();
    r.wholeImage = m_wholeImage->isChecked();
    settings::setPaneRendering(m_side, r);
}

void ModelPane::restoreSettings()
{
    const auto r = settings::paneRendering(m_side);
    m_filling = true;
    setColormap(r.colormap);
    m_alpha->setValue(r.alpha);
    m_normalization->setCurrentIndex(r.normalization);
    m_upsampling->setCurrentIndex(r.upsampling);
    m_wholeImage->setChecked(r.wholeImage);
    m_filling = false;
}

}  // namespace attnviz::ui
