#pragma once

#include "core/engine/cancellation.h"

namespace attnviz::cli {

// While alive, Ctrl-C (SIGINT) asks the engine's work to stop between blocks and
// minibatches: the command then ends with one line ("cancelled") and writes nothing,
// instead of dying mid-write. The default handler is back once it is gone.
class InterruptScope {
public:
    InterruptScope();
    ~InterruptScope();
    InterruptScope(const InterruptScope&) = delete;
    InterruptScope& operator=(const InterruptScope&) = delete;

private:
    engine::CancellationScope m_scope;
};

}  // namespace attnviz::cli
