#include "ui/predictionsplot.h"

#include "ui/charts.h"

#include "core/engine/model/predictions.h"

#include <QBarCategoryAxis>
#include <QBarSet>
#include <QChart>
#include <QChartView>
#include <QHBoxLayout>
#include <QHorizontalBarSeries>
#include <QValueAxis>

#include <algorithm>

namespace attnviz::ui {
namespace {

constexpr int kTop = 5;

const PaneAnalysis* paneOf(const Analysis& analysis, Side side)
{
    return (side == Side::ViT ? analysis.vit : analysis.cnn).get();
}

// The probability `pane` gives each of `labels`, in their order.
QList<qreal> probabilitiesOf(const PaneAnalysis& pane, const QStringList& labels)
{
    const auto& spec = pane.model->spec();
    const auto probabilities = engine::topK(pane.trace.logits, spec, int(spec.labels.size()));
    QList<qreal> values;
    for (const auto& label : labels) {
        double value = 0;
        for (const auto& p : probabilities)
            if (QString::fromStdString(p.label) == label)
                value = p.probability;
        values << value;
    }
    return values;
}

QBarSet* barSet(Side side, const QList<qreal>& values)
{
    auto* set = new QBarSet(sideTitle(side));
    set->append(values);
    set->setColor(side == Side::ViT ? vitColour() : cnnColour());
    set->setBorderColor(set->color());
    return set;
}

}  // namespace

PredictionsPlot::PredictionsPlot(QWidget* parent)
    : QWidget(parent)
{
    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    m_vit = makeChartView(this);
    m_cnn = makeChartView(this);
    layout->addWidget(m_vit);
    layout->addWidget(m_cnn);
}

QString PredictionsPlot::title() const
{
    return tr("Top-5 predictions of each model");
}

QChartView* PredictionsPlot::chart(Side side) const
{
    return side == Side::ViT ? m_vit : m_cnn;
}

void PredictionsPlot::setAnalysis(const Analysis& analysis)
{
    drawSide(analysis, Side::ViT);
    drawSide(analysis, Side::CNN);
}

void PredictionsPlot::drawSide(const Analysis& analysis, Side side)
{
    const auto* pane = paneOf(analysis, side);
    const auto* other = paneOf(analysis, otherSide(side));
    if (!pane || pane->model->spec().labels.empty()) {
        freshChart(chart(side), tr("%1: no classes to predict").arg(sideTitle(side)));
        return;
    }
    auto* c = freshChart(chart(side), tr("%1's top-%2").arg(sideTitle(side)).arg(kTop));
    QStringList classes;
    for (const auto& p : engine::topK(pane->trace.logits, pane->model->spec(), kTop))
        classes << QString::fromStdString(p.label);
    // Horizontal bars draw the first category at the bottom: the most likely goes on top.
    std::reverse(classes.begin(), classes.end());
    auto* series = new QHorizontalBarSeries;
    series->append(barSet(side, probabilitiesOf(*pane, classes)));
    // The other model's probability of the same classes, where it has the same labels.
    if (other && other->model->spec().labels == pane->model->spec().labels)
        series->append(barSet(otherSide(side), probabilitiesOf(*other, classes)));
    c->addSeries(series);
    auto* axis = new QBarCategoryAxis;
    axis->append(classes);
    auto* probability = valueAxis(tr("probability"), 0, 1);
    c->addAxis(axis, Qt::AlignLeft);
    c->addAxis(probability, Qt::AlignBottom);
    series->attachAxis(axis);
    series->attachAxis(probability);
    c->legend()->setAlignment(Qt::AlignBottom);
}

}  // namespace attnviz::ui
