#include "ui/studycharts.h"

#include "ui/charts.h"

#include "core/engine/study/skipstrength.h"

#include <QBarCategoryAxis>
#include <QBarSet>
#include <QChart>
#include <QChartView>
#include <QDir>
#include <QHorizontalBarSeries>
#include <QLegend>
#include <QLegendMarker>
#include <QLineSeries>
#include <QLogValueAxis>
#include <QValueAxis>

#include <algorithm>
#include <cmath>

namespace attnviz::ui {
namespace {

QLineSeries* lineSeries(const QString& name, const QColor& colour, bool dashed)
{
    auto* series = new QLineSeries;
    series->setName(name);
    series->setPointsVisible(true);
    series->setPen(QPen(colour, 2, dashed ? Qt::DashLine : Qt::SolidLine));
    return series;
}

std::vector<engine::SkipRatio> ratiosOf(const PaneAnalysis& pane)
{
    const auto& trace = pane.trace;
    engine::SkipAccumulator sums;
    sums.add(trace.residuals, trace.tokens.prefixTokens(), trace.tokens.hasCls);
    return sums.result();
}

}  // namespace

void drawSkipRatios(QChartView* view, const Analysis& analysis)
{
    auto* chart = freshChart(view,
                             QObject::tr("Skip-connection strength on this image: ‖residual stream‖ / ‖branch added‖ "
                                         "per addition (spatial tokens solid, CLS dashed)"));
    double lo = 1, hi = 1;
    const auto add = [&](QLineSeries* series, double depth, double ratio) {
        if (!std::isfinite(ratio) || ratio <= 0)
            return;  // a branch adding exactly zero has no finite ratio
        series->append(depth, ratio);
        lo = std::min(lo, ratio);
        hi = std::max(hi, ratio);
    };
    QStringList missing;
    if (analysis.vit) {
        const QColor attention = vitColour(), mlp(0xff, 0x7f, 0x0e);
        const bool cls = analysis.vit->trace.tokens.hasCls;
        auto* attnSpatial = lineSeries(QObject::tr("ViT attention"), attention, false);
        auto* mlpSpatial = lineSeries(QObject::tr("ViT MLP"), mlp, false);
        auto* attnCls = lineSeries(QObject::tr("ViT attention, CLS"), attention, true);
        auto* mlpCls = lineSeries(QObject::tr("ViT MLP, CLS"), mlp, true);
        for (const auto& r : ratiosOf(*analysis.vit)) {
            const bool isAttention = r.branch == "attention";
            add(isAttention ? attnSpatial : mlpSpatial, r.relativeDepth, r.spatialRatio());
            if (cls)
                add(isAttention ? attnCls : mlpCls, r.relativeDepth, r.clsRatio());
        }
        for (auto* s : {attnSpatial, mlpSpatial, attnCls, mlpCls}) {
            if (s->count() > 0)
                chart->addSeries(s);
            else
                delete s;
        }
    }
    if (analysis.cnn) {
        auto* blocks = lineSeries(QObject::tr("CNN residual blocks"), cnnColour(), false);
        for (const auto& r : ratiosOf(*analysis.cnn))
            add(blocks, r.relativeDepth, r.spatialRatio());
        if (blocks->count() > 0) {
            chart->addSeries(blocks);
        } else {
            delete blocks;
            missing << QObject::tr("the CNN has no residual connections");
        }
    }
    if (!missing.isEmpty())
        chart->setTitle(chart->title() + QStringLiteral("<br>") + missing.join(QStringLiteral("; ")));
    chart->legend()->setMarkerShape(QLegend::MarkerShapeFromSeries);
    auto* x = valueAxis(QObject::tr("relative depth (addition i of n at (i + 1) / n)"), 0, 1);
    auto* y = new QLogValueAxis;
    y->setTitleText(QObject::tr("norm ratio (log)"));
    y->setBase(10);
    y->setLabelFormat(QStringLiteral("%g"));
    y->setRange(std::min(0.5, lo / 1.5), std::max(10.0, hi * 1.5));
    chart->addAxis(x, Qt::AlignBottom);
    chart->addAxis(y, Qt::AlignLeft);
    for (auto* s : chart->series()) {
        s->attachAxis(x);
        s->attachAxis(y);
    }
}

void drawProbes(QChartView* view, const LayerProbes& probes)
{
    int trainImages = 0, testImages = 0, classes = 0;
    for (const auto& [side, study] : probes.sides) {
        trainImages = int(study.trainImages);
        testImages = int(study.testImages);
        classes = study.classes;
    }
    auto* chart = freshChart(view, QObject::tr("Linear probe per layer on %1 (%2): held-out accuracy (solid), "
                                               "training accuracy (dashed); %3 / %4 images, chance %5")
                                       .arg(QDir(probes.data).dirName(), probes.source)
                                       .arg(trainImages)
                                       .arg(testImages)
                                       .arg(classes > 0 ? 1.0 / classes : 0.0, 0, 'f', 3));
    const QColor patchMean(0xff, 0x7f, 0x0e);
    double lowest = 1.0;
    for (const auto& [side, study] : probes.sides) {
        for (const char* pooling : {"cls", "mean", "gap"}) {
            const QString name = side == Side::CNN ? QObject::tr("CNN global average pool")
                                                   : (std::string(pooling) == "cls" ? QObject::tr("ViT CLS token")
                                                                                    : QObject::tr("ViT patch mean"));
            const QColor colour = side == Side::CNN ? cnnColour()
                                                    : (std::string(pooling) == "cls" ? vitColour() : patchMean);
            auto* test = lineSeries(name, colour, false);
            auto* train = lineSeries(name + QObject::tr(", training"), colour, true);
            for (const auto& layer : study.layers) {
                if (layer.pooling != pooling)
                    continue;
                test->append(layer.relativeDepth, layer.score.testAccuracy);
                train->append(layer.relativeDepth, layer.score.trainAccuracy);
                lowest = std::min({lowest, layer.score.testAccuracy, layer.score.trainAccuracy});
            }
            for (auto* s : {test, train}) {
                if (s->count() > 0)
                    chart->addSeries(s);
                else
                    delete s;
            }
        }
    }
    chart->legend()->setMarkerShape(QLegend::MarkerShapeFromSeries);
    // From a tenth below the lowest accuracy: the differences between layers are what matters.
    attachAxes(chart, valueAxis(QObject::tr("relative depth (0 = input, 1 = last layer)"), 0, 1),
               valueAxis(QObject::tr("accuracy"), std::max(0.0, std::floor(lowest * 10 - 1) / 10), 1));
}

namespace {

using imaging::audit::MethodTally;
using imaging::audit::Tally;
using AuditRows = std::vector<std::pair<Side, const MethodTally*>>;

// A bar's label: its model, method and the randomisation check's outcome.
QString auditLabel(Side side, const imaging::audit::MethodTally& t)
{
    auto label = QStringLiteral("%1 %2").arg(sideTitle(side), QString::fromStdString(engine::viewMethodName(t.method)));
    if (const auto passes = t.passesRandomisation())
        label += QObject::tr(" · randomised ρ %1 %2")
                     .arg(t.spearman.back().mean(), 0, 'f', 2)
                     .arg(*passes ? QObject::tr("passes") : QObject::tr("FAILS"));
    return label;
}

// One score of the audit chart: a bar set.
struct AuditScore {
    QString name;
    Tally MethodTally::*tally;
    QColor colour;
};

std::vector<AuditScore> auditScores(bool masks)
{
    if (masks)
        return {{QObject::tr("pointing game"), &MethodTally::pointing, QColor(0x2c, 0xa0, 0x2c)},
                {QObject::tr("energy in mask"), &MethodTally::energy, QColor(0xff, 0x7f, 0x0e)},
                {QObject::tr("top-cells IoU"), &MethodTally::iou, QColor(0x94, 0x67, 0xbd)}};
    return {{QObject::tr("deletion AUC (lower: faithful)"), &MethodTally::deletion, QColor(0x8c, 0x56, 0x4b)},
            {QObject::tr("insertion AUC (higher: faithful)"), &MethodTally::insertion, QColor(0x17, 0xbe, 0xcf)}};
}

QHorizontalBarSeries* auditBars(const AuditRows& rows, const std::vector<AuditScore>& scores)
{
    auto* bars = new QHorizontalBarSeries;
    bars->setBarWidth(0.8);
    for (const auto& score : scores) {
        auto* set = new QBarSet(score.name);
        set->setColor(score.colour);
        for (const auto& row : rows) {
            const double mean = (row.second->*score.tally).mean();
            set->append(std::isfinite(mean) ? mean : 0.0);
        }
        bars->append(set);
    }
    return bars;
}

// The intervals: a line across each bar's end, in units of the categories (category i
// spans [i - 0.5, i + 0.5]; its bars share `barWidth` of it, the first set lowest).
std::vector<QLineSeries*> auditWhiskers(const AuditRows& rows, const std::vector<AuditScore>& scores, double barWidth)
{
    std::vector<QLineSeries*> whiskers;
    for (std::size_t i = 0; i < rows.size(); ++i)
        for (std::size_t j = 0; j < scores.size(); ++j) {
            const auto& tally = rows[i].second->*scores[j].tally;
            const double mean = tally.mean(), ci = tally.ci95();
            if (!std::isfinite(mean) || !std::isfinite(ci))
                continue;
            const double y = double(i) - barWidth / 2 + (double(j) + 0.5) * barWidth / double(scores.size());
            auto* line = new QLineSeries;
            line->setPen(QPen(Qt::black, 1.5));
            line->append(std::max(0.0, mean - ci), y);
            line->append(std::min(1.0, mean + ci), y);
            whiskers.push_back(line);
        }
    return whiskers;
}

}  // namespace

void drawAudit(QChartView* view, const FolderAuditResult& audit)
{
    const bool masks = audit.withMask > 0;
    const auto scores = auditScores(masks);
    auto* chart = freshChart(
        view, QObject::tr("Audit of %1 of the %2 images in %3 (%4 with a mask; randomisation check on the first %5): "
                          "means with 95% intervals%6")
                  .arg(audit.imagesUsed)
                  .arg(audit.imagesInFolder)
                  .arg(QDir(audit.folder).dirName())
                  .arg(audit.withMask)
                  .arg(audit.randomisationImages)
                  .arg(masks ? QString() : QObject::tr(" · no masks, so deletion and insertion only")));
    chart->legend()->setAlignment(Qt::AlignTop);
    // The first model's first method on top: horizontal bars run from the bottom up.
    AuditRows rows;
    for (const auto& model : audit.models)
        for (const auto& t : model.methods)
            rows.emplace_back(model.family, &t);
    std::reverse(rows.begin(), rows.end());
    QStringList categories;
    for (const auto& [side, t] : rows)
        categories << auditLabel(side, *t);
    auto* bars = auditBars(rows, scores);
    chart->addSeries(bars);
    auto* x = valueAxis(QObject::tr("score (0 to 1)"), 0, 1);
    auto* methods = new QBarCategoryAxis;
    methods->append(categories);
    auto* along = valueAxis(QString(), -0.5, double(rows.size()) - 0.5);  // the whiskers' categories
    along->setVisible(false);
    chart->addAxis(x, Qt::AlignBottom);
    chart->addAxis(methods, Qt::AlignLeft);
    chart->addAxis(along, Qt::AlignRight);
    bars->attachAxis(x);
    bars->attachAxis(methods);
    for (auto* line : auditWhiskers(rows, scores, bars->barWidth())) {
        chart->addSeries(line);
        line->attachAxis(x);
        line->attachAxis(along);
        for (auto* marker : chart->legend()->markers(line))
            marker->setVisible(false);
    }
}

}  // namespace attnviz::ui
