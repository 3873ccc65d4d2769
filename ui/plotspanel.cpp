#include "ui/plotspanel.h"

#include "ui/charts.h"
#include "ui/imageconvert.h"
#include "ui/matrixstrip.h"
#include "ui/predictionsplot.h"
#include "ui/studycharts.h"
#include "ui/tokenspanel.h"
#include "ui/trustpanel.h"

#include "core/engine/methods/receptivefield.h"
#include "core/engine/model/predictions.h"
#include "core/imaging/montage.h"
#include "core/io/pngmetadata.h"

#include <QChart>
#include <QChartView>
#include <QDir>
#include <QLineSeries>
#include <QScatterSeries>
#include <QScrollArea>
#include <QTabWidget>
#include <QVBoxLayout>
#include <QValueAxis>

namespace attnviz::ui {
namespace {

// One model's receptive-field sizes as a line: theoretical solid, effective dashed.
// Returns the largest size, for the axis.
double addFieldSeries(QChart* chart, const QString& name, const QColor& colour, bool effective,
                      const std::vector<QPointF>& points)
{
    // The legend's markers cannot show a dash: the names say "dashed", and the effective
    // curves (added after, so drawn on top) are lighter with larger points, so that one
    // lying on its theoretical curve (a ViT's: the whole input) is still seen.
    auto* series = new QLineSeries;
    series->setName(effective ? name + PlotsPanel::tr(" (dashed)") : name);
    series->setPointsVisible(true);
    series->setMarkerSize(effective ? 9 : 6);
    series->setPen(
        QPen(effective ? colour.lighter(150) : colour, effective ? 3 : 2, effective ? Qt::DashLine : Qt::SolidLine));
    double top = 0;
    for (const auto& p : points) {
        series->append(p);
        top = std::max(top, p.y());
    }
    chart->addSeries(series);
    return top;
}

// Points at relative depth (i + 1) / n after a starting point at depth 0.
std::vector<QPointF> byDepth(QPointF start, const std::vector<double>& sizes)
{
    std::vector<QPointF> points{start};
    for (std::size_t i = 0; i < sizes.size(); ++i)
        points.emplace_back(double(i + 1) / double(sizes.size()), sizes[i]);
    return points;
}

std::vector<double> sizesOf(const std::vector<engine::EffectiveFieldSize>& fields)
{
    std::vector<double> sizes;
    sizes.reserve(fields.size());
    for (const auto& f : fields)
        sizes.push_back(f.size);
    return sizes;
}

}  // namespace

PlotsPanel::PlotsPanel(QWidget* parent)
    : QWidget(parent)
{
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    m_tabs = new QTabWidget(this);
    m_distance = makeChartView(m_tabs);
    m_fields = makeChartView(m_tabs);
    m_predictions = new PredictionsPlot(m_tabs);
    m_distance->setObjectName(QStringLiteral("distancePlot"));
    m_fields->setObjectName(QStringLiteral("fieldsPlot"));
    m_predictions->setObjectName(QStringLiteral("predictionsPlot"));
    m_tabs->addTab(m_distance, tr("Attention distance"));
    m_tabs->addTab(m_fields, tr("Receptive field"));
    m_tabs->addTab(m_predictions, tr("Predictions"));
    m_cka = new MatrixStrip(tr("Layer similarity needs a set of images: Analysis → Compare layers on a folder (CKA)…"),
                            m_tabs);
    m_tabs->addTab(m_cka, tr("Layer similarity (CKA)"));
    m_faithfulnessView = makeChartView(m_tabs);
    m_faithfulnessView->setObjectName(QStringLiteral("faithfulnessPlot"));
    m_tabs->addTab(m_faithfulnessView, tr("Faithfulness"));
    m_tabs->setTabToolTip(m_tabs->count() - 1,
                          tr("Deletion and insertion (RISE) of the maps on screen: the class probability "
                             "as the most salient pixels are blurred away, or revealed first"));
    m_skip = makeChartView(m_tabs);
    m_skip->setObjectName(QStringLiteral("skipPlot"));
    m_tabs->addTab(m_skip, tr("Skip connections"));
    m_tokens = new TokensPanel(m_tabs);
    m_tabs->addTab(m_tokens, tr("Tokens and heads"));
    m_localizationMaps = new MatrixStrip(
        tr("Spatial localisation needs a set of images: Analysis → Spatial localisation on a folder…"), m_tabs);
    m_tabs->addTab(m_localizationMaps, tr("Localisation"));
    m_probesView = makeChartView(m_tabs);
    m_probesView->setObjectName(QStringLiteral("probesPlot"));
    freshChart(m_probesView, tr("Layer probes need a labelled set: Analysis → Probe layers on a labelled set"));
    m_tabs->addTab(m_probesView, tr("Layer probes"));
    m_trust = new TrustPanel(m_tabs);
    m_tabs->addTab(m_trust, tr("Trust"));
    m_tabs->setTabToolTip(m_tabs->count() - 1,
                          tr("The maps on screen scored against the image's ground-truth mask, and by deletion and "
                             "insertion"));
    m_auditView = makeChartView(m_tabs);
    m_auditView->setObjectName(QStringLiteral("auditPlot"));
    freshChart(m_auditView, tr("The audit needs a folder: Analysis → Audit methods on a folder (a benchmark, or images "
                               "with NAME.mask.png beside them)"));
    // A bar per score and method: taller than the dock, so it scrolls, and exports whole.
    m_auditScroll = new QScrollArea(m_tabs);
    m_auditScroll->setWidgetResizable(true);
    m_auditScroll->setWidget(m_auditView);
    m_tabs->addTab(m_auditScroll, tr("Audit"));
    layout->addWidget(m_tabs);
    connect(m_tabs, &QTabWidget::currentChanged, this, &PlotsPanel::requestFieldSizesIfShown);
    connect(m_tabs, &QTabWidget::currentChanged, this, [this] {
        if (showsFaithfulness())
            emit faithfulnessWanted();
    });
    showFaithfulness();
}

bool PlotsPanel::showsFaithfulness() const
{
    return m_tabs->currentWidget() == m_faithfulnessView || m_tabs->currentWidget() == m_trust;
}

void PlotsPanel::setFaithfulness(const std::shared_ptr<const FaithfulnessPlot>& plot)
{
    if (!m_analysis)
        return;
    for (const auto& pane : plot->panes)
        if (pane != m_analysis->vit && pane != m_analysis->cnn)
            return;  // scored on an analysis no longer shown
    m_faithfulness = plot;
    showFaithfulness();
    m_trust->setScores(m_faithfulness, m_faithfulnessNotes);
}

void PlotsPanel::setFaithfulnessNotes(const QStringList& notes)
{
    if (notes == m_faithfulnessNotes)
        return;
    m_faithfulnessNotes = notes;
    showFaithfulness();
    m_trust->setScores(m_faithfulness, m_faithfulnessNotes);
}

void PlotsPanel::showFaithfulness()
{
    if (!m_faithfulness) {
        freshChart(m_faithfulnessView,
                   tr("Deletion and insertion of the maps on screen: computing when this tab is shown"));
        return;
    }
    // The legend names curve and AUC; what each map is goes in the title.
    QStringList maps;
    for (const auto& side : m_faithfulness->sides)
        maps << (side.predictedClass.isEmpty()
                     ? tr("%1: %2").arg(sideTitle(side.side), side.caption)
                     : tr("%1: %2 · predicted class %3").arg(sideTitle(side.side), side.caption, side.predictedClass));
    maps << m_faithfulnessNotes;  // the maps on screen that have no curve, and why
    auto* chart = freshChart(m_faithfulnessView,
                             tr("Probability of the class as the most salient pixels are deleted (solid; "
                                "low AUC: faithful) or inserted (dashed; high AUC: faithful), RISE<br>%1")
                                 .arg(maps.join(QStringLiteral(" · "))));
    for (const auto& side : m_faithfulness->sides) {
        for (const bool deletion : {true, false}) {
            const auto& curve = deletion ? side.scores.deletion : side.scores.insertion;
            auto* series = new QLineSeries;
            series->setName(tr("%1 %2, AUC %3")
                                .arg(sideTitle(side.side), deletion ? tr("deletion") : tr("insertion"))
                                .arg(curve.auc, 0, 'f', 3));
            series->setPen(
                QPen(side.side == Side::ViT ? vitColour() : cnnColour(), 2, deletion ? Qt::SolidLine : Qt::DashLine));
            for (std::size_t i = 0; i < curve.fractions.size(); ++i)
                series->append(curve.fractions[i], curve.probabilities[i]);
            chart->addSeries(series);
        }
    }
    chart->legend()->setMarkerShape(QLegend::MarkerShapeFromSeries);
    auto* x = valueAxis(tr("fraction of pixels deleted / inserted, most salient first"), 0, 1);
    auto* y = valueAxis(tr("probability"), 0, 1);
    chart->addAxis(x, Qt::AlignBottom);
    chart->addAxis(y, Qt::AlignLeft);
    for (auto* s : chart->series()) {
        s->attachAxis(x);
        s->attachAxis(y);
    }
}

void PlotsPanel::setAnalysis(const std::shared_ptr<const Analysis>& analysis)
{
    m_analysis = analysis;
    m_fieldSizes.reset();
    m_fieldSizesRequested = false;
    m_faithfulness.reset();
    showFaithfulness();
    m_trust->setAnalysis(*analysis);
    if (analysis->vit)
        showDistances(*analysis->vit);
    showReceptiveFields();
    showPredictions(*analysis);
    drawSkipRatios(m_skip, *analysis);
    m_tokens->setPane(analysis->vit);
    requestFieldSizesIfShown();
}

void PlotsPanel::requestFieldSizesIfShown()
{
    // Measuring takes a backward pass per layer, so only when someone looks; a request
    // that was cancelled is made again when the plot is next shown.
    if (m_tabs->currentWidget() != m_fields) {
        m_fieldSizesRequested = false;
        return;
    }
    if (m_analysis && !m_fieldSizes && !m_fieldSizesRequested) {
        m_fieldSizesRequested = true;
        emit fieldSizesWanted(m_analysis);
    }
}

void PlotsPanel::setFieldSizes(const std::shared_ptr<const FieldSizes>& sizes)
{
    if (!m_analysis || sizes->analysisJob != m_analysis->job)
        return;
    m_fieldSizes = sizes;
    showReceptiveFields();
}

void PlotsPanel::showDistances(const PaneAnalysis& vit)
{
    auto* chart = freshChart(m_distance, tr("ViT mean attention distance per head (pixels of the model input)"));
    // The head table the worker made from the trace holds every head's distance, so the
    // GUI thread recomputes no block's matrix.
    const int blocks = vit.trace.attention.depth();
    const int headCount = vit.trace.attention.heads();
    std::vector<QScatterSeries*> heads;
    for (int h = 0; h < headCount; ++h) {
        heads.push_back(new QScatterSeries);
        heads.back()->setName(tr("head %1").arg(h));
        heads.back()->setMarkerSize(8);
    }
    double top = 1;
    for (const auto& row : vit.heads) {
        // Heads side by side around their block, so that equal values stay visible.
        const double offset = headCount > 1 ? (double(row.head) / double(headCount - 1) - 0.5) * 0.5 : 0.0;
        heads[std::size_t(row.head)]->append(row.layer + offset, row.distance);
        top = std::max(top, row.distance);
    }
    auto* x = valueAxis(tr("block"), -0.5, blocks - 0.5);
    // A tick on every block index, not on the axis' half-integer ends.
    x->setTickType(QValueAxis::TicksDynamic);
    x->setTickAnchor(0);
    x->setTickInterval(1);
    x->setLabelFormat(QStringLiteral("%d"));
    auto* y = valueAxis(tr("distance (px)"), 0, top * 1.1);
    y->applyNiceNumbers();
    chart->addAxis(x, Qt::AlignBottom);
    chart->addAxis(y, Qt::AlignLeft);
    for (auto* s : heads) {
        chart->addSeries(s);
        s->attachAxis(x);
        s->attachAxis(y);
    }
    if (heads.size() > 8)
        chart->legend()->hide();
}

void PlotsPanel::showReceptiveFields()
{
    const auto& analysis = *m_analysis;
    auto* chart = freshChart(
        m_fields, m_fieldSizes ? tr("Receptive field size in input pixels against relative depth: theoretical (solid), "
                                    "effective on this image (dashed, 95% of the gradient mass)")
                               : tr("Theoretical receptive field size in input pixels against relative depth"));
    double top = 1;
    const auto addSeries = [&](const QString& name, const QColor& colour, bool effective,
                               const std::vector<QPointF>& points) {
        top = std::max(top, addFieldSeries(chart, name, colour, effective, points));
    };
    if (analysis.cnn) {
        // The main path from the input pixel: stem and stage outputs, without the
        // smaller fields of shortcut convolutions.
        std::vector<double> theoretical;
        for (const auto& f : engine::stageReceptiveFields(analysis.cnn->model->spec()))
            theoretical.push_back(f.size);
        addSeries(tr("CNN theoretical (stem and stage outputs)"), cnnColour(), false, byDepth({0.0, 1.0}, theoretical));
    }
    if (analysis.vit) {
        // A patch embedding sees one patch; every block after it sees the whole input.
        const auto& trace = analysis.vit->trace;
        const QPointF patch(0.0, double(trace.tokens.patchSize));
        const double side = double(std::max(trace.input.size(2), trace.input.size(3)));
        addSeries(tr("ViT theoretical (global after the first block)"), vitColour(), false,
                  byDepth(patch, std::vector<double>(std::size_t(trace.attention.depth()), side)));
        if (m_fieldSizes && !m_fieldSizes->vit.empty())
            addSeries(tr("ViT effective"), vitColour(), true, byDepth(patch, sizesOf(m_fieldSizes->vit)));
    }
    if (analysis.cnn && m_fieldSizes && !m_fieldSizes->cnn.empty())
        addSeries(tr("CNN effective"), cnnColour(), true, byDepth({0.0, 1.0}, sizesOf(m_fieldSizes->cnn)));
    auto* x = valueAxis(tr("relative depth (0 = input, 1 = last layer)"), 0, 1);
    auto* y = valueAxis(tr("size (px)"), 0, top * 1.1);
    y->applyNiceNumbers();
    chart->legend()->setMarkerShape(QLegend::MarkerShapeFromSeries);  // solid vs dashed shows in the legend
    chart->addAxis(x, Qt::AlignBottom);
    chart->addAxis(y, Qt::AlignLeft);
    for (auto* s : chart->series()) {
        s->attachAxis(x);
        s->attachAxis(y);
    }
}

void PlotsPanel::setSimilarity(const std::shared_ptr<const LayerSimilarity>& similarity)
{
    m_similarity = similarity;
    showSimilarity();
    m_tabs->setCurrentIndex(3);
}

void PlotsPanel::showSimilarity()
{
    // The heat maps are drawn by the renderer the CLI's `cka --out-dir` uses.
    const auto& study = m_similarity->study;
    auto title = tr("Linear CKA over %1 of the %2 images in %3")
                     .arg(study.imagesUsed)
                     .arg(m_similarity->imagesInFolder)
                     .arg(QDir(m_similarity->folder).dirName());
    // CKA compares a CNN's residual blocks, finer than the stages elsewhere: say so once.
    const bool blocks = std::any_of(study.matrices.begin(), study.matrices.end(), [](const auto& m) {
        return std::any_of(m.rowLayers.begin(), m.rowLayers.end(),
                           [](const std::string& l) { return l.find('.') != std::string::npos; });
    });
    if (blocks)
        title += tr(" · CNN layers are residual blocks: layer1.0 is the first block of stage layer1");
    const auto degenerate = engine::degenerateSummary(study);
    if (!degenerate.empty())
        title += tr(" · constant over these images, CKA undefined (grey): %1").arg(QString::fromStdString(degenerate));
    std::vector<std::pair<QImage, QString>> images;
    for (const auto& m : study.matrices) {
        const auto caption = m.rowRole + " x " + m.colRole + ", " + std::to_string(study.imagesUsed) + " images";
        images.emplace_back(toQImage(imaging::renderMatrix(m.values, m.rowLayers, m.colLayers, caption, {0.0f, 1.0f},
                                                           imaging::Colormap::Viridis, 18)),
                            QString::fromStdString(m_similarity->descriptions.at(m.rowRole) + "  ×  "
                                                   + m_similarity->descriptions.at(m.colRole)));
    }
    m_cka->setMatrices(title, images);
}

void PlotsPanel::setLocalization(const std::shared_ptr<const SpatialLocalization>& localization)
{
    m_localization = localization;
    showLocalization();
    m_tabs->setCurrentWidget(m_localizationMaps);
}

void PlotsPanel::showLocalization()
{
    std::vector<std::pair<QImage, QString>> images;
    QStringList summaries;
    std::size_t used = 0;
    for (const auto& [side, r] : m_localization->sides) {
        used = r.images;
        const int positions = r.gridH * r.gridW;
        // Rows: the last layer's positions; columns: the input's; a label per grid row.
        std::vector<std::string> labels(static_cast<std::size_t>(positions));
        for (int row = 0; row < r.gridH; ++row)
            labels[std::size_t(row) * std::size_t(r.gridW)] = "row " + std::to_string(row);
        const auto caption = sideTitle(side).toStdString() + ": last layer (rows) x input (columns), "
                             + std::to_string(r.gridH) + "x" + std::to_string(r.gridW) + " positions";
        images.emplace_back(toQImage(imaging::renderMatrix(r.similarity, labels, labels, caption, {0.0f, 1.0f},
                                                           imaging::Colormap::Viridis, std::max(2, 240 / positions))),
                            tr("Linear CKA between the last layer's representation at each position and the input's at "
                               "each position; a bright diagonal: the model still knows where each token came from"));
        summaries << tr("%1: the own input position is the most similar for %2 of %3 positions, mean CKA on the "
                        "diagonal %4, off it %5")
                         .arg(sideTitle(side))
                         .arg(r.diagonalHits)
                         .arg(positions)
                         .arg(r.meanDiagonal, 0, 'f', 3)
                         .arg(r.meanOffDiagonal, 0, 'f', 3);
    }
    m_localizationMaps->setMatrices(tr("Spatial localisation over %1 of the %2 images in %3 · %4")
                                        .arg(used)
                                        .arg(m_localization->imagesInFolder)
                                        .arg(QDir(m_localization->folder).dirName(),
                                             summaries.join(QStringLiteral(" · "))),
                                    images);
}

void PlotsPanel::setProbes(const std::shared_ptr<const LayerProbes>& probes)
{
    m_probes = probes;
    drawProbes(m_probesView, *probes);
    m_tabs->setCurrentWidget(m_probesView);
}

void PlotsPanel::setAudit(const std::shared_ptr<const FolderAuditResult>& audit)
{
    m_audit = audit;
    drawAudit(m_auditView, *audit);
    std::size_t methods = 0;
    for (const auto& model : audit->models)
        methods += model.methods.size();
    m_auditView->setMinimumHeight(160 + 34 * int(methods));  // room for each method's label and bars
    m_tabs->setCurrentWidget(m_auditScroll);
}

void PlotsPanel::showPredictions(const Analysis& analysis)
{
    m_predictions->setAnalysis(analysis);
}

int PlotsPanel::plotCount() const
{
    return m_tabs->count();
}

QStringList PlotsPanel::plotNames()
{
    return {QStringLiteral("distance"), QStringLiteral("fields"),       QStringLiteral("predictions"),
            QStringLiteral("cka"),      QStringLiteral("faithfulness"), QStringLiteral("skip"),
            QStringLiteral("tokens"),   QStringLiteral("localization"), QStringLiteral("probes"),
            QStringLiteral("trust"),    QStringLiteral("audit")};
}

bool PlotsPanel::showPlot(const QString& name)
{
    const int index = int(plotNames().indexOf(name));
    if (index < 0)
        return false;
    m_tabs->setCurrentIndex(index);
    return true;
}

QString PlotsPanel::plotTitle(int index) const
{
    checkIndex(index);
    if (auto* chart = view(index))
        return chart->chart()->title();
    auto* widget = m_tabs->widget(index < 0 ? m_tabs->currentIndex() : index);
    if (widget == m_tokens)
        return m_tokens->title();
    if (widget == m_predictions)
        return m_predictions->title();
    if (widget == m_trust)
        return m_trust->title();
    return static_cast<MatrixStrip*>(widget)->title();
}

void PlotsPanel::checkIndex(int index) const
{
    if (index < -1 || index >= m_tabs->count())
        throw std::out_of_range("no plot " + std::to_string(index) + "; there are " + std::to_string(m_tabs->count()));
}

QChartView* PlotsPanel::view(int index) const
{
    auto* widget = m_tabs->widget(index < 0 ? m_tabs->currentIndex() : index);
    return widget == m_auditScroll ? m_auditView : qobject_cast<QChartView*>(widget);
}

void PlotsPanel::exportPlot(const QString& path, int index) const
{
    checkIndex(index);
    if (auto* chart = view(index)) {
        writeWidgetPng(*chart, path,
                       {{io::pngkey::kSoftware, "attnviz"},
                        {io::pngkey::kTitle, chart->chart()->title().toStdString()}});
        return;
    }
    auto* widget = m_tabs->widget(index < 0 ? m_tabs->currentIndex() : index);
    if (widget == m_predictions) {
        writeWidgetPng(*m_predictions, path,
                       {{io::pngkey::kSoftware, "attnviz"},
                        {io::pngkey::kTitle, m_predictions->title().toStdString()}});
        return;
    }
    if (widget == m_trust) {
        writeWidgetPng(*m_trust, path,
                       {{io::pngkey::kSoftware, "attnviz"}, {io::pngkey::kTitle, m_trust->title().toStdString()}});
        return;
    }
    if (widget == m_tokens) {
        if (!m_tokens->hasStudy())
            throw std::runtime_error("no token norms to export: the analysis has no ViT");
        writeWidgetPng(*m_tokens, path,
                       {{io::pngkey::kSoftware, "attnviz"}, {io::pngkey::kTitle, m_tokens->title().toStdString()}});
        return;
    }
    const auto* strip = static_cast<MatrixStrip*>(widget);
    if (!strip->hasMatrices())
        throw std::runtime_error(strip == m_cka ? "no layer similarity to export: compare the layers on a folder first"
                                                : "no spatial localisation to export: run it on a folder first");
    const auto folder = strip == m_cka ? m_similarity->folder : m_localization->folder;
    writeWidgetPng(*strip->content(), path,
                   {{io::pngkey::kSoftware, "attnviz"},
                    {io::pngkey::kTitle, strip->title().toStdString()},
                    {io::pngkey::kMethod, strip == m_cka ? "cka (linear, minibatch unbiased HSIC)"
                                                         : "spatial localisation (linear CKA per position pair)"},
                    {io::pngkey::kFolder, folder.toStdString()}});
}

}  // namespace attnviz::ui
