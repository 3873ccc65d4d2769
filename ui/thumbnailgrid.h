#pragma once

#include <QImage>
#include <QString>
#include <QStringList>
#include <QWidget>

#include <vector>

namespace attnviz::ui {

// The overview a user scans first: small maps in a grid (ViT: one row per block, one
// column per head; CNN: one strip of stages). A click selects a cell; the selected
// one is outlined.
class ThumbnailGrid : public QWidget {
    Q_OBJECT
public:
    explicit ThumbnailGrid(QWidget* parent = nullptr);

    // cells: rows x columns images in row-major order, all the same size.
    // columnLabels, when given, are written under the last row (e.g. a CNN's stages).
    void setCells(const std::vector<QImage>& cells, int rows, int columns, const QStringList& rowLabels,
                  const QString& caption, const QStringList& columnLabels = {});
    void setSelected(int row, int column);
    QSize sizeHint() const override;
    int rows() const { return m_rows; }
    int columns() const { return m_columns; }

signals:
    void cellClicked(int row, int column);

protected:
    void paintEvent(QPaintEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;

private:
    QRect cellRect(int row, int column) const;
    int cellSide() const;

    std::vector<QImage> m_cells;
    QStringList m_rowLabels;
    QStringList m_columnLabels;
    QString m_caption;
    int m_rows = 0, m_columns = 0;
    int m_selectedRow = -1, m_selectedColumn = -1;
};

}  // namespace attnviz::ui
