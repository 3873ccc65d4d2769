#include "ui/appsettings.h"

#include <QSettings>

namespace attnviz::ui::settings {
namespace {

constexpr int kRecent = 8;  // images, and models of each side

QString modelKey(Side side)
{
    return QStringLiteral("models/") + sideKey(side);
}

}  // namespace

QString modelPath(Side side, const QString& fallback)
{
    return QSettings().value(modelKey(side), fallback).toString();
}

void setModelPath(Side side, const QString& path)
{
    QSettings().setValue(modelKey(side), path);
}

QStringList recentImages()
{
    return QSettings().value(QStringLiteral("recentImages")).toStringList();
}

namespace {

// The last kRecent paths under `key`, the most recent first.
void addRecent(const QString& key, const QString& path)
{
    auto recent = QSettings().value(key).toStringList();
    recent.removeAll(path);
    recent.prepend(path);
    QSettings().setValue(key, recent.mid(0, kRecent));
}

QString recentModelsKey(Side side)
{
    return sideKey(side) + QStringLiteral("/recentModels");
}

}  // namespace

void addRecentImage(const QString& path)
{
    addRecent(QStringLiteral("recentImages"), path);
}

QStringList recentModels(Side side)
{
    return QSettings().value(recentModelsKey(side)).toStringList();
}

void addRecentModel(Side side, const QString& path)
{
    addRecent(recentModelsKey(side), path);
}

QString device()
{
    return QSettings().value(QStringLiteral("device"), QStringLiteral("cpu")).toString();
}

void setDevice(const QString& device)
{
    QSettings().setValue(QStringLiteral("device"), device);
}

QSize windowSize(QSize fallback)
{
    return QSettings().value(QStringLiteral("window/size"), fallback).toSize();
}

QByteArray windowState()
{
    return QSettings().value(QStringLiteral("window/state")).toByteArray();
}

void setWindow(QSize size, const QByteArray& state)
{
    QSettings s;
    s.setValue(QStringLiteral("window/size"), size);
    s.setValue(QStringLiteral("window/state"), state);
}

PaneRendering paneRendering(Side side)
{
    QSettings s;
    s.beginGroup(sideKey(side));
    PaneRendering r;
    r.colormap = s.value(QStringLiteral("colormap"), r.colormap).toString();
    r.alpha = s.value(QStringLiteral("alpha"), r.alpha).toInt();
    r.normalization = s.value(QStringLiteral("normalization"), r.normalization).toInt();
    r.upsampling = s.value(QStringLiteral("upsampling"), r.upsampling).toInt();
    r.wholeImage = s.value(QStringLiteral("wholeImage"), r.wholeImage).toBool();
    return r;
}

void setPaneRendering(Side side, const PaneRendering& r)
{
    QSettings s;
    s.beginGroup(sideKey(side));
    s.setValue(QStringLiteral("colormap"), r.colormap);
    s.setValue(QStringLiteral("alpha"), r.alpha);
    s.setValue(QStringLiteral("normalization"), r.normalization);
    s.setValue(QStringLiteral("upsampling"), r.upsampling);
    s.setValue(QStringLiteral("wholeImage"), r.wholeImage);
}

}  // namespace attnviz::ui::settings
