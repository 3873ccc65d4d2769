#include "ui/plotspanel.h"

#include "core/engine/attentiondistance.h"
#include "core/engine/predictions.h"
#include "core/engine/receptivefield.h"
#include "core/imaging/pngwriter.h"

#include <QBarCategoryAxis>
#include <QBarSet>
#include <QChart>
#include <QChartView>
#include <QHorizontalBarSeries>
#include <QLineSeries>
#include <QScatterSeries>
#include <QTabWidget>
#include <QValueAxis>
#include <QVBoxLayout>

#include <opencv2/core.hpp>

namespace attnviz::ui {
namespace {

QChartView* makeView(QWidget* parent)
{
    auto* view = new QChartView(new QChart, parent);
    view->setRenderHint(QPainter::Antialiasing);
    view->setMinimumHeight(200);
    return view;
}

// Replaces a chart's content by a fresh chart with `title`.
QChart* freshChart(QChartView* view, const QString& title)
{
    auto* chart = new QChart;
    chart->setTitle(title);
    chart->legend()->setAlignment(Qt::AlignRight);
    auto* old = view->chart();
    view->setChart(chart);
    delete old;
    return chart;
}

QValueAxis* axis(const QString& title, double lo, double hi)
{
    auto* a = new QValueAxis;
    a->setTitleText(title);
    a->setRange(lo, hi);
    return a;
}

}  // namespace

PlotsPanel::PlotsPanel(QWidget* parent)
    : QWidget(parent)
{
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    m_tabs = new QTabWidget(this);
    m_distance = makeView(m_tabs);
    m_fields = makeView(m_tabs);
    m_predictions = makeView(m_tabs);
    m_tabs->addTab(m_distance, tr("Attention distance"));
    m_tabs->addTab(m_fields, tr("Receptive field"));
    m_tabs->addTab(m_predictions, tr("Predictions"));
    layout->addWidget(m_tabs);
}

void PlotsPanel::setAnalysis(const std::shared_ptr<const Analysis>& analysis)
{
    if (analysis->vit)
        showDistances(*analysis->vit);
    showReceptiveFields(*analysis);
    showPredictions(*analysis);
}

void PlotsPanel::showDistances(const PaneAnalysis& vit)
{
    const auto& trace = vit.trace;
    auto* chart = freshChart(m_distance, tr("ViT mean attention distance per head (pixels of the model input)"));
    const auto blocks = int(trace.attentions.size());
    std::vector<QScatterSeries*> heads;
    double top = 1;
    for (int b = 0; b < blocks; ++b) {
        const auto d = engine::meanAttentionDistance(trace.attentions[std::size_t(b)], trace.tokens);  // [H]
        for (int64_t h = 0; h < d.size(0); ++h) {
            if (std::size_t(h) >= heads.size()) {
                heads.push_back(new QScatterSeries);
                heads.back()->setName(tr("head %1").arg(h));
                heads.back()->setMarkerSize(8);
            }
            const double value = d[h].item<double>();
            heads[std::size_t(h)]->append(b, value);
            top = std::max(top, value);
        }
    }
    auto* x = axis(tr("block"), -0.5, blocks - 0.5);
    // A tick on every block index, not on the axis' half-integer ends.
    x->setTickType(QValueAxis::TicksDynamic);
    x->setTickAnchor(0);
    x->setTickInterval(1);
    x->setLabelFormat(QStringLiteral("%d"));
    auto* y = axis(tr("distance (px)"), 0, top * 1.1);
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

void PlotsPanel::showReceptiveFields(const Analysis& analysis)
{
    auto* chart = freshChart(m_fields, tr("Theoretical receptive field size against relative depth"));
    double top = 1;
    auto* x = axis(tr("relative depth (0 = input, 1 = last layer)"), 0, 1);
    if (analysis.cnn) {
        // The stem and the stage outputs ("conv1", "maxpool", "layer1", ...): the
        // network's main path, without the smaller fields of shortcut convolutions.
        std::vector<engine::ReceptiveField> stages;
        for (const auto& f : engine::resnetReceptiveFields(analysis.cnn->model->spec()))
            if (f.name.find('.') == std::string::npos)
                stages.push_back(f);
        auto* series = new QLineSeries;
        series->setName(tr("CNN (stem and stage outputs)"));
        series->setPointsVisible(true);
        for (std::size_t i = 0; i < stages.size(); ++i) {
            series->append(double(i + 1) / double(stages.size()), stages[i].size);
            top = std::max(top, stages[i].size);
        }
        chart->addSeries(series);
    }
    if (analysis.vit) {
        // A patch embedding sees one patch; every block after it sees the whole input.
        const auto& trace = analysis.vit->trace;
        const double side = double(std::max(trace.input.size(2), trace.input.size(3)));
        const auto blocks = trace.attentions.size();
        auto* series = new QLineSeries;
        series->setName(tr("ViT (global after the first block)"));
        series->setPointsVisible(true);
        series->append(0.0, trace.tokens.patchSize);
        for (std::size_t b = 0; b < blocks; ++b)
            series->append(double(b + 1) / double(blocks), side);
        top = std::max(top, side);
        chart->addSeries(series);
    }
    auto* y = axis(tr("size (px)"), 0, top * 1.1);
    chart->addAxis(x, Qt::AlignBottom);
    chart->addAxis(y, Qt::AlignLeft);
    for (auto* s : chart->series()) {
        s->attachAxis(x);
        s->attachAxis(y);
    }
}

void PlotsPanel::showPredictions(const Analysis& analysis)
{
    auto* chart = freshChart(m_predictions, tr("Top-5 predictions"));
    auto* series = new QHorizontalBarSeries;
    QStringList categories;
    for (const auto* pane : {analysis.vit.get(), analysis.cnn.get()}) {
        if (!pane)
            continue;
        auto* set = new QBarSet(pane->role == QLatin1String("vit") ? tr("ViT") : tr("CNN"));
        for (const auto& p : engine::topK(pane->trace.logits, pane->model->spec().labels, 5)) {
            const auto label = QString::fromStdString(p.label);
            if (!categories.contains(label))
                categories << label;
        }
        series->append(set);
    }
    // One bar per model and class, in the order of the categories.
    for (auto* set : series->barSets()) {
        const auto* pane = set->label() == tr("ViT") ? analysis.vit.get() : analysis.cnn.get();
        const auto probabilities = engine::topK(pane->trace.logits, pane->model->spec().labels,
                                                int(pane->model->spec().labels.size()));
        for (const auto& category : categories) {
            double value = 0;
            for (const auto& p : probabilities)
                if (QString::fromStdString(p.label) == category)
                    value = p.probability;
            set->append(value);
        }
    }
    chart->addSeries(series);
    auto* classes = new QBarCategoryAxis;
    classes->append(categories);
    auto* probability = axis(tr("probability"), 0, 1);
    chart->addAxis(classes, Qt::AlignLeft);
    chart->addAxis(probability, Qt::AlignBottom);
    series->attachAxis(classes);
    series->attachAxis(probability);
}

int PlotsPanel::plotCount() const { return m_tabs->count(); }

bool PlotsPanel::showPlot(const QString& name)
{
    const QStringList names{QStringLiteral("distance"), QStringLiteral("fields"), QStringLiteral("predictions")};
    const int index = int(names.indexOf(name));
    if (index < 0)
        return false;
    m_tabs->setCurrentIndex(index);
    return true;
}

QString PlotsPanel::plotTitle(int index) const { return view(index)->chart()->title(); }

QChartView* PlotsPanel::view(int index) const
{
    return qobject_cast<QChartView*>(m_tabs->widget(index < 0 ? m_tabs->currentIndex() : index));
}

void PlotsPanel::exportPlot(const QString& path, int index) const
{
    auto* chartView = view(index);
    const QImage image = chartView->grab().toImage().convertToFormat(QImage::Format_RGB888);
    const cv::Mat rgb(image.height(), image.width(), CV_8UC3, const_cast<uchar*>(image.constBits()), std::size_t(image.bytesPerLine()));
    imaging::writePng(path.toStdString(), rgb, {{"Software", "attnviz"}, {"Title", chartView->chart()->title().toStdString()}});
}

}  // namespace attnviz::ui
