#include "ui/imageconvert.h"

#include "core/imaging/pngwriter.h"

#include <QWidget>

namespace attnviz::ui {

QImage toQImage(const cv::Mat& rgb)
{
    return QImage(rgb.data, rgb.cols, rgb.rows, int(rgb.step), QImage::Format_RGB888).copy();
}

void writeWidgetPng(QWidget& widget, const QString& path, const io::TextEntries& text)
{
    const QImage image = widget.grab().toImage().convertToFormat(QImage::Format_RGB888);
    // A view of the QImage's rows; writePng only reads it while `image` is alive.
    const cv::Mat rgb(image.height(), image.width(), CV_8UC3, const_cast<uchar*>(image.constBits()),
                      std::size_t(image.bytesPerLine()));
    imaging::writePng(path.toStdString(), rgb, text);
}

}  // namespace attnviz::ui
