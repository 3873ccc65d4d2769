#pragma once

#include <QImage>
#include <QPointF>
#include <QRect>
#include <QWidget>

namespace attnviz::ui {

// Shows one rendered overlay, scaled to fit with its aspect ratio kept and without
// smoothing (patches stay crisp). The wheel zooms around the pointer, dragging pans,
// a double click resets; the viewport is reported so two views can move together.
// Reports the pointer in coordinates of the picture part of the image (0..1 across
// the model input), for hover readouts and queries.
class OverlayView : public QWidget {
    Q_OBJECT
public:
    explicit OverlayView(QWidget* parent = nullptr);

    // image: the rendered overlay; pictureWidth: how many of its columns are the picture
    // (the rest is the colour bar).
    void setImage(const QImage& image, int pictureWidth);
    const QImage& image() const { return m_image; }
    // zoom >= 1 relative to the fitted size; centre in unit coordinates of the image.
    void setViewport(double zoom, QPointF centre);
    double zoom() const { return m_zoom; }
    QSize sizeHint() const override { return {320, 280}; }
    // The fitted image never exceeds `limit` (the window gives both panes' views the
    // smaller one's size, so the two overlays are drawn the same size); none by default.
    void setFitLimit(QSize limit);
    // The size the image is fitted into at zoom 1: the widget's, within the fit limit.
    QSize fitArea() const;
    // The rectangle the picture (without the colour bar) takes in the widget.
    QRect pictureRect() const;

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
    QRect targetRect() const;
    bool toUnit(const QPointF& widgetPos, QPointF& unit) const;

    QImage m_image;
    int m_pictureWidth = 0;
    QSize m_fitLimit;  // invalid: none
    double m_zoom = 1.0;
    QPointF m_centre{0.5, 0.5};
    QPointF m_dragStart;
    bool m_dragged = false;
};

}  // namespace attnviz::ui
