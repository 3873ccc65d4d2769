#pragma once

#include "ui/analysiscontroller.h"

#include "core/engine/study/artifacttokens.h"
#include "core/engine/study/headtable.h"

#include <QWidget>

#include <memory>
#include <optional>

class QComboBox;
class QLabel;
class QTableWidget;

namespace attnviz::ui {

// What the ViT's tokens do on the analysed image, as the worker derived it from the
// trace (PaneAnalysis::tokens and ::heads; no pass of its own):
// the norm of every patch token after a chosen block with the high-norm artifact tokens
// outlined (docs/methods.md), the register tokens' attention where the model has them,
// and the head table (distance, entropy, CLS attention on the artifacts and registers),
// sortable; a click on a head shows its attention map in the ViT pane.
class TokensPanel : public QWidget {
    Q_OBJECT
public:
    explicit TokensPanel(QWidget* parent = nullptr);

    // nullptr (no ViT) or a ViT pane's analysis.
    void setPane(std::shared_ptr<const PaneAnalysis> vit);
    bool hasStudy() const { return m_study.has_value(); }
    // The head table as CSV (engine::headTableCsv), written whole or not at all.
    void exportCsv(const QString& path) const;
    QString title() const;
    QTableWidget* table() const { return m_table; }

signals:
    void headChosen(int layer, int head);

private:
    void showBlock(int block);
    void fillTable();

    QLabel* m_summary = nullptr;
    QComboBox* m_block = nullptr;
    QLabel* m_normMap = nullptr;
    QLabel* m_registers = nullptr;
    QTableWidget* m_table = nullptr;
    std::optional<engine::TokenStudy> m_study;
    std::vector<engine::HeadStats> m_rows;
};

}  // namespace attnviz::ui
