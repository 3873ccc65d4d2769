#include "ui/pane/modelpane.h"

#include "ui/appsettings.h"
#include "ui/imageconvert.h"
#include "ui/pane/headgrid.h"

#include "core/engine/errormessage.h"
#include "core/engine/methods/cam.h"
#include "core/engine/methods/receptivefield.h"
#include "core/engine/model/predictions.h"
#include "core/engine/vit/vit.h"
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
#include <QLineEdit>
#include <QRegularExpression>
#include <QSlider>
#include <QStandardItemModel>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <numeric>

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
    buildHeader(layout);
    buildViewControls();
    buildRenderingControls();
    m_grid = new ThumbnailGrid(this);
    connect(m_grid, &ThumbnailGrid::cellClicked, this, &ModelPane::selectCell);
    auto* top = new QHBoxLayout;
    top->addLayout(controlsForm(), 3);
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

void ModelPane::buildHeader(QVBoxLayout* layout)
{
    m_title = new QLabel(tr("%1: no model").arg(sideTitle(m_side)), this);
    m_title->setObjectName(QStringLiteral("title"));
    m_title->setWordWrap(true);
    m_title->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_predictions = new QLabel(this);
    m_predictions->setTextFormat(Qt::RichText);
    layout->addWidget(m_title);
    layout->addWidget(m_predictions);
}

ChoiceCombo* ModelPane::addCombo(const QString& objectName, void (ModelPane::*onChange)())
{
    auto* c = new ChoiceCombo(this);
    c->setObjectName(objectName);
    c->setFocusPolicy(Qt::ClickFocus);  // arrow keys stay with the pane
    connect(c, &QComboBox::currentIndexChanged, this, [this, onChange] {
        if (!m_filling)
            (this->*onChange)();
    });
    return c;
}

// What the model is asked (method, layer, head, class, CAM input) refreshes the view;
// how it is drawn (colormap, normalisation, upsampling, alpha, keep mass) only draws
// the view shown again, and never reaches the worker.
void ModelPane::buildViewControls()
{
    m_method = addCombo(QStringLiteral("method"), &ModelPane::refresh);
    m_layer = addCombo(QStringLiteral("layer"), &ModelPane::refresh);
    m_head = addCombo(QStringLiteral("head"), &ModelPane::refresh);
    m_class = addCombo(QStringLiteral("class"), &ModelPane::refresh);
    m_method->setToolTip(tr("What the map shows; Help → Methods names each method's paper"));
    m_layer->setToolTip(tr("The block (ViT) or stage (CNN) the map is taken at; Up/Down step through them"));
    m_head->setToolTip(tr("One attention head, or all heads fused by their mean, max or min; Left/Right step "
                          "through them"));
    m_class->setToolTip(tr("The class a class-specific method explains: the model's top-1, or any other"));
    m_prompt = new QLineEdit(this);
    m_prompt->setObjectName(QStringLiteral("prompt"));
    m_prompt->setPlaceholderText(tr("a prompt, then Enter"));
    m_prompt->setClearButtonEnabled(true);
    m_prompt->setToolTip(tr("CLIP and SigLIP: a text for the text tower. Enter makes it a class and shows where the "
                            "model sees it (its tokenizer file must be beside the weights)"));
    connect(m_prompt, &QLineEdit::returnPressed, this, &ModelPane::askPrompt);
    m_camInput = addCombo(QStringLiteral("camInput"), &ModelPane::refresh);
    m_camInput->addItem(tr("norm1 output"), QStringLiteral("norm1"));
    m_camInput->addItem(tr("residual stream"), QStringLiteral("residual"));
    m_camInput->setToolTip(tr("Which tokens of a ViT block a CAM reads: its norm1 output (as pytorch-grad-cam's "
                              "blocks[i].norm1) or the residual stream entering the block"));
    m_settings = new MethodSettingsBox(this);
    m_settings->setObjectName(QStringLiteral("methodSettings"));
    connect(m_settings, &MethodSettingsBox::changed, this, &ModelPane::refresh);
}

void ModelPane::buildRenderingControls()
{
    m_colormap = addCombo(QStringLiteral("colormap"), &ModelPane::recolor);
    for (const char* name : {"viridis", "inferno", "magma", "plasma", "turbo", "jet", "gray"})
        m_colormap->addItem(QString::fromLatin1(name));
    m_colormap->setToolTip(tr("The colours of the map and of the head grid (viridis and the others but jet and "
                              "turbo are perceptually uniform)"));
    m_normalization = addCombo(QStringLiteral("normalization"), &ModelPane::rerender);
    m_normalization->addItem(tr("per map"), QStringLiteral("map"));
    m_normalization->addItem(tr("per layer (heads compare)"), QStringLiteral("layer"));
    m_normalization->setToolTip(tr("The colour scale: this map's own range, or the range of every head of the "
                                   "block, so that heads can be compared"));
    m_upsampling = addCombo(QStringLiteral("upsampling"), &ModelPane::rerender);
    m_upsampling->addItem(tr("nearest (patches)"), QStringLiteral("nearest"));
    m_upsampling->addItem(tr("bilinear"), QStringLiteral("bilinear"));
    m_upsampling->setToolTip(tr("How the map is enlarged to the picture: nearest keeps patches and units "
                                "crisp, bilinear smooths them"));
    m_alpha = new QSlider(Qt::Horizontal, this);
    m_alpha->setRange(0, 100);
    m_alpha->setValue(50);
    m_alpha->setFocusPolicy(Qt::ClickFocus);
    m_alpha->setObjectName(QStringLiteral("alpha"));
    m_alpha->setToolTip(tr("How opaque the map is over the picture: 0 the picture only, 1 the map only"));
    m_alphaValue = new QLabel(this);
    m_alphaValue->setObjectName(QStringLiteral("alphaValue"));
    const auto showAlpha = [this](int value) { m_alphaValue->setText(QString::number(value / 100.0, 'f', 2)); };
    showAlpha(m_alpha->value());
    connect(m_alpha, &QSlider::valueChanged, this, showAlpha);
    connect(m_alpha, &QSlider::valueChanged, this, &ModelPane::rerender);
    m_keepMass = new QDoubleSpinBox(this);
    m_keepMass->setRange(0.05, 1.0);
    m_keepMass->setSingleStep(0.05);
    m_keepMass->setValue(1.0);
    m_keepMass->setFocusPolicy(Qt::ClickFocus);
    m_keepMass->setObjectName(QStringLiteral("keepMass"));
    m_keepMass->setToolTip(tr("Show only the strongest cells holding this fraction of the map's total; "
                              "1 shows the whole map"));
    connect(m_keepMass, &QDoubleSpinBox::valueChanged, this, &ModelPane::rerender);
    m_wholeImage = new QCheckBox(tr("whole image, the model's crop outlined"), this);
    m_wholeImage->setObjectName(QStringLiteral("wholeImage"));
    m_wholeImage->setFocusPolicy(Qt::ClickFocus);
    m_wholeImage->setToolTip(tr("Draw the map back onto the image as opened: what the model did not see is dimmed"));
    connect(m_wholeImage, &QCheckBox::toggled, this, &ModelPane::rerender);
}

QFormLayout* ModelPane::controlsForm()
{
    auto* form = new QFormLayout;
    m_form = form;
    form->addRow(tr("Method"), m_method);
    form->addRow(tr("Options"), m_settings);
    form->setRowVisible(m_settings, false);  // until a method with settings of its own
    auto* layerRow = new QHBoxLayout;
    layerRow->addWidget(m_layer, 1);
    layerRow->addWidget(m_camInput);
    form->addRow(tr("Layer"), layerRow);
    form->addRow(tr("Head"), m_head);
    form->addRow(tr("Class"), m_class);
    form->addRow(tr("Prompt"), m_prompt);
    form->setRowVisible(m_prompt, false);  // until a model with a text tower
    form->addRow(tr("Colormap"), m_colormap);
    auto* alphaRow = new QHBoxLayout;
    alphaRow->addWidget(m_alpha, 1);
    alphaRow->addWidget(m_alphaValue);
    form->addRow(tr("Alpha"), alphaRow);
    form->addRow(tr("Normalise"), m_normalization);
    form->addRow(tr("Upsampling"), m_upsampling);
    form->addRow(tr("Keep mass"), m_keepMass);
    form->addRow(tr("Show"), m_wholeImage);
    return form;
}

void ModelPane::setAnalysis(std::shared_ptr<const PaneAnalysis> analysis)
{
    const auto previousModel = m_analysis ? m_analysis->modelPath : QString();
    m_analysis = std::move(analysis);
    m_place.reset();  // a place of the previous image
    m_placeSwitch.reset();
    m_lastView.reset();  // a new analysis starts no change
    m_query.reset();
    m_unit.reset();
    m_shown.reset();
    m_views.clear();  // views of the previous trace
    const auto& spec = m_analysis->model->spec();
    m_picture = imaging::enlargePicture(imaging::inputPicture(m_analysis->trace.input, spec.preprocessing),
                                        kDisplaySide);
    m_wholePicture = cv::Mat();
    cv::Size image;
    if (m_analysis->image) {
        image = m_analysis->image->size();
        m_wholePicture = imaging::displayPicture(*m_analysis->image, kDisplaySide, 2 * kDisplaySide);
    }
    m_geometry = PaneGeometry::make(m_picture.size(), image, m_wholePicture.size(), m_analysis->crop);
    describeModel();
    // Another image through the same model keeps what the boxes say; another model
    // starts from its last block (or stage) and the head mean.
    const auto layer = m_layer->currentText();
    const auto head = m_head->currentData(), classIndex = m_class->currentData();
    fillModelControls();
    if (previousModel == m_analysis->modelPath)
        keepSelection(layer, head, classIndex);
    updateGrid();
    refresh();
}

void ModelPane::describeModel()
{
    const auto& spec = m_analysis->model->spec();
    // The model's own name (folder or file); the full path is in the tooltip.
    // A model without a classifier (DINO, CLIP towers) outputs an embedding: say so, as
    // the views that need a class do.
    QString card = spec.numClasses == 0   ? tr("no classes: outputs a %1-d image embedding").arg(spec.embeddingDim)
                   : spec.numClasses == 1 ? tr("1 class")
                                          : tr("%1 classes").arg(spec.numClasses);
    if (engine::textTowerOf(*m_analysis->model))
        card += spec.promptClasses ? tr(" (prompts: scored by the text tower)") : tr(" · a text tower: type a prompt");
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
    for (const auto& p : engine::topK(m_analysis->trace.logits, spec, 3)) {
        auto line = QStringLiteral("%1 <b>%2</b>")
                        .arg(QString::fromStdString(p.label).toHtmlEscaped())
                        .arg(p.probability, 0, 'f', 3);
        if (spec.promptClasses)  // a softmax over the prompts alone says little: the score too
            line += tr(" · score %1").arg(m_analysis->trace.logits[0][p.index].item<double>(), 0, 'f', 2);
        lines << line;
    }
    m_predictions->setText(lines.join(QStringLiteral("<br>")));
}

void ModelPane::fillModelControls()
{
    m_filling = true;
    const auto choices = paneChoices(m_analysis->model->spec(), m_analysis->trace);
    const auto shown = m_method->currentData();
    m_method->clear();
    for (const auto method : choices.methods)
        m_method->addItem(methodName(method), int(method));
    m_camInput->setVisible(m_side == Side::ViT);
    m_method->setCurrentIndex(std::max(0, m_method->findData(shown)));
    m_layer->clear();
    for (const auto& layer : choices.layers)
        m_layer->addItem(QString::fromStdString(layer));
    m_layer->setCurrentIndex(m_layer->count() - 1);  // the last block (a pool, where there is one) or stage
    // Item data: the head's index, or -1 for a fusion of all heads.
    m_head->clear();
    for (const auto& head : choices.heads)
        m_head->addItem(QString::fromStdString(head.name), head.index);
    m_class->clear();
    m_class->addItem(tr("top-1"), -1);
    for (const int c : classOrder())
        m_class->addItem(QString::fromStdString(choices.classes[std::size_t(c)]), c);
    m_form->setRowVisible(m_prompt, engine::textTowerOf(*m_analysis->model) != nullptr);
    m_filling = false;
}

std::vector<int> ModelPane::classOrder() const
{
    const auto& spec = m_analysis->model->spec();
    std::vector<int> order(spec.labels.size());
    std::iota(order.begin(), order.end(), 0);
    const auto& logits = m_analysis->trace.logits;
    if (spec.promptClasses && logits.defined() && logits.numel() == int64_t(order.size())) {
        const auto scores = logits.reshape({-1}).to(torch::kFloat64).contiguous();
        const auto* s = scores.data_ptr<double>();
        std::stable_sort(order.begin(), order.end(), [s](int a, int b) { return s[a] > s[b]; });
    }
    return order;
}

void ModelPane::askAbout(const QString& prompt)
{
    m_prompt->setText(prompt);
    askPrompt();
}

void ModelPane::askPrompt()
{
    const auto prompt = m_prompt->text().trimmed();
    if (prompt.isEmpty() || !m_analysis)
        return;
    m_prompt->selectAll();  // the next one typed replaces it
    const auto& spec = m_analysis->model->spec();
    if (spec.promptClasses)  // asked before: its class is there
        for (std::size_t c = 0; c < spec.labels.size(); ++c)
            if (QString::fromStdString(spec.labels[c]) == prompt) {
                showPromptClass(int(c));
                return;
            }
    emit promptAsked(prompt);
}

void ModelPane::showPromptClass(int classIndex)
{
    const int index = m_class->findData(classIndex);
    if (index < 0)
        return;
    m_filling = true;  // one refresh, below, for the class and the method together
    m_class->setCurrentIndex(index);
    if (!engine::methodInfo(method()).explainsClass())
        setMethod(ViewMethod::LeGrad);
    m_filling = false;
    refresh();
}

void ModelPane::keepSelection(const QString& layer, const QVariant& head, const QVariant& classIndex)
{
    m_filling = true;
    if (const int i = m_layer->findText(layer); i >= 0)
        m_layer->setCurrentIndex(i);
    if (const int i = m_head->findData(head); i >= 0)
        m_head->setCurrentIndex(i);
    if (const int i = m_class->findData(classIndex); i >= 0)
        m_class->setCurrentIndex(i);
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

PaneSelection ModelPane::selection() const
{
    PaneSelection s;
    s.method = method();
    s.layer = layer().toStdString();
    s.head = {head().toStdString(), m_head->currentData().toInt()};  // -1: the fusion named by the text
    s.classIndex = m_class->currentData().toInt();
    s.camInput = engine::vitCamInputFromName(m_camInput->currentData().toString().toStdString());
    s.settings = m_settings->settings();
    s.query = m_query;
    s.unit = m_unit;
    return s;
}

PaneGeometry ModelPane::geometry() const
{
    auto g = m_geometry;
    g.showsWhole = m_wholeImage->isChecked() && !g.whole.empty();
    return g;
}

void ModelPane::refresh()
{
    if (!m_analysis || m_filling)
        return;
    const auto m = method();
    const auto& info = engine::methodInfo(m);
    derivePlaceCells();  // the layer may have changed: the unit at the same place
    if (const auto now = view(); m_lastView != now) {
        if (m_lastView)
            emit viewChanged(*m_lastView, now);
        m_lastView = now;
    }
    updateControlStates(info);
    selectGridCell();
    if (m == ViewMethod::EffectiveField) {
        // The unit clicked last, else the centre of the current layer's grid.
        const auto& features = m_analysis->trace.features.at(std::size_t(m_layer->currentIndex())).second;
        m_unit = unitOnGrid(m_unit, features.size(2), features.size(3));
    }
    const auto r = request();
    if (info.onWorker()) {
        requestFromModel(r);
        return;
    }
    m_waiting = false;  // whatever gradient view was asked for before is not shown now
    try {
        render(engine::computeView(*m_analysis->model, m_analysis->trace, r));
    } catch (const std::exception& e) {
        m_state->setText(QString::fromStdString(engine::errorLine(e)));
    }
}

void ModelPane::updateControlStates(const engine::MethodInfo& info)
{
    const bool vit = m_side == Side::ViT;
    m_head->setEnabled(vit && info.heads != engine::MethodHeads::None);
    m_class->setEnabled(info.explainsClass());
    m_layer->setEnabled(info.takesLayer());
    m_camInput->setEnabled(vit && info.camInput);
    m_form->setRowVisible(m_settings, m_settings->showFor(info));
    // A box whose choice the view does not use says what it uses instead ("from 0", "—").
    const auto shown = shownValues(m_analysis->model->spec().family, selection());
    const auto text = [](const std::optional<std::string>& s) {
        return s ? std::optional<QString>(QString::fromStdString(*s)) : std::nullopt;
    };
    m_layer->setShownText(text(shown.layer));
    m_head->setShownText(text(shown.head));
    m_class->setShownText(text(shown.classLabel));
    m_camInput->setShownText(text(shown.camInput));
    // Heads fused (rollouts): one head is no choice.
    if (auto* items = qobject_cast<QStandardItemModel*>(m_head->model()))
        for (int i = 0; i < items->rowCount(); ++i)
            items->item(i)->setEnabled(!info.fusesHeads() || m_head->itemData(i).toInt() < 0);
}

void ModelPane::requestFromModel(const engine::ViewRequest& r)
{
    const auto key = engine::viewRequestKey(r);
    if (showComputed(key) || stillComputing(key))
        return;
    // Keep showing the last picture until the worker delivers the new one.
    m_waiting = true;
    m_views.setPending(key);
    m_state->setText(tr("computing %1 …").arg(methodName(r.method)));
    emit gradientViewRequested(m_analysis, r);  // an effective field too: the unit is its query
    if (m_shown && m_shown->method == r.method)
        render(*m_shown);
}

std::optional<std::string> ModelPane::modelRequestKey() const
{
    if (!engine::methodInfo(method()).onWorker())
        return std::nullopt;
    return engine::viewRequestKey(request());
}

bool ModelPane::showComputed(const std::string& key)
{
    const auto view = m_views.find(key);
    if (!view)
        return false;
    m_waiting = false;  // a result still on its way is kept when it comes, not shown
    render(*view);
    return true;
}

bool ModelPane::stillComputing(const std::string& key)
{
    if (!m_views.isPending(key))
        return false;
    m_waiting = true;  // asked again while on the worker: it comes, and is not restarted
    m_state->setText(tr("computing %1 …").arg(methodName(method())));
    return true;
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
    m_grid->setSelected(m_layer->currentIndex(), m_side == Side::ViT ? m_head->currentData().toInt() : 0);
}

void ModelPane::viewAbandoned()
{
    m_views.clearPending();
    if (!m_waiting)
        return;
    m_waiting = false;
    m_state->setText(
        tr("%1 was not computed (cancelled or failed); the picture is the previous view").arg(methodName(method())));
    emit rendered();
}

void ModelPane::viewReady(const std::shared_ptr<const engine::ViewMaps>& view)
{
    // The controller delivers only the newest request of a pane: the one pending.
    if (!m_analysis || m_views.pending().empty())
        return;
    const auto key = m_views.pending();
    m_views.remember(key, view);
    m_views.clearPending();
    if (modelRequestKey() != key)
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
    // a picture in its own colours (pca), or a map whose strongest cells are kept
    const auto map = view.rgb ? view.maps[0] : imaging::keepMass(view.maps[0][0], m_keepMass->value());
    const auto range = renderRange(view, map);
    const auto g = geometry();
    m_rendered = g.showsWhole ? imaging::renderOverlayInRegion(m_wholePicture, map, g.inputRegion(), range, options)
                              : imaging::renderOverlay(m_picture, map, range, options);
    if (m_analysis->mask.defined())  // the ground truth the Trust tab scores against
        imaging::outlineMask(m_rendered, m_analysis->mask, g.inputRegion());
    if (view.method == ViewMethod::EffectiveField)
        drawReceptiveBox(m_rendered);
    if (m_query)
        drawQueryPatch(m_rendered);
    if (m_place && m_unit && view.method != ViewMethod::EffectiveField)
        drawUnitCell(m_rendered);  // the place the other picture was clicked at
    m_view->setImage(toQImage(m_rendered), picture().cols);
    m_state->setText(viewCaption(view));
    emit rendered();
}

imaging::MapRange ModelPane::renderRange(const engine::ViewMaps& view, const torch::Tensor& map) const
{
    // Per layer: the range of every head of the shown view's layer, so that heads compare.
    if (m_normalization->currentData().toString() == QLatin1String("layer") && view.method == ViewMethod::Attention) {
        engine::ViewRequest all;
        all.layer = engine::LayerSelector::parse(view.layers[0]);
        all.head = engine::HeadChoice::all();
        all.query = m_query;
        try {
            return imaging::rangeOf(engine::computeView(*m_analysis->model, m_analysis->trace, all).maps[0]);
        } catch (const std::exception&) {
            // the view's own range then; refresh() has said what failed
        }
    }
    return imaging::rangeOf(map);
}

QString ModelPane::viewCaption(const engine::ViewMaps& view) const
{
    return ui::viewCaption(view, m_side, m_analysis->model->spec().labels, m_query, m_unit);
}

std::optional<FaithfulnessRequest> ModelPane::faithfulnessRequest() const
{
    // A map about one place (a unit's field, the patches like one) and a picture in its own
    // colours (pca) rank no evidence; a model without classes has no probability to follow.
    if (!m_analysis || !m_shown || engine::methodInfo(m_shown->method).explains == engine::MethodExplains::Place
        || m_shown->rgb || m_analysis->model->spec().numClasses == 0)
        return std::nullopt;
    return FaithfulnessRequest{m_analysis, m_shown->maps[0][0], m_shown->classIndex.value_or(-1),
                               viewCaption(*m_shown)};
}

QString ModelPane::whyNoFaithfulness() const
{
    if (!m_analysis || !m_shown || faithfulnessRequest())
        return {};
    if (engine::methodInfo(m_shown->method).explains == engine::MethodExplains::Place)
        return tr("%1: no curve, its %2 map answers about one place, not a class")
            .arg(sideTitle(m_side), methodName(m_shown->method));
    if (m_shown->rgb)
        return tr("%1: no curve, its %2 colours rank no evidence").arg(sideTitle(m_side), methodName(m_shown->method));
    return tr("%1: no curve, the model has no classes").arg(sideTitle(m_side));
}

void ModelPane::showHover(QPointF unit)
{
    if (!m_shown)
        return;
    const auto input = geometry().inputFromPicture({unit.x(), unit.y()});
    if (!input) {
        emit statusMessage(tr("%1: outside what the model sees").arg(sideTitle(m_side)));
        return;
    }
    const auto cell = imaging::cellAt(m_shown->maps[0][0], input->x, input->y);
    emit statusMessage(tr("%1: cell row %2, col %3 · value %4")
                           .arg(sideTitle(m_side))
                           .arg(cell.row)
                           .arg(cell.col)
                           .arg(cell.value, 0, 'g', 4));
}

bool ModelPane::showsWholeImage() const
{
    return geometry().showsWhole;
}

const cv::Mat& ModelPane::picture() const
{
    return showsWholeImage() ? m_wholePicture : m_picture;
}

void ModelPane::pictureClicked(QPointF unit)
{
    if (!m_analysis)
        return;
    const auto g = geometry();
    const auto input = g.inputFromPicture({unit.x(), unit.y()});
    if (input)
        placeAt(*input, PlaceFrom::ThisPicture);  // else outside what this model sees
    if (!m_analysis->image)
        return;
    if (g.showsWhole)
        emit imageClicked(unit);  // the picture is the whole image
    else if (input) {
        const auto image = g.imageFromInput(*input);
        emit imageClicked(QPointF(image.x, image.y));
    }
}

void ModelPane::queryAt(QPointF location)
{
    if (m_analysis)
        if (const auto input = geometry().inputFromPicture({location.x(), location.y()}))
            placeAt(*input, PlaceFrom::ThisPicture);
}

void ModelPane::queryAtImage(QPointF imageUnit)
{
    if (m_analysis)
        if (const auto input = m_geometry.inputFromImage({imageUnit.x(), imageUnit.y()}))
            placeAt(*input, PlaceFrom::OtherPicture);
}

GridCell ModelPane::gridSize() const
{
    if (m_side == Side::ViT)
        return {m_analysis->trace.tokens.gridH, m_analysis->trace.tokens.gridW};
    const auto& features = m_analysis->trace.features.at(std::size_t(std::max(0, m_layer->currentIndex()))).second;
    return {int(features.size(2)), int(features.size(3))};
}

void ModelPane::placeAt(std::optional<cv::Point2d> inputUnit, PlaceFrom from)
{
    m_place = inputUnit;
    // This picture's click asks this model about the place: with the method that takes
    // one (a ViT's attention from the query patch, a CNN's effective field). The other
    // picture's click only marks it: this pane's method is the user's.
    const auto wanted = m_side == Side::ViT ? ViewMethod::Attention : ViewMethod::EffectiveField;
    const auto& info = engine::methodInfo(method());
    const bool takesPlace = info.query || info.layer == engine::MethodLayer::Unit;
    if (inputUnit && from == PlaceFrom::ThisPicture && !takesPlace && m_method->findData(int(wanted)) >= 0) {
        if (!m_placeSwitch)
            m_placeSwitch = std::make_pair(method(), wanted);
        m_filling = true;
        setMethod(wanted);
        m_filling = false;
    }
    derivePlaceCells();
    updateGrid();  // a ViT's grid shows the query patch's attention
    refresh();
}

void ModelPane::derivePlaceCells()
{
    m_query.reset();
    m_unit.reset();
    if (!m_analysis || !m_place)
        return;
    (m_side == Side::ViT ? m_query : m_unit) = cellAt(*m_place, gridSize().first, gridSize().second);
}

void ModelPane::setUnit(std::optional<std::pair<int, int>> unit)
{
    placeAtCell(unit);
}

void ModelPane::placeAtCell(std::optional<GridCell> cell)
{
    if (m_analysis)
        placeAt(cell ? std::optional(cellCentre(*cell, gridSize().first, gridSize().second)) : std::nullopt,
                PlaceFrom::ThisPicture);
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
    imaging::outlineBox(image, box, geometry().inputRegion(), int(input.size(3)));
}

void ModelPane::drawUnitCell(cv::Mat& image) const
{
    const auto [rows, cols] = gridSize();
    imaging::outlineCell(image, geometry().inputRegion(), rows, cols, m_unit->first, m_unit->second);
}

void ModelPane::drawQueryPatch(cv::Mat& image) const
{
    // The patch whose row of attention is shown, outlined so the eye finds the source.
    const auto& tokens = m_analysis->trace.tokens;
    imaging::outlineCell(image, geometry().inputRegion(), tokens.gridH, tokens.gridW, m_query->first, m_query->second);
}

void ModelPane::updateGrid()
{
    if (!m_analysis)
        return;
    const auto grid = headGridContent(*m_analysis->model, m_analysis->trace, m_side, m_query,
                                      imaging::colormapFromName(m_colormap->currentText().toStdString()));
    m_grid->setCells(grid.cells, grid.rows, grid.columns, grid.rowLabels, grid.title, grid.columnTitle);
    m_grid->setToolTip(grid.explanation);
    selectGridCell();
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
    placeAtCell(patch);
}

void ModelPane::clearQuery()
{
    if (m_placeSwitch && method() == m_placeSwitch->second) {
        m_filling = true;
        setMethod(m_placeSwitch->first);  // what was shown before the click
        m_filling = false;
    }
    m_placeSwitch.reset();
    placeAt(std::nullopt, PlaceFrom::ThisPicture);
}

void ModelPane::resetView()
{
    m_filling = true;
    m_place.reset();
    m_placeSwitch.reset();
    m_method->setCurrentIndex(0);  // the first of its family: ViT attention, CNN gradcam
    m_layer->setCurrentIndex(m_layer->count() - 1);
    for (auto* box : {m_head, m_class, m_camInput})
        box->setCurrentIndex(0);
    m_settings->setSettings({});
    applyRendering({});         // the defaults of a first start
    m_keepMass->setValue(1.0);  // not a setting: always 1 at start
    m_filling = false;
    m_view->setViewport(1.0, {0.5, 0.5});
    derivePlaceCells();
    updateGrid();
    refresh();
}

PaneView ModelPane::view() const
{
    return {m_method->currentIndex(),
            m_layer->currentIndex(),
            m_head->currentIndex(),
            m_class->currentIndex(),
            m_camInput->currentIndex(),
            m_settings->settings(),
            m_place};
}

void ModelPane::setView(const PaneView& view)
{
    m_filling = true;
    const auto set = [](QComboBox* box, int index) {
        if (index >= 0 && index < box->count())
            box->setCurrentIndex(index);
    };
    set(m_method, view.method);
    set(m_layer, view.layer);
    set(m_head, view.head);
    set(m_class, view.classIndex);
    set(m_camInput, view.camInput);
    m_settings->setSettings(view.settings);
    m_filling = false;
    m_place = view.place;
    m_placeSwitch.reset();
    m_lastView = this->view();  // not a change of its own: the history made it
    derivePlaceCells();
    updateGrid();
    refresh();
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

void ModelPane::exportOverlay(const QString& path, const QString& image) const
{
    if (!m_shown || m_rendered.empty())
        throw std::runtime_error("nothing to export yet");
    imaging::writePng(path.toStdString(), m_rendered,
                      imaging::viewDescription(m_analysis->modelPath.toStdString(), *m_shown, className(*m_shown),
                                               imageOptions(), image.toStdString()));
}

QString ModelPane::exportStem() const
{
    if (!m_analysis || !m_shown)
        return sideKey(m_side);
    // Letters, digits and dashes only: "block 5 · head mean" -> "block-5-head-mean".
    auto stem = QStringLiteral("%1-%2-%3")
                    .arg(QFileInfo(m_analysis->modelPath).completeBaseName(), methodName(m_shown->method),
                         layerLabel(m_side, m_shown->layers[0]));
    if (engine::methodInfo(m_shown->method).heads != engine::MethodHeads::None)
        stem += QStringLiteral("-head-") + QString::fromStdString(m_shown->heads[0]);
    static const QRegularExpression unsafe(QStringLiteral("[^A-Za-z0-9+]+"));
    return stem.replace(unsafe, QStringLiteral("-")).toLower();
}

void ModelPane::exportMontage(const QString& path) const
{
    if (!m_analysis || m_analysis->model->spec().family != engine::Family::ViT)
        throw std::runtime_error("a layer x head montage needs a ViT");
    const auto view = everyHeadAttention(*m_analysis->model, m_analysis->trace, m_query);
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
    m_filling = true;
    applyRendering(settings::paneRendering(m_side));
    m_filling = false;
}

void ModelPane::applyRendering(const settings::PaneRendering& r)
{
    setColormap(r.colormap);
    m_alpha->setValue(r.alpha);
    m_normalization->setCurrentIndex(r.normalization);
    m_upsampling->setCurrentIndex(r.upsampling);
    m_wholeImage->setChecked(r.wholeImage);
}

}  // namespace attnviz::ui
