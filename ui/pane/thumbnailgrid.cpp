#include "ui/pane/thumbnailgrid.h"

#include <QHelpEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QToolTip>

#include <algorithm>

namespace attnviz::ui {
namespace {

constexpr int kCaptionLine = 18;  // a line of the caption; it wraps onto a second line, not elided
constexpr int kGap = 2;
constexpr int kHintSide = 28;  // a cell's side when there is room
constexpr int kMaxSide = 96;
constexpr double kMaxLabelShare = 0.45;  // of the grid's width

}  // namespace

ThumbnailGrid::ThumbnailGrid(QWidget* parent)
    : QWidget(parent)
{
    setMinimumSize(120, 80);
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Preferred);
}

void ThumbnailGrid::setCells(const std::vector<QImage>& cells, int rows, int columns, const QStringList& rowLabels,
                             const QString& caption, const QString& columnTitle)
{
    m_cells = cells;
    m_rows = rows;
    m_columns = columns;
    m_rowLabels = rowLabels;
    m_caption = caption;
    m_columnTitle = columnTitle;
    m_widestLabel = 0;  // measured once here, not on every paint
    for (const auto& label : m_rowLabels)
        m_widestLabel = std::max(m_widestLabel, fontMetrics().horizontalAdvance(label));
    updateGeometry();
    update();
}

void ThumbnailGrid::setSelected(int row, int column)
{
    m_selectedRow = row;
    m_selectedColumn = column;
    update();
}

int ThumbnailGrid::captionHeight() const
{
    const bool fits = fontMetrics().horizontalAdvance(m_caption) <= width();
    return fits ? kCaptionLine : 2 * kCaptionLine;
}

bool ThumbnailGrid::elidesText() const
{
    const auto metrics = fontMetrics();
    const auto wrapped = metrics.boundingRect(QRect(0, 0, width(), 1000), Qt::TextWordWrap, m_caption);
    if (wrapped.height() > captionHeight() || wrapped.width() > width())
        return true;
    const int labels = labelWidth() - 4;
    return std::any_of(m_rowLabels.begin(), m_rowLabels.end(),
                       [&](const QString& label) { return metrics.horizontalAdvance(label) > labels; });
}

int ThumbnailGrid::labelWidth() const
{
    const int share = int(kMaxLabelShare * std::max(width(), minimumWidth()));
    return std::min(m_widestLabel + 6, std::max(24, share));
}

QSize ThumbnailGrid::sizeHint() const
{
    const int height = kCaptionLine + m_rows * (kHintSide + kGap);
    return {m_widestLabel + 6 + m_columns * (kHintSide + kGap), std::min(height, kMaxHintHeight)};
}

int ThumbnailGrid::cellSide() const
{
    if (m_rows == 0 || m_columns == 0)
        return 0;
    const int byWidth = (width() - labelWidth()) / m_columns - kGap;
    const int byHeight = (height() - captionHeight()) / m_rows - kGap;
    return std::max(3, std::min({byWidth, byHeight, kMaxSide}));
}

QRect ThumbnailGrid::cellRect(int row, int column) const
{
    const int side = cellSide();
    return {labelWidth() + column * (side + kGap), captionHeight() + row * (side + kGap), side, side};
}

std::pair<int, int> ThumbnailGrid::cellAt(QPoint point) const
{
    for (int r = 0; r < m_rows; ++r)
        for (int c = 0; c < m_columns; ++c)
            if (cellRect(r, c).contains(point))
                return {r, c};
    return {-1, -1};
}

QString ThumbnailGrid::cellToolTip(int row, int column) const
{
    QString tip = row < m_rowLabels.size() ? m_rowLabels[row] : QString::number(row);
    if (!m_columnTitle.isEmpty())
        tip += QStringLiteral(" · %1 %2").arg(m_columnTitle).arg(column);
    return tip;
}

bool ThumbnailGrid::event(QEvent* event)
{
    if (event->type() == QEvent::ToolTip) {
        const auto* help = static_cast<QHelpEvent*>(event);
        const auto [row, column] = cellAt(help->pos());
        if (row >= 0)
            QToolTip::showText(help->globalPos(), cellToolTip(row, column), this);
        else if (!toolTip().isEmpty())
            QToolTip::showText(help->globalPos(), toolTip(), this);
        else
            QToolTip::hideText();
        return true;
    }
    return QWidget::event(event);
}

void ThumbnailGrid::paintEvent(QPaintEvent*)
{
    QPainter painter(this);
    painter.setRenderHint(QPainter::SmoothPixmapTransform, false);
    painter.drawText(QRect(0, 0, width(), captionHeight()), Qt::AlignLeft | Qt::AlignVCenter | Qt::TextWordWrap,
                     m_caption);
    const int labels = labelWidth();
    // Rows thinner than a line of text label every step-th row (the tooltip names each).
    const int lineHeight = painter.fontMetrics().height();
    const int step = std::max(1, (lineHeight + cellSide() + kGap - 1) / (cellSide() + kGap));
    for (int r = 0; r < m_rows; ++r) {
        if (r < m_rowLabels.size() && r % step == 0)
            // Module paths differ at their end ("features.denseblock1", "…denseblock2").
            painter.drawText(QRect(0, cellRect(r, 0).top() - 4, labels - 4, cellSide() + 8),
                             Qt::AlignRight | Qt::AlignVCenter,
                             painter.fontMetrics().elidedText(m_rowLabels[r], Qt::ElideLeft, labels - 4));
        for (int c = 0; c < m_columns; ++c) {
            const auto index = std::size_t(r) * std::size_t(m_columns) + std::size_t(c);
            if (index < m_cells.size())
                painter.drawImage(cellRect(r, c), m_cells[index]);
        }
    }
    if (m_selectedRow >= 0 && m_selectedColumn >= 0) {
        painter.setPen(QPen(palette().highlight(), 2));
        painter.drawRect(cellRect(m_selectedRow, m_selectedColumn).adjusted(-1, -1, 1, 1));
    }
}

void ThumbnailGrid::mousePressEvent(QMouseEvent* event)
{
    const auto [row, column] = cellAt(event->position().toPoint());
    if (row >= 0)
        emit cellClicked(row, column);
}

}  // namespace attnviz::ui
