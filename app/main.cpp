// attnviz: the desktop application.
//   attnviz [IMAGE] [--vit MODEL] [--cnn MODEL] [--device D] [--images DIR] [--localize DIR]
//           [--audit DIR] [--probe DATA] [--click X,Y] [--method NAME] [--prompt TEXT] [--plot NAME]
//           [--test-time-register]
//           [--screenshot FILE.png]
#include "ui/mainwindow.h"
#include "ui/plotspanel.h"

#include "core/engine/methods/methodtable.h"
#include "core/engine/model/device.h"

#include <QApplication>
#include <QCommandLineParser>

#include <cstdio>
#include <memory>
#include <optional>
#include <variant>

namespace {

using attnviz::ui::StartOptions;

struct WindowOptions {
    QCommandLineOption vit, cnn, device, screenshot, plot, images, localize, audit, probe, click, method, prompt,
        testTimeRegister;
};

WindowOptions declareOptions(QCommandLineParser& parser)
{
    parser.setApplicationDescription(QStringLiteral("See what a ViT and a CNN look at."));
    parser.addHelpOption();
    parser.addOption(QCommandLineOption(QStringLiteral("version"),
                                        QStringLiteral("Print the version, git commit, LibTorch version and whether "
                                                       "CUDA is usable, then exit.")));
    parser.addPositionalArgument(QStringLiteral("image"),
                                 QStringLiteral("Image to analyse (default: a shipped sample)."),
                                 QStringLiteral("[image]"));
    const auto option = [](const char* name, const char* description, const char* value) {
        return QCommandLineOption(QString::fromLatin1(name), QString::fromUtf8(description),
                                  QString::fromLatin1(value));
    };
    WindowOptions o{
        option("vit", "ViT model file or folder.", "MODEL"),
        option("cnn", "CNN model file or folder.", "MODEL"),
        option("device", "cpu or cuda[:N] (default: the last one used).", "D"),
        option("screenshot", "Save the window as PNG once the analysis is shown, then exit.", "FILE"),
        option("plot",
               "Plot shown first: distance, fields, predictions, cka, faithfulness, skip, tokens, localization, "
               "probes, trust or audit.",
               "NAME"),
        option("images", "Compare the layers of both models (CKA) over the images in DIR.", "DIR"),
        option("localize", "Measure both models' spatial localisation over the images in DIR.", "DIR"),
        option("audit",
               "Audit the methods of both models that run at most one pass of their own per image (Analysis > Audit "
               "methods offers every one) on DIR: a benchmark, or images with NAME.mask.png beside them (100 "
               "images spread over it).",
               "DIR"),
        option("probe",
               "Probe every layer of both models on a labelled set: IDX files or an ImageFolder tree (one "
               "subfolder per class).",
               "DATA"),
        option("click",
               "Click the image at X,Y (fractions of its width and height, in [0, 1)) once it is analysed: where "
               "that patch attends, that unit's fields.",
               "X,Y"),
        option("method",
               "Method shown first in each pane whose model it fits (attnviz-cli methods lists them), e.g. "
               "smoothgrad.",
               "NAME"),
        option("prompt",
               "Ask the ViT (a CLIP or SigLIP model, its tokenizer file beside the weights) about TEXT once the image "
               "is analysed: the prompt becomes a class and its map is shown.",
               "TEXT"),
        QCommandLineOption(QStringLiteral("test-time-register"),
                           QStringLiteral("Press the Tokens tab's Test-time register once the image is analysed: the "
                                          "ViT's register neurons found on it, and its tokens without and with the "
                                          "register.")),
    };
    parser.addOptions({o.vit, o.cnn, o.device, o.screenshot, o.plot, o.images, o.localize, o.audit, o.probe, o.click,
                       o.method, o.prompt, o.testTimeRegister});
    return o;
}

// Command-line mistakes: one line on stderr and exit code 2, as attnviz-cli does.
int usageError(const QString& message)
{
    qCritical("attnviz: %s (try --help)", qPrintable(message));
    return 2;
}

// "X,Y" as fractions in [0, 1), or none.
std::optional<QPointF> parseClick(const QString& text)
{
    const auto parts = text.split(QLatin1Char(','));
    bool okX = false, okY = false;
    const double x = parts.size() == 2 ? parts[0].toDouble(&okX) : 0,
                 y = parts.size() == 2 ? parts[1].toDouble(&okY) : 0;
    if (!okX || !okY || x < 0 || x >= 1 || y < 0 || y >= 1)
        return std::nullopt;
    return QPointF(x, y);
}

// The window's start options, or the exit code of a mistake (after --help: 0).
std::variant<StartOptions, int> readOptions(const QCommandLineParser& parser, const WindowOptions& o)
{
    if (parser.positionalArguments().size() > 1)
        return usageError(QStringLiteral("one image at a time; got %1").arg(parser.positionalArguments().size()));
    if (parser.isSet(o.device) && !attnviz::engine::canonicalDeviceName(parser.value(o.device).toStdString()))
        return usageError(QStringLiteral("unknown device '%1': cpu or cuda[:N]").arg(parser.value(o.device)));
    const auto plots = attnviz::ui::PlotsPanel::plotNames();
    if (parser.isSet(o.plot) && !plots.contains(parser.value(o.plot)))
        return usageError(
            QStringLiteral("unknown plot '%1': %2").arg(parser.value(o.plot), plots.join(QStringLiteral(", "))));
    StartOptions options;
    if (parser.isSet(o.method)) {
        try {
            options.method = attnviz::engine::viewMethodFromName(parser.value(o.method).toStdString());
        } catch (const std::exception& e) {
            return usageError(QString::fromStdString(e.what()));
        }
    }
    if (!parser.positionalArguments().isEmpty())
        options.image = parser.positionalArguments().constFirst();
    options.vit = parser.value(o.vit);
    options.cnn = parser.value(o.cnn);
    options.device = parser.value(o.device);
    options.screenshot = parser.value(o.screenshot);
    options.plot = parser.value(o.plot);
    options.images = parser.value(o.images);
    options.localize = parser.value(o.localize);
    options.audit = parser.value(o.audit);
    options.probeData = parser.value(o.probe);
    options.prompt = parser.value(o.prompt);
    options.testTimeRegister = parser.isSet(o.testTimeRegister);
    if (parser.isSet(o.click)) {
        options.click = parseClick(parser.value(o.click));
        if (!options.click)
            return usageError(QStringLiteral("--click wants X,Y as fractions in [0, 1), e.g. 0.5,0.25; got '%1'")
                                  .arg(parser.value(o.click)));
    }
    return options;
}

// The command line is read before the window's QApplication exists, so that --help and a
// mistake need no display (a QApplication without one aborts).
std::variant<StartOptions, int> readCommandLine(int argc, char** argv)
{
    QCoreApplication cli(argc, argv);
    QCommandLineParser parser;
    const auto declared = declareOptions(parser);
    if (!parser.parse(QCoreApplication::arguments()))
        return usageError(parser.errorText());
    if (parser.isSet(QStringLiteral("help")))
        parser.showHelp(0);
    if (parser.isSet(QStringLiteral("version"))) {
        std::fputs(attnviz::engine::versionReport("attnviz").c_str(), stdout);
        return 0;
    }
    return readOptions(parser, declared);
}

}  // namespace

int main(int argc, char** argv)
{
    const auto options = readCommandLine(argc, argv);
    if (const auto* exitCode = std::get_if<int>(&options))
        return *exitCode;
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("attnviz"));
    QApplication::setOrganizationName(QStringLiteral("attnviz"));
    qRegisterMetaType<std::shared_ptr<const attnviz::ui::Analysis>>();
    attnviz::engine::configureThreads();
    attnviz::ui::MainWindow window(std::get<StartOptions>(options));
    window.show();
    return QApplication::exec();
}
