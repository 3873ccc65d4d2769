// Soak run (not a test; scripts/soak-window.sh runs it, docs/robustness.md has the
// curve): one window, the shipped models, every image of a folder opened in turn as a
// user would, with a layer and a head stepped on the ViT and Grad-CAM on the CNN (a
// gradient pass on the worker for each image). Prints the resident memory every EVERY
// images, which must stay flat: a leak of one trace or picture per image would show.
// Usage: soak_window IMAGE_DIR [EVERY]
#include "ui/analysiscontroller.h"
#include "ui/mainwindow.h"
#include "ui/pane/modelpane.h"

#include <QApplication>
#include <QDir>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTest>

#include <cstdio>
#include <fstream>

#include <unistd.h>

namespace {

double residentMegabytes()
{
    long pages = 0, resident = 0;
    std::ifstream("/proc/self/statm") >> pages >> resident;
    return double(resident) * double(sysconf(_SC_PAGESIZE)) / 1e6;
}

}  // namespace

int main(int argc, char** argv)
{
    QApplication app(argc, argv);
    if (argc < 2) {
        std::fprintf(stderr, "usage: soak_window IMAGE_DIR [EVERY]\n");
        return 2;
    }
    QStandardPaths::setTestModeEnabled(true);
    const QDir dir(QString::fromLocal8Bit(argv[1]));
    const int every = argc > 2 ? std::max(1, std::atoi(argv[2])) : 50;
    const auto files = dir.entryList(QDir::Files, QDir::Name);
    using attnviz::ui::Side;
    attnviz::ui::MainWindow window{attnviz::ui::StartOptions{}};
    QSignalSpy shown(&window, &attnviz::ui::MainWindow::analysisShown);
    QSignalSpy failed(&window.controller(), &attnviz::ui::AnalysisController::failed);
    window.show();
    if (!shown.wait(120000)) {
        std::fprintf(stderr, "the first analysis did not finish: %s\n", qPrintable(window.errorText()));
        return 1;
    }
    auto* vit = window.pane(Side::ViT);
    auto* cnn = window.pane(Side::CNN);
    cnn->setMethod(attnviz::engine::ViewMethod::GradCam);
    std::printf("images\tresident_MB\trefused\n0\t%.1f\t0\n", residentMegabytes());
    for (int i = 0; i < files.size(); ++i) {
        const int before = int(shown.count() + failed.count());
        window.openImage(dir.filePath(files[i]));
        if (!QTest::qWaitFor([&] { return shown.count() + failed.count() > before; }, 60000)) {
            std::fprintf(stderr, "image %d (%s) neither opened nor failed in 60 s\n", i, qPrintable(files[i]));
            return 1;
        }
        QTest::keyClick(vit, i % 2 ? Qt::Key_Up : Qt::Key_Down);
        QTest::keyClick(vit, i % 2 ? Qt::Key_Right : Qt::Key_Left);
        if (!QTest::qWaitFor([&] { return !cnn->waitingForGradients() && !window.controller().busy(); }, 60000)) {
            std::fprintf(stderr, "image %d: the worker did not finish in 60 s\n", i);
            return 1;
        }
        if ((i + 1) % every == 0 || i + 1 == files.size())
            std::printf("%d\t%.1f\t%d\n", i + 1, residentMegabytes(), int(failed.count()));
        std::fflush(stdout);
    }
    return 0;
}
