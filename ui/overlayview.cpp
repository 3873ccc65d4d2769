#include "ui/overlayview.h"

#include <QMouseEvent>
#include <QPainter>

namespace attnviz::ui {

OverlayView::OverlayView(QWidget* parent)
    : QWidget(parent)
{
    setMouseTracking(true);
    setMinimumSize(160, 140);
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
}

void OverlayView::setImage(const QImage& image, int pictureWidth)
{
    m_image = image;
    m_pictureWidth = pictureWidth;
    update();
}

QRect OverlayView::targetRect() const
{
    if (m_image.isNull())
        return {};
    const QSize fitted = m_image.size().scaled(size(), Qt::KeepAspectRatio);
    return QRect(QPoint((width() - fitted.width()) / 2, (height() - fitted.height()) / 2), fitted);
}

bool OverlayView::toUnit(const QPointF& widgetPos, QPointF& unit) const
{
    const QRect target = targetRect();
    if (target.isEmpty() || m_pictureWidth <= 0)
        return false;
    const double scale = double(target.width()) / m_image.width();
    const double x = (widgetPos.x() - target.left()) / (m_pictureWidth * scale);
    const double y = (widgetPos.y() - target.top()) / double(target.height());
    if (x < 0 || x >= 1 || y < 0 || y >= 1)
        return false;
    unit = {x, y};
    return true;
}

void OverlayView::paintEvent(QPaintEvent*)
{
    QPainter painter(this);
    painter.fillRect(rect(), palette().window());
    if (m_image.isNull())
        return;
    painter.setRenderHint(QPainter::SmoothPixmapTransform, false);
    painter.drawImage(targetRect(), m_image);
}

void OverlayView::mouseMoveEvent(QMouseEvent* event)
{
    QPointF unit;
    if (toUnit(event->position(), unit))
        emit hovered(unit);
}

void OverlayView::mousePressEvent(QMouseEvent* event)
{
    QPointF unit;
    if (event->button() == Qt::LeftButton && toUnit(event->position(), unit))
        emit clicked(unit);
}

}  // namespace attnviz::ui
