#pragma once

#include "ui/side.h"

#include <QByteArray>
#include <QSize>
#include <QString>
#include <QStringList>

namespace attnviz::ui::settings {

// What the window remembers between runs (QSettings), every key spelled once, here.

QString modelPath(Side side, const QString& fallback);
void setModelPath(Side side, const QString& path);

QStringList recentImages();                // the most recent first
void addRecentImage(const QString& path);  // keeps the last 8
QStringList recentModels(Side side);       // the most recent first
void addRecentModel(Side side, const QString& path);

QString device();  // "cpu" when none was chosen
void setDevice(const QString& device);

QSize windowSize(QSize fallback);
QByteArray windowState();  // empty on the first start
void setWindow(QSize size, const QByteArray& state);

// A pane's rendering settings.
struct PaneRendering {
    QString colormap = QStringLiteral("viridis");
    int alpha = 50;           // percent
    int normalization = 0;    // index: per map, per layer
    int upsampling = 0;       // index: nearest, bilinear
    bool wholeImage = false;  // the whole image with the model's crop outlined
};
PaneRendering paneRendering(Side side);
void setPaneRendering(Side side, const PaneRendering& rendering);

}  // namespace attnviz::ui::settings
