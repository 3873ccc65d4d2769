#include "ui/thumbnailgrid.h"

#include <QMouseEvent>
#include <QPainter>

#include <algorithm>

namespace attnviz::ui {
namespace {

constexpr int kLabelWidth = 56;
constexpr int kCaptionHeight = 18;
constexpr int kGap = 2;

}  // namespace

ThumbnailGrid::ThumbnailGrid(QWidget* parent)
    : QWidget(parent)
{
    setMinimumSize(120, 80);
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Preferred);
}

void ThumbnailGrid::setCells(const std::vector<QImage>& cells, int rows, int columns, const QStringList& rowLabels,
                             const QString& caption, const QStringList& columnLabels)
{
    m_columnLabels = columnLabels;
    m_cells = cells;
    m_rows = rows;
    m_columns = columns;
    m_rowLabels = rowLabels;
    m_caption = caption;
    updateGeometry();
    update();
}

void ThumbnailGrid::setSelected(int row, int column)
{
    m_selectedRow = row;
    m_selectedColumn = column;
    update();
}

QSize ThumbnailGrid::sizeHint() const
{
    const int side = 28;
    const int footer = m_columnLabels.isEmpty() ? 0 : kCaptionHeight;
    return {kLabelWidth + m_columns * (side + kGap), kCaptionHeight + m_rows * (side + kGap) + footer};
}

int ThumbnailGrid::cellSide() const
{
    if (m_rows == 0 || m_columns == 0)
        return 0;
    const int byWidth = (width() - kLabelWidth) / m_columns - kGap;
    const int footer = m_columnLabels.isEmpty() ? 0 : kCaptionHeight;
    const int byHeight = (height() - kCaptionHeight - footer) / m_rows - kGap;
    return std::max(4, std::min({byWidth, byHeight, 96}));
}

QRect ThumbnailGrid::cellRect(int row, int column) const
{
    const int side = cellSide();
    return {kLabelWidth + column * (side + kGap), kCaptionHeight + row * (side + kGap), side, side};
}

void ThumbnailGrid::paintEvent(QPaintEvent*)
{
    QPainter painter(this);
    painter.setRenderHint(QPainter::SmoothPixmapTransform, false);
    painter.drawText(QRect(0, 0, width(), kCaptionHeight), Qt::AlignLeft | Qt::AlignVCenter, m_caption);
    for (int r = 0; r < m_rows; ++r) {
        if (r < m_rowLabels.size())
            painter.drawText(QRect(0, cellRect(r, 0).top(), kLabelWidth - 4, cellSide()), Qt::AlignRight | Qt::AlignVCenter,
                             m_rowLabels[r]);
        for (int c = 0; c < m_columns; ++c) {
            const auto index = std::size_t(r * m_columns + c);
            if (index < m_cells.size())
                painter.drawImage(cellRect(r, c), m_cells[index]);
        }
    }
    for (int c = 0; c < m_columns && c < m_columnLabels.size() && m_rows > 0; ++c) {
        const QRect below = cellRect(m_rows - 1, c).translated(0, cellSide() + kGap);
        const QRect text(below.left() - kGap, below.top(), below.width() + 2 * kGap, kCaptionHeight);
        // Module paths differ at their end ("features.denseblock1", "features.denseblock2").
        painter.drawText(text, Qt::AlignHCenter | Qt::AlignTop,
                         painter.fontMetrics().elidedText(m_columnLabels[c], Qt::ElideLeft, text.width()));
    }
    if (m_selectedRow >= 0 && m_selectedColumn >= 0) {
        painter.setPen(QPen(palette().highlight(), 2));
        painter.drawRect(cellRect(m_selectedRow, m_selectedColumn).adjusted(-1, -1, 1, 1));
    }
}

void ThumbnailGrid::mousePressEvent(QMouseEvent* event)
{
    for (int r = 0; r < m_rows; ++r)
        for (int c = 0; c < m_columns; ++c)
            if (cellRect(r, c).contains(event->position().toPoint())) {
                emit cellClicked(r, c);
                return;
            }
}

}  // namespace attnviz::ui
