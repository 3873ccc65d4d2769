#pragma once

#include "ui/analysiscontroller.h"

#include "core/engine/study/artifacttokens.h"
#include "core/engine/study/headtable.h"

#include <QWidget>

#include <memory>
#include <optional>

class QComboBox;
class QLabel;
class QPushButton;
class QTableWidget;

namespace attnviz::ui {

// What the ViT's tokens do on the analysed image, as the worker derived it from the
// trace (PaneAnalysis::tokens and ::heads; no pass of its own):
// the norm of every patch token after a chosen block with the high-norm artifact tokens
// outlined (docs/methods.md), the register tokens' attention where the model has them,
// and the head table (distance, entropy, CLS attention on the artifacts and registers),
// sortable; a click on a head shows its attention map in the ViT pane. Its Test-time
// register button asks for the register neurons of the image on screen (Jiang et al., NeurIPS
// 2025) and shows the token norms and the CLS token's attention without and with the
// register, side by side, each pair on one colour scale.
class TokensPanel : public QWidget {
    Q_OBJECT
public:
    explicit TokensPanel(QWidget* parent = nullptr);

    // nullptr (no ViT) or a ViT pane's analysis.
    void setPane(const std::shared_ptr<const PaneAnalysis>& vit);
    bool hasStudy() const { return m_study.has_value(); }
    // The head table as CSV (engine::headTableCsv), written whole or not at all.
    void exportCsv(const QString& path) const;
    QString title() const;
    QTableWidget* table() const { return m_table; }

    // The register's comparison for the pane shown (others are ignored), or why there is none.
    void setRegisterComparison(const std::shared_ptr<const RegisterComparison>& comparison);
    void setRegisterProblem(const QString& message);
    const RegisterComparison* registerComparison() const { return m_comparison.get(); }
    QPushButton* registerButton() const { return m_registerButton; }
    QString registerSummary() const;

signals:
    void headChosen(int layer, int head);
    // The Test-time register button is down and the pane shown has no comparison yet.
    void registerWanted(std::shared_ptr<const attnviz::ui::PaneAnalysis> vit);

private:
    void showBlock(int block);
    void fillTable();
    QWidget* makeRegisterBox();
    void showRegister(int block);
    void askForRegister();

    QLabel* m_summary = nullptr;
    QComboBox* m_block = nullptr;
    QLabel* m_normMap = nullptr;
    QLabel* m_registers = nullptr;
    QTableWidget* m_table = nullptr;
    QPushButton* m_registerButton = nullptr;
    QLabel* m_registerText = nullptr;
    QWidget* m_registerMaps = nullptr;
    QLabel *m_normsWithout = nullptr, *m_normsWith = nullptr, *m_clsWithout = nullptr, *m_clsWith = nullptr;
    std::shared_ptr<const PaneAnalysis> m_pane;
    std::shared_ptr<const RegisterComparison> m_comparison;
    std::optional<engine::TokenStudy> m_study;
    std::vector<engine::HeadStats> m_rows;
};

}  // namespace attnviz::ui
