#include "ui/charts.h"

#include <QChart>
#include <QChartView>
#include <QLegend>
#include <QValueAxis>

namespace attnviz::ui {

QChartView* makeChartView(QWidget* parent)
{
    auto* view = new QChartView(new QChart, parent);
    view->setRenderHint(QPainter::Antialiasing);
    view->setMinimumHeight(200);
    return view;
}

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

QValueAxis* valueAxis(const QString& title, double lo, double hi)
{
    auto* a = new QValueAxis;
    a->setTitleText(title);
    a->setRange(lo, hi);
    return a;
}

void attachAxes(QChart* chart, QValueAxis* x, QValueAxis* y)
{
    chart->addAxis(x, Qt::AlignBottom);
    chart->addAxis(y, Qt::AlignLeft);
    for (auto* s : chart->series()) {
        s->attachAxis(x);
        s->attachAxis(y);
    }
}

}  // namespace attnviz::ui
