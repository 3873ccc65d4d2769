#pragma once

#include <QImage>
#include <QPointF>
#include <QRect>
#include <QWidget>

class QTimer;

namespace attnviz::ui {

// Shows one rendered overlay, scaled to fit with its aspect ratio kept and without
// smoothing (patches stay crisp). The wheel zooms the picture around the pointer,
// dragging pans, a double click resets; the colour bar beside the picture stays as it
// is, so its values stay readable. The viewport is reported so two views can move
// together. Reports the pointer in coordinates of the picture part of the image (0..1
// across the model input), for hover readouts and queries. A click is reported once the
// double-click interval has passed without a second one: a double click is no click.
class OverlayView : public QWidget {
    Q_OBJECT
public:
    explicit OverlayView(QWidget* parent = nullptr);

    // image: the rendered overlay; pictureWidth: how many of its columns are the picture
    // (the rest is the colour bar).
    void setImage(const QImage& image, int pictureWidth);
    const QImage& image() const { return m_image; }
    // zoom >= 1 relative to the fitted size; centre in unit coordinates of the picture.
    void setViewport(double zoom, QPointF centre);
    double zoom() const { return m_zoom; }
    QSize sizeHint() const override { return {320, 280}; }
    // The fitted image never exceeds `limit` (the window gives both panes' views the
    // smaller one's size, so the two overlays are drawn the same size); none by default.
    void setFitLimit(QSize limit);
    // The size the image is fitted into at zoom 1: the widget's, within the fit limit.
    QSize fitArea() const;
    // The rectangle the picture (without the colour bar) takes in the widget at zoom 1:
    // where it is drawn, clipped, when zoomed.
    QRect pictureRect() const;
    // The colour bar's rectangle in the widget; it never zooms.
    QRect barRect() const;

signals:
    void hovered(QPointF unit);  // x, y in [0, 1) over the picture
    void clicked(QPointF unit);
    void viewportChanged(double zoom, QPointF centre);
    void resized();

protected:
    void paintEvent(QPaintEvent* event) override;
    void mouseMoveEvent(QMouseEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;
    void mouseReleaseEvent(QMouseEvent* event) override;
    void mouseDoubleClickEvent(QMouseEvent* event) override;
    void wheelEvent(QWheelEvent* event) override;
    void resizeEvent(QResizeEvent* event) override;

private:
    QRect fittedRect() const;  // the whole image (picture and bar) at zoom 1
    QRectF zoomedPictureRect() const;
    bool toUnit(const QPointF& widgetPos, QPointF& unit) const;
    void firePendingClick();

    QImage m_image;
    int m_pictureWidth = 0;
    QSize m_fitLimit;  // invalid: none
    double m_zoom = 1.0;
    QPointF m_centre{0.5, 0.5};
    QPointF m_dragStart;
    bool m_dragged = false;
    QTimer* m_clickTimer = nullptr;  // a click waits for the double-click interval
    QPointF m_pendingClick;
    bool m_doubleClicked = false;  // the release that ends a double click is no click
};

}  // namespace attnviz::ui
