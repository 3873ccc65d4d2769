#pragma once

#include "core/io/pngtext.h"

#include <QImage>

#include <opencv2/core.hpp>

class QWidget;

namespace attnviz::ui {

// A deep copy of an RGB CV_8UC3 picture as a QImage.
QImage toQImage(const cv::Mat& rgb);

// What `widget` shows, written as PNG with the given text chunks (atomically, as every
// export). Throws imaging::ImageError with a one-line reason.
void writeWidgetPng(QWidget& widget, const QString& path, const io::TextEntries& text);

}  // namespace attnviz::ui
