#include "ui/side.h"

#include <QCoreApplication>

namespace attnviz::ui {

QString sideKey(Side side)
{
    return side == Side::ViT ? QStringLiteral("vit") : QStringLiteral("cnn");
}

QString sideTitle(Side side)
{
    return side == Side::ViT ? QCoreApplication::translate("attnviz", "ViT")
                             : QCoreApplication::translate("attnviz", "CNN");
}

engine::Family sideFamily(Side side)
{
    return side == Side::ViT ? engine::Family::ViT : engine::Family::CNN;
}

}  // namespace attnviz::ui
