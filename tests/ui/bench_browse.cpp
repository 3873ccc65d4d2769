// Benchmark (not a test): time from a layer/head key press to the repainted overlay,
// with a ViT-B/16 (the torchvision-architecture fixture of the reference tests); then
// from a click on a patch (the query patch's attention) to the repainted overlay; then
// the time of a rendering change (alpha) on a Grad-CAM view, which must run no model.
// Resident memory is read before and after the presses and clicks: browsing must not
// grow it.
// Usage: bench_browse VIT_MODEL [KEY_PRESSES]   prints the median and the quartiles in ms.
#include "ui/mainwindow.h"
#include "ui/pane/modelpane.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QSignalSpy>
#include <QSlider>
#include <QStandardPaths>
#include <QTest>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace {

// A line of /proc/self/status in MB ("VmRSS", "VmHWM"), or -1.
double statusMb(const std::string& key)
{
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind(key + ":", 0) == 0)
            return std::stod(line.substr(key.size() + 1)) / 1024.0;  // kB
    return -1;
}

void printTimes(const char* what, std::vector<double> ms)
{
    std::sort(ms.begin(), ms.end());
    std::printf("%s: median %.2f ms, quartiles %.2f / %.2f ms, max %.2f ms\n", what, ms[ms.size() / 2],
                ms[ms.size() / 4], ms[3 * ms.size() / 4], ms.back());
}

// The time of each of `count` actions, from the action to the end of the pane's repaint.
std::vector<double> timedRepaints(attnviz::ui::ModelPane* pane, int count, const std::function<void(int)>& action)
{
    std::vector<double> ms;
    for (int i = 0; i < count; ++i) {
        QElapsedTimer timer;
        timer.start();
        action(i);
        pane->repaint();  // the overlay is painted before the clock stops
        ms.push_back(double(timer.nsecsElapsed()) / 1e6);
    }
    return ms;
}

// Up/Down through the blocks and Left/Right through the heads, as a user browses;
// starting at the last block and head "mean", every press changes the view.
bool browseKeys(attnviz::ui::ModelPane* pane, int presses)
{
    const Qt::Key keys[] = {Qt::Key_Up, Qt::Key_Right, Qt::Key_Down, Qt::Key_Left};
    QSignalSpy renders(pane, &attnviz::ui::ModelPane::rendered);
    const auto ms = timedRepaints(pane, presses, [&](int i) { QTest::keyClick(pane, keys[i % 4]); });
    if (renders.count() != presses) {
        std::fprintf(stderr, "%d presses re-rendered %d times: the measurement would not be of a repaint\n", presses,
                     int(renders.count()));
        return false;
    }
    printTimes((std::to_string(presses) + " key presses, each re-rendering the "
                + attnviz::engine::viewMethodName(pane->method()) + " overlay")
                   .c_str(),
               ms);
    return true;
}

// Clicks on patches across the picture: each shows that patch's attention row.
bool clickPatches(attnviz::ui::ModelPane* pane, int clicks)
{
    QSignalSpy renders(pane, &attnviz::ui::ModelPane::rendered);
    const auto ms = timedRepaints(pane, clicks, [&](int i) {
        const double at = 0.05 + 0.9 * double((i * 37) % 97) / 97.0;  // hops of about a third of the image
        pane->queryAt(QPointF(at, 1.0 - at));
    });
    if (renders.count() < clicks / 2) {
        std::fprintf(stderr, "%d clicks re-rendered %d times\n", clicks, int(renders.count()));
        return false;
    }
    printTimes((std::to_string(clicks) + " clicks on a patch (" + std::to_string(renders.count())
                + " re-renders of its attention row)")
                   .c_str(),
               ms);
    pane->clearQuery();
    return true;
}

// A rendering change on a view that needed the model (Grad-CAM of the last block): the
// alpha slider dragged across, each step redrawn from the kept view, no job.
bool dragAlphaOnGradCam(attnviz::ui::MainWindow& window, attnviz::ui::ModelPane* pane, int steps)
{
    pane->setMethod(attnviz::engine::ViewMethod::GradCam);
    if (!QTest::qWaitFor([&] { return !pane->waitingForGradients() && !window.controller().busy(); }, 120000)) {
        std::fprintf(stderr, "Grad-CAM did not finish\n");
        return false;
    }
    auto* alpha = pane->findChild<QSlider*>();
    QSignalSpy jobs(pane, &attnviz::ui::ModelPane::gradientViewRequested);
    QSignalSpy renders(pane, &attnviz::ui::ModelPane::rendered);
    const auto ms = timedRepaints(pane, steps, [&](int i) { alpha->setValue(i % 101); });
    if (jobs.count() != 0) {
        std::fprintf(stderr, "alpha changes sent %d jobs to the worker\n", int(jobs.count()));
        return false;
    }
    printTimes((std::to_string(steps) + " alpha changes on the Grad-CAM view (" + std::to_string(renders.count())
                + " redraws, " + std::to_string(jobs.count()) + " jobs)")
                   .c_str(),
               ms);
    return true;
}

}  // namespace

int main(int argc, char** argv)
{
    QApplication app(argc, argv);
    if (argc < 2) {
        std::fprintf(stderr, "usage: bench_browse VIT_MODEL [KEY_PRESSES]\n");
        return 2;
    }
    QStandardPaths::setTestModeEnabled(true);
    attnviz::ui::StartOptions options;
    options.vit = QString::fromLocal8Bit(argv[1]);
    attnviz::ui::MainWindow window(options);
    QSignalSpy shown(&window, &attnviz::ui::MainWindow::analysisShown);
    window.show();
    if (!shown.wait(120000)) {
        std::fprintf(stderr, "the analysis did not finish: %s\n", qPrintable(window.errorText()));
        return 1;
    }
    auto* pane = window.pane(attnviz::ui::Side::ViT);
    pane->setFocus();
    const int presses = argc > 2 ? std::atoi(argv[2]) : 200;
    const double rssBefore = statusMb("VmRSS");
    if (!browseKeys(pane, presses) || !clickPatches(pane, presses))
        return 1;
    std::printf("resident memory: %.1f MB before browsing, %.1f MB after; peak %.1f MB\n", rssBefore, statusMb("VmRSS"),
                statusMb("VmHWM"));
    return dragAlphaOnGradCam(window, pane, presses) ? 0 : 1;
}
