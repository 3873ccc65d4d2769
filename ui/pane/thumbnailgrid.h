#pragma once

#include <QImage>
#include <QString>
#include <QStringList>
#include <QWidget>

#include <vector>

namespace attnviz::ui {

// The overview a user scans first: small maps in a grid (ViT: one row per block, one
// column per head; CNN: one row per stage). Cells shrink to the space the grid is given
// (it never asks for more than kMaxHintHeight, so the overlay stays the largest thing
// in a pane however many blocks and heads a model has); row labels take the width the
// longest needs, up to a share of the grid, elided at their start beyond it; the caption
// wraps onto a second line where it is wider than the grid. A click
// selects a cell, the selected one is outlined, and hovering names the cell.
class ThumbnailGrid : public QWidget {
    Q_OBJECT
public:
    explicit ThumbnailGrid(QWidget* parent = nullptr);

    // cells: rows x columns images in row-major order, all the same size. A cell's
    // tooltip is its row label, then "<columnTitle> <column>" when columnTitle is given.
    void setCells(const std::vector<QImage>& cells, int rows, int columns, const QStringList& rowLabels,
                  const QString& caption, const QString& columnTitle = {});
    void setSelected(int row, int column);
    QSize sizeHint() const override;
    int rows() const { return m_rows; }
    int columns() const { return m_columns; }
    int cellSide() const;  // in pixels, as drawn now
    QString cellToolTip(int row, int column) const;
    // Whether the caption (which wraps onto a second line where it must) or a row label
    // is cut at the present size.
    bool elidesText() const;

    static constexpr int kMaxHintHeight = 220;

signals:
    void cellClicked(int row, int column);

protected:
    bool event(QEvent* event) override;
    void paintEvent(QPaintEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;

private:
    QRect cellRect(int row, int column) const;
    int labelWidth() const;
    int captionHeight() const;
    // The cell under a point, or {-1, -1}.
    std::pair<int, int> cellAt(QPoint point) const;

    std::vector<QImage> m_cells;
    QStringList m_rowLabels;
    QString m_caption;
    QString m_columnTitle;
    int m_rows = 0, m_columns = 0;
    int m_widestLabel = 0;  // pixels
    int m_selectedRow = -1, m_selectedColumn = -1;
};

}  // namespace attnviz::ui
