// attnviz: the desktop application.
//   attnviz [IMAGE] [--vit MODEL] [--cnn MODEL] [--device D] [--images DIR] [--localize DIR] [--probe DATA]
//           [--click X,Y] [--plot NAME] [--screenshot FILE.png]
#include "ui/mainwindow.h"
#include "ui/plotspanel.h"

#include "core/engine/model/device.h"

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
    parser.addPositionalArgument(QStringLiteral("image"),
                                 QStringLiteral("Image to analyse (default: a shipped sample)."),
                                 QStringLiteral("[image]"));
    const QCommandLineOption vit(QStringLiteral("vit"), QStringLiteral("ViT model file or folder."),
                                 QStringLiteral("MODEL"));
    const QCommandLineOption cnn(QStringLiteral("cnn"), QStringLiteral("CNN model file or folder."),
                                 QStringLiteral("MODEL"));
    const QCommandLineOption device(QStringLiteral("device"),
                                    QStringLiteral("cpu or cuda[:N] (default: the last one used)."),
                                    QStringLiteral("D"));
    const QCommandLineOption screenshot(QStringLiteral("screenshot"),
                                        QStringLiteral("Save the window as PNG once the analysis is shown, then exit."),
                                        QStringLiteral("FILE"));
    const QCommandLineOption plot(QStringLiteral("plot"),
                                  QStringLiteral("Plot shown first: distance, fields, predictions, cka, faithfulness, "
                                                 "skip, tokens, localization or probes."),
                                  QStringLiteral("NAME"));
    const QCommandLineOption images(QStringLiteral("images"),
                                    QStringLiteral("Compare the layers of both models (CKA) over the images in DIR."),
                                    QStringLiteral("DIR"));
    const QCommandLineOption localize(QStringLiteral("localize"),
                                      QStringLiteral(
                                          "Measure both models' spatial localisation over the images in DIR."),
                                      QStringLiteral("DIR"));
    const QCommandLineOption probe(QStringLiteral("probe"),
                                   QStringLiteral("Probe every layer of both models on a labelled set: IDX files or an "
                                                  "ImageFolder tree (one subfolder per class)."),
                                   QStringLiteral("DATA"));
    const QCommandLineOption click(QStringLiteral("click"),
                                   QStringLiteral(
                                       "Click the image at X,Y (fractions of its width and height, in [0, 1)) "
                                       "once it is analysed: where that patch attends, that unit's fields."),
                                   QStringLiteral("X,Y"));
    parser.addOptions({vit, cnn, device, screenshot, plot, images, localize, probe, click});
    // Command-line mistakes: one line on stderr and exit code 2, as attnviz-cli does.
    const auto usageError = [](const QString& message) {
        qCritical("attnviz: %s (try --help)", qPrintable(message));
        return 2;
    };
    if (!parser.parse(QCoreApplication::arguments()))
        return usageError(parser.errorText());
    if (parser.isSet(QStringLiteral("help")))
        parser.showHelp(0);
    if (parser.positionalArguments().size() > 1)
        return usageError(QStringLiteral("one image at a time; got %1").arg(parser.positionalArguments().size()));
    if (parser.isSet(device) && !attnviz::engine::canonicalDeviceName(parser.value(device).toStdString()))
        return usageError(QStringLiteral("unknown device '%1': cpu or cuda[:N]").arg(parser.value(device)));
    const auto plots = attnviz::ui::PlotsPanel::plotNames();
    if (parser.isSet(plot) && !plots.contains(parser.value(plot)))
        return usageError(
            QStringLiteral("unknown plot '%1': %2").arg(parser.value(plot), plots.join(QStringLiteral(", "))));

    attnviz::ui::StartOptions options;
    if (!parser.positionalArguments().isEmpty())
        options.image = parser.positionalArguments().constFirst();
    options.vit = parser.value(vit);
    options.cnn = parser.value(cnn);
    options.device = parser.value(device);
    options.screenshot = parser.value(screenshot);
    options.plot = parser.value(plot);
    options.images = parser.value(images);
    options.localize = parser.value(localize);
    options.probeData = parser.value(probe);
    if (parser.isSet(click)) {
        const auto parts = parser.value(click).split(QLatin1Char(','));
        bool okX = false, okY = false;
        const double x = parts.size() == 2 ? parts[0].toDouble(&okX) : 0,
                     y = parts.size() == 2 ? parts[1].toDouble(&okY) : 0;
        if (!okX || !okY || x < 0 || x >= 1 || y < 0 || y >= 1)
            return usageError(QStringLiteral("--click wants X,Y as fractions in [0, 1), e.g. 0.5,0.25; got '%1'")
                                  .arg(parser.value(click)));
        options.click = QPointF(x, y);
    }
    attnviz::ui::MainWindow window(options);
    window.show();
    return QApplication::exec();
}
