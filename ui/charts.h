#pragma once

#include <QColor>
#include <QString>

QT_BEGIN_NAMESPACE
class QChart;
class QChartView;
class QValueAxis;
class QWidget;
QT_END_NAMESPACE

namespace attnviz::ui {

// The plots' common pieces: an antialiased chart view, a fresh chart in it, a titled axis.
QChartView* makeChartView(QWidget* parent);
// Replaces the view's chart by an empty one titled `title` (the old one is deleted).
QChart* freshChart(QChartView* view, const QString& title);
QValueAxis* valueAxis(const QString& title, double lo, double hi);
// Attaches every series of `chart` to both axes (added to the chart here).
void attachAxes(QChart* chart, QValueAxis* x, QValueAxis* y);

// One colour per model in every plot.
inline QColor vitColour()
{
    return {0xd6, 0x27, 0x28};
}
inline QColor cnnColour()
{
    return {0x1f, 0x77, 0xb4};
}

}  // namespace attnviz::ui
