#pragma once

#include "core/engine/training/trainer.h"

#include <chrono>
#include <cstddef>
#include <ostream>

namespace attnviz::cli {

// Progress on stderr: one line rewritten in place on a terminal, a line per report
// otherwise (logs, CI, batch jobs).
class ProgressLine {
public:
    explicit ProgressLine(std::ostream& out);
    void show(const engine::TrainProgress& p);
    void epochDone(const engine::EpochSummary& e);
    // `done` of `total` images since this line was made, with images/s and the ETA; off a
    // terminal only every 50th image and the last are reported.
    void imagesDone(const char* task, std::size_t done, std::size_t total);

private:
    std::ostream& m_out;
    bool m_terminal;
    std::chrono::steady_clock::time_point m_start = std::chrono::steady_clock::now();
};

}  // namespace attnviz::cli
