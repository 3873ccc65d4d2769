#pragma once

#include "ui/analysiscontroller.h"

#include <QWidget>

#include <memory>

class QScrollArea;
class QTabWidget;

QT_BEGIN_NAMESPACE
class QChartView;
QT_END_NAMESPACE

namespace attnviz::ui {

class MatrixStrip;
class PredictionsPlot;
class TokensPanel;
class TrustPanel;

// The plots of one analysis (Qt Charts): mean attention distance per head against
// the ViT's depth; receptive field size against depth for both models, theoretical
// and, once measured, effective; both models' top-5 predictions; the CKA heat maps
// of a folder comparison; the deletion and insertion curves of the maps on screen;
// skip-connection strength; the ViT's token norms and head table; and the folder-wide
// spatial localisation and layer probes; and the Trust tab, the maps on screen scored
// against the image's ground-truth mask, and the audit of every method over a folder.
// Each can be exported as PNG.
class PlotsPanel : public QWidget {
    Q_OBJECT
public:
    explicit PlotsPanel(QWidget* parent = nullptr);

    void setAnalysis(const std::shared_ptr<const Analysis>& analysis);
    // Adds the effective sizes to the receptive-field plot if they belong to the analysis shown.
    void setFieldSizes(const std::shared_ptr<const FieldSizes>& sizes);
    bool hasFieldSizes() const { return m_fieldSizes != nullptr; }
    void setSimilarity(const std::shared_ptr<const LayerSimilarity>& similarity);
    bool hasSimilarity() const { return m_similarity != nullptr; }
    // What the faithfulness plot says of a pane it draws no curve for ("CNN: erf …").
    void setFaithfulnessNotes(const QStringList& notes);
    // Curves scored on this analysis' traces replace the plot; others are dropped.
    void setFaithfulness(const std::shared_ptr<const FaithfulnessPlot>& plot);
    bool hasFaithfulness() const { return m_faithfulness != nullptr; }
    // The faithfulness plot or the Trust tab is on screen: both show the scores of one job.
    bool showsFaithfulness() const;
    void setLocalization(const std::shared_ptr<const SpatialLocalization>& localization);
    bool hasLocalization() const { return m_localization != nullptr; }
    void setProbes(const std::shared_ptr<const LayerProbes>& probes);
    bool hasProbes() const { return m_probes != nullptr; }
    void setAudit(const std::shared_ptr<const FolderAuditResult>& audit);
    bool hasAudit() const { return m_audit != nullptr; }
    TokensPanel* tokens() const { return m_tokens; }
    TrustPanel* trust() const { return m_trust; }
    int plotCount() const;
    // The plots by name, in tab order: distance, fields, predictions, cka, faithfulness,
    // skip, tokens, localization, probes, trust, audit.
    static QStringList plotNames();
    // One of plotNames(); false for another name.
    bool showPlot(const QString& name);
    QString plotTitle(int index) const;
    // Writes plot `index` (the current one when -1) as PNG with its title in the text chunk.
    void exportPlot(const QString& path, int index = -1) const;

signals:
    // The receptive-field plot is on screen and its effective sizes are not measured yet.
    void fieldSizesWanted(std::shared_ptr<const attnviz::ui::Analysis> analysis);
    // The faithfulness plot or the Trust tab came on screen: it wants the scores of the maps shown now.
    void faithfulnessWanted();

private:
    void requestFieldSizesIfShown();
    void showDistances(const PaneAnalysis& vit);
    void showReceptiveFields();
    void showSimilarity();
    void showPredictions(const Analysis& analysis);
    void showFaithfulness();
    void showLocalization();
    QChartView* view(int index) const;  // nullptr for the tabs that are not charts
    void checkIndex(int index) const;   // -1 (the current plot) or a tab

    QTabWidget* m_tabs = nullptr;
    QChartView* m_distance = nullptr;
    QChartView* m_fields = nullptr;
    PredictionsPlot* m_predictions = nullptr;
    QStringList m_faithfulnessNotes;
    QChartView* m_faithfulnessView = nullptr;
    MatrixStrip* m_cka = nullptr;  // the heat maps side by side, or a hint how to get them
    QChartView* m_skip = nullptr;
    TokensPanel* m_tokens = nullptr;
    MatrixStrip* m_localizationMaps = nullptr;
    QChartView* m_probesView = nullptr;
    TrustPanel* m_trust = nullptr;
    QChartView* m_auditView = nullptr;
    QScrollArea* m_auditScroll = nullptr;  // holds m_auditView
    std::shared_ptr<const Analysis> m_analysis;
    std::shared_ptr<const FieldSizes> m_fieldSizes;
    std::shared_ptr<const LayerSimilarity> m_similarity;
    std::shared_ptr<const FaithfulnessPlot> m_faithfulness;
    std::shared_ptr<const SpatialLocalization> m_localization;
    std::shared_ptr<const LayerProbes> m_probes;
    std::shared_ptr<const FolderAuditResult> m_audit;
    bool m_fieldSizesRequested = false;
};

}  // namespace attnviz::ui
