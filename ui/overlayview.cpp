#include "ui/overlayview.h"

#include <QApplication>
#include <QMouseEvent>
#include <QPainter>
#include <QStyleHints>
#include <QTimer>
#include <QWheelEvent>

#include <algorithm>
#include <utility>

namespace attnviz::ui {

OverlayView::OverlayView(QWidget* parent)
    : QWidget(parent)
    , m_clickTimer(new QTimer(this))
{
    setMouseTracking(true);
    setMinimumSize(160, 140);
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
    m_clickTimer->setSingleShot(true);
    connect(m_clickTimer, &QTimer::timeout, this, &OverlayView::firePendingClick);
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

void OverlayView::resizeEvent(QResizeEvent* event)
{
    QWidget::resizeEvent(event);
    emit resized();
}

QRect OverlayView::fittedRect() const
{
    if (m_image.isNull())
        return {};
    const QSize fitted = m_image.size().scaled(fitArea(), Qt::KeepAspectRatio);
    return {QPoint((width() - fitted.width()) / 2, (height() - fitted.height()) / 2), fitted};
}

QRect OverlayView::pictureRect() const
{
    const auto fitted = fittedRect();
    if (fitted.isNull() || m_image.width() == 0)
        return {};
    return {fitted.topLeft(), QSize(int(double(fitted.width()) * m_pictureWidth / m_image.width()), fitted.height())};
}

QRect OverlayView::barRect() const
{
    const auto fitted = fittedRect();
    const auto picture = pictureRect();
    return {QPoint(picture.right() + 1, fitted.top()), QPoint(fitted.right(), fitted.bottom())};
}

QRectF OverlayView::zoomedPictureRect() const
{
    // The picture point m_centre sits at the centre of the picture's place at zoom 1.
    const QRectF base = pictureRect();
    const QSizeF zoomed = base.size() * m_zoom;
    return {base.center() - QPointF(m_centre.x() * zoomed.width(), m_centre.y() * zoomed.height()), zoomed};
}

void OverlayView::setViewport(double zoom, QPointF centre)
{
    m_zoom = std::clamp(zoom, 1.0, 32.0);
    // At zoom z the visible part is 1/z of the picture: keep the centre inside it.
    const double half = 0.5 / m_zoom;
    m_centre = {std::clamp(centre.x(), half, 1.0 - half), std::clamp(centre.y(), half, 1.0 - half)};
    update();
}

void OverlayView::wheelEvent(QWheelEvent* event)
{
    const QRectF target = zoomedPictureRect();
    if (target.isEmpty())
        return;
    // Zoom around the pointer: the picture point under it stays under it (the picture's
    // middle when the pointer is over the colour bar).
    const QPointF pos = pictureRect().contains(event->position().toPoint()) ? event->position()
                                                                            : QPointF(pictureRect().center());
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
    m_clickTimer->stop();  // the first click of the two is not a click
    m_doubleClicked = true;
    setViewport(1.0, {0.5, 0.5});
    emit viewportChanged(m_zoom, m_centre);
}

void OverlayView::mouseReleaseEvent(QMouseEvent* event)
{
    QPointF unit;
    // A press and release without a drag is a click (a query), unless it ends a double
    // click or a second one follows within the interval; a drag pans.
    const bool ended = std::exchange(m_doubleClicked, false);
    if (event->button() != Qt::LeftButton || m_dragged || ended || !toUnit(event->position(), unit))
        return;
    m_pendingClick = unit;
    m_clickTimer->start(QGuiApplication::styleHints()->mouseDoubleClickInterval());
}

void OverlayView::firePendingClick()
{
    emit clicked(m_pendingClick);
}

bool OverlayView::toUnit(const QPointF& widgetPos, QPointF& unit) const
{
    const QRectF target = zoomedPictureRect();
    if (target.isEmpty() || m_pictureWidth <= 0 || !QRectF(pictureRect()).contains(widgetPos))
        return false;
    const double x = (widgetPos.x() - target.left()) / target.width();
    const double y = (widgetPos.y() - target.top()) / target.height();
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
    const QRect bar = barRect();
    if (bar.width() > 0)
        painter.drawImage(bar, m_image, QRect(m_pictureWidth, 0, m_image.width() - m_pictureWidth, m_image.height()));
    painter.setClipRect(pictureRect());
    painter.drawImage(zoomedPictureRect(), m_image, QRectF(0, 0, m_pictureWidth, m_image.height()));
}

void OverlayView::mouseMoveEvent(QMouseEvent* event)
{
    if ((event->buttons() & Qt::LeftButton) && m_zoom > 1.0) {
        const QPointF delta = event->position() - m_dragStart;
        if (m_dragged || delta.manhattanLength() > 4) {
            const QRectF target = zoomedPictureRect();
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
