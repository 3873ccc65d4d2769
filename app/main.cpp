// attnviz: the desktop application.
//   attnviz [IMAGE] [--vit MODEL] [--cnn MODEL] [--device D] [--screenshot FILE.png]
#include "ui/mainwindow.h"

#include "core/engine/device.h"

#include <QApplication>
#include <QCommandLineParser>

#include <memory>

int main(int argc, char** argv)
{
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("attnviz"));
    QApplication::setOrganizationName(QStringLiteral("attnviz"));
    qRegisterMetaType<std::shared_ptr<const attnviz::ui::Analysis>>();
    attnviz::engine::configureThreads();

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("See what a ViT and a CNN look at."));
    parser.addHelpOption();
    parser.addPositionalArgument(QStringLiteral("image"), QStringLiteral("Image to analyse (default: a shipped sample)."));
    const QCommandLineOption vit(QStringLiteral("vit"), QStringLiteral("ViT model file or folder."), QStringLiteral("MODEL"));
    const QCommandLineOption cnn(QStringLiteral("cnn"), QStringLiteral("CNN model file or folder."), QStringLiteral("MODEL"));
    const QCommandLineOption device(QStringLiteral("device"), QStringLiteral("cpu or cuda[:N]."), QStringLiteral("D"), QStringLiteral("cpu"));
    const QCommandLineOption screenshot(QStringLiteral("screenshot"),
                                        QStringLiteral("Save the window as PNG once the analysis is shown, then exit."),
                                        QStringLiteral("FILE"));
    const QCommandLineOption plot(QStringLiteral("plot"), QStringLiteral("Plot shown first: distance, fields or predictions."),
                                  QStringLiteral("NAME"));
    parser.addOptions({vit, cnn, device, screenshot, plot});
    parser.process(app);

    attnviz::ui::StartOptions options;
    if (!parser.positionalArguments().isEmpty())
        options.image = parser.positionalArguments().constFirst();
    options.vit = parser.value(vit);
    options.cnn = parser.value(cnn);
    options.device = parser.value(device);
    options.screenshot = parser.value(screenshot);
    options.plot = parser.value(plot);
    attnviz::ui::MainWindow window(options);
    window.show();
    return QApplication::exec();
}
