#include "ui/mainwindow.h"

#include <QApplication>

int main(int argc, char** argv)
{
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("attnviz"));
    QApplication::setOrganizationName(QStringLiteral("attnviz"));
    attnviz::ui::MainWindow window;
    window.show();
    return QApplication::exec();
}
