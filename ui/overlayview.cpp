#include "ui/overlayview.h"

#include <QMouseEvent>
#include <QPainter>
#include <QWheelEvent>

#include <algorithm>

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

void OverlayView::setFitLimit(QSize limit)
{
    if (limit == m_fitLimit)
        return;
    m_fitLimit = limit;
    update();
}

QSize OverlayView::fitArea() const
{
    return m_fitLimit.isValid() ? size().boundedTo(m_fitLimit) : size();
}

QRect OverlayView::pictureRect() const
{
    const auto target = targetRect();
    if (target.isNull() || m_image.width() == 0)
        return {};
    return {target.topLeft(), QSize(int(double(target.width()) * m_pictureWidth / m_image.width()), target.height())};
}

void OverlayView::resizeEvent(QResizeEvent* event)
{
    QWidget::resizeEvent(event);
    emit resized();
}

QRect OverlayView::targetRect() const
{
    if (m_image.isNull())
        return {};
    const QSize fitted = m_image.size().scaled(fitArea(), Qt::KeepAspectRatio) * m_zoom;
    // The image point m_centre sits at the widget's centre.
    const QPoint topLeft(int(width() / 2.0 - m_centre.x() * fitted.width()),
                         int(height() / 2.0 - m_centre.y() * fitted.height()));
    return QRect(topLeft, fitted);
}

void OverlayView::setViewport(double zoom, QPointF centre)
{
    m_zoom = std::clamp(zoom, 1.0, 32.0);
    // At zoom z the visible part is 1/z of the image: keep the centre inside it.
    const double half = 0.5 / m_zoom;
    m_centre = {std::clamp(centre.x(), half, 1.0 - half), std::clamp(centre.y(), half, 1.0 - half)};
    update();
}

void OverlayView::wheelEvent(QWheelEvent* event)
{
    const QRect target = targetRect();
    if (target.isEmpty())
        return;
    // Zoom around the pointer: the image point under it stays under it.
    const QPointF pos = event->position();
    const QPointF under((pos.x() - target.left()) / target.width(), (pos.y() - target.top()) / target.height());
    const double factor = event->angleDelta().y() > 0 ? 1.25 : 0.8;
    const double zoom = std::clamp(m_zoom * factor, 1.0, 32.0);
    const double scale = m_zoom / zoom;
    setViewport(zoom, {under.x() + (m_centre.x() - under.x()) * scale, under.y() + (m_centre.y() - under.y()) * scale});
    emit viewportChanged(m_zoom, m_centre);
    event->accept();
}

void OverlayView::mouseDoubleClickEvent(QMouseEvent*)
{
    setViewport(1.0, {0.5, 0.5});
    emit viewportChanged(m_zoom, m_centre);
}

void OverlayView::mouseReleaseEvent(QMouseEvent* event)
{
    QPointF unit;
    // A press and release without a drag is a click (a query); a drag pans.
    if (event->button() == Qt::LeftButton && !m_dragged && toUnit(event->position(), unit))
        emit clicked(unit);
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
    if ((event->buttons() & Qt::LeftButton) && m_zoom > 1.0) {
        const QPointF delta = event->position() - m_dragStart;
        if (m_dragged || delta.manhattanLength() > 4) {
            const QRect target = targetRect();
            m_dragged = true;
            m_dragStart = event->position();
            setViewport(m_zoom,
                        {m_centre.x() - delta.x() / target.width(), m_centre.y() - delta.y() / target.height()});
            emit viewportChanged(m_zoom, m_centre);
            return;
        }
    }
    QPointF unit;
    if (toUnit(event->position(), unit))
        emit hovered(unit);
}

void OverlayView::mousePressEvent(QMouseEvent* event)
{
    m_dragStart = event->position();
    m_dragged = false;
}

}  // namespace attnviz::ui
