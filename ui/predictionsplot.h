#pragma once

#include "ui/analysiscontroller.h"

#include <QWidget>

QT_BEGIN_NAMESPACE
class QChartView;
QT_END_NAMESPACE

namespace attnviz::ui {

// Each model's top-5 classes in a chart of its own, side by side, with the other model's
// probability of the same classes beside each bar (where both share their labels): five
// rows a chart, so that every class name can be read. One chart for all would need up
// to ten rows, and Qt Charts elides category labels that do not fit.
class PredictionsPlot : public QWidget {
    Q_OBJECT
public:
    explicit PredictionsPlot(QWidget* parent = nullptr);

    void setAnalysis(const Analysis& analysis);
    QString title() const;
    QChartView* chart(Side side) const;

private:
    void drawSide(const Analysis& analysis, Side side);

    QChartView* m_vit = nullptr;
    QChartView* m_cnn = nullptr;
};

}  // namespace attnviz::ui
