#pragma once

#include <QImage>
#include <QPointF>
#include <QRect>
#include <QWidget>

namespace attnviz::ui {

// Shows one rendered overlay, scaled to fit with its aspect ratio kept and without
// smoothing (patches stay crisp). Reports the pointer in coordinates of the picture
// part of the image (0..1 across the model input), for hover readouts and queries.
class OverlayView : public QWidget {
    Q_OBJECT
public:
    explicit OverlayView(QWidget* parent = nullptr);

    // image: the rendered overlay; pictureWidth: how many of its columns are the picture
    // (the rest is the colour bar).
    void setImage(const QImage& image, int pictureWidth);
    const QImage& image() const { return m_image; }
    QSize sizeHint() const override { return {320, 280}; }

signals:
    void hovered(QPointF unit);  // x, y in [0, 1) over the picture
    void clicked(QPointF unit);

protected:
    void paintEvent(QPaintEvent* event) override;
    void mouseMoveEvent(QMouseEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;

private:
    QRect targetRect() const;
    bool toUnit(const QPointF& widgetPos, QPointF& unit) const;

    QImage m_image;
    int m_pictureWidth = 0;
};

}  // namespace attnviz::ui
