// attnviz: the desktop application.
//   attnviz [IMAGE] [--vit MODEL] [--cnn MODEL] [--device D] [--images DIR]
//           [--plot NAME] [--screenshot FILE.png]
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
    const QCommandLineOption device(QStringLiteral("device"), QStringLiteral("cpu or cuda[:N] (default: the last one used)."),
                                    QStringLiteral("D"));
    const QCommandLineOption screenshot(QStringLiteral("screenshot"),
                                        QStringLiteral("Save the window as PNG once the analysis is shown, then exit."),
                                        QStringLiteral("FILE"));
    const QCommandLineOption plot(QStringLiteral("plot"),
                                  QStringLiteral("Plot shown first: distance, fields, predictions or cka."),
                                  QStringLiteral("NAME"));
    const QCommandLineOption images(QStringLiteral("images"),
                                    QStringLiteral("Compare the layers of both models (CKA) over the images in DIR."),
                                    QStringLiteral("DIR"));
    parser.addOptions({vit, cnn, device, screenshot, plot, images});
    parser.process(app);

    attnviz::ui::StartOptions options;
    if (!parser.positionalArguments().isEmpty())
        options.image = parser.positionalArguments().constFirst();
    options.vit = parser.value(vit);
    options.cnn = parser.value(cnn);
    options.device = parser.value(device);
    options.screenshot = parser.value(screenshot);
    options.plot = parser.value(plot);
    options.images = parser.value(images);
    attnviz::ui::MainWindow window(options);
    window.show();
    return QApplication::exec();
}
