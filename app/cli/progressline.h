#pragma once

#include "core/engine/trainer.h"

#include <ostream>

namespace attnviz::cli {

// Training progress on stderr: one line rewritten in place on a terminal, a line per
// report otherwise (logs, CI).
class ProgressLine {
public:
    explicit ProgressLine(std::ostream& out);
    void show(const engine::TrainProgress& p);
    void epochDone(const engine::EpochSummary& e);

private:
    std::ostream& m_out;
    bool m_terminal;
};

}  // namespace attnviz::cli
