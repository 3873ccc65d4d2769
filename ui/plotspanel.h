#pragma once

#include "ui/analysiscontroller.h"

#include <QWidget>

#include <memory>

class QTabWidget;

QT_BEGIN_NAMESPACE
class QChartView;
QT_END_NAMESPACE

namespace attnviz::ui {

// The plots of one analysis (Qt Charts): mean attention distance per head against
// the ViT's depth, theoretical receptive field size against depth for both models,
// and both models' top-5 predictions. Each can be exported as PNG.
class PlotsPanel : public QWidget {
    Q_OBJECT
public:
    explicit PlotsPanel(QWidget* parent = nullptr);

    void setAnalysis(const std::shared_ptr<const Analysis>& analysis);
    int plotCount() const;
    // "distance", "fields" or "predictions"; false for another name.
    bool showPlot(const QString& name);
    QString plotTitle(int index) const;
    // Writes plot `index` (the current one when -1) as PNG with its title in the text chunk.
    void exportPlot(const QString& path, int index = -1) const;

private:
    void showDistances(const PaneAnalysis& vit);
    void showReceptiveFields(const Analysis& analysis);
    void showPredictions(const Analysis& analysis);
    QChartView* view(int index) const;

    QTabWidget* m_tabs = nullptr;
    QChartView* m_distance = nullptr;
    QChartView* m_fields = nullptr;
    QChartView* m_predictions = nullptr;
};

}  // namespace attnviz::ui
