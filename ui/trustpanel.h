#pragma once

#include "ui/analysiscontroller.h"

#include <QWidget>

#include <memory>

class QLabel;
class QTableWidget;

namespace attnviz::ui {

// How far the maps on screen can be trusted on this image (docs/audit.md): each pane's
// map scored against the image's ground-truth mask (pointing game, energy in the mask,
// IoU of its top cells) and by its effect on the model (deletion and insertion AUC).
// The scores come with the faithfulness curves, from one job on the worker; without a
// mask only the last two are shown, and the panel says how to give the image one.
class TrustPanel : public QWidget {
    Q_OBJECT
public:
    explicit TrustPanel(QWidget* parent = nullptr);

    // A new image: its mask (or why it has none) and no scores yet.
    void setAnalysis(const Analysis& analysis);
    // The scores of the maps on screen; `notes` say which maps have none and why.
    void setScores(const std::shared_ptr<const FaithfulnessPlot>& plot, const QStringList& notes);
    QString title() const;
    QTableWidget* table() const { return m_table; }

private:
    void showScores();

    QLabel* m_title = nullptr;
    QTableWidget* m_table = nullptr;
    QLabel* m_legend = nullptr;
    QString m_maskPath, m_maskProblem, m_imagePath;
    std::shared_ptr<const FaithfulnessPlot> m_plot;
    QStringList m_notes;
};

}  // namespace attnviz::ui
