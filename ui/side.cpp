#include "ui/side.h"

#include <QCoreApplication>

namespace attnviz::ui {

QString sideKey(Side side)
{
    return QString::fromStdString(engine::familyName(side));
}

QString sideTitle(Side side)
{
    return side == Side::ViT ? QCoreApplication::translate("attnviz", "ViT")
                             : QCoreApplication::translate("attnviz", "CNN");
}

}  // namespace attnviz::ui
