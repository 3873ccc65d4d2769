#include "app/cli/progressline.h"

#include <unistd.h>

#include <cstdio>
#include <iomanip>

namespace attnviz::cli {
namespace {

std::string duration(double seconds)
{
    const long s = long(seconds + 0.5);
    char text[32];
    std::snprintf(text, sizeof text, "%ldh%02ldm%02lds", s / 3600, (s / 60) % 60, s % 60);
    return text;
}

}  // namespace

ProgressLine::ProgressLine(std::ostream& out)
    : m_out(out)
    , m_terminal(isatty(STDERR_FILENO) != 0)
{
}

void ProgressLine::show(const engine::TrainProgress& p)
{
    m_out << (m_terminal ? "\r" : "") << "epoch " << p.epoch << "/" << p.epochs << "  batch " << p.batch << "/"
          << p.batches << "  loss " << std::fixed << std::setprecision(4) << p.loss << "  " << std::setprecision(0)
          << p.imagesPerSecond << " img/s  ETA " << duration(p.etaSeconds) << (m_terminal ? "   " : "\n") << std::flush;
}

void ProgressLine::epochDone(const engine::EpochSummary& e)
{
    m_out << (m_terminal ? "\n" : "") << "epoch " << e.epoch << " done in " << duration(e.seconds) << ": loss "
          << std::setprecision(4) << e.loss << ", train accuracy " << e.trainAccuracy << "; checkpoint saved\n"
          << std::flush;
}

void ProgressLine::imagesDone(const char* task, std::size_t done, std::size_t total)
{
    if (!m_terminal && done % 50 != 0 && done != total)
        return;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - m_start).count();
    const double rate = seconds > 0 ? double(done) / seconds : 0.0;
    m_out << (m_terminal ? "\r" : "") << task << ": " << done << "/" << total << " images  " << std::fixed
          << std::setprecision(1) << rate << " img/s  ETA " << duration(rate > 0 ? double(total - done) / rate : 0.0)
          << (m_terminal && done < total ? "   " : "\n") << std::flush;
}

}  // namespace attnviz::cli
