#include "ui/mainwindow.h"

#include <QLabel>

namespace attnviz::ui {

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent)
{
    setWindowTitle(tr("attnviz"));
    auto* label = new QLabel(tr("attnviz: ViT attention and CNN receptive fields side by side.\n"
                                "The interactive panes are not built yet; use attnviz-cli analyze."),
                             this);
    label->setAlignment(Qt::AlignCenter);
    setCentralWidget(label);
    resize(720, 360);
}

}  // namespace attnviz::ui
