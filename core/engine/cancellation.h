#pragma once

#include "core/engine/engineerror.h"

#include <torch/torch.h>

#include <functional>

namespace attnviz::engine {

// Thrown where engine work stops because its caller no longer wants it.
class Cancelled : public EngineError {
public:
    Cancelled()
        : EngineError("cancelled")
    {
    }
};

// Long engine work (a forward, a backward, effective fields, CKA) is stopped from another
// thread (the window's Cancel, a newer request) through a predicate: a scope makes it the
// current thread's, and the engine asks it between blocks. Without a scope nothing is
// checked (the CLI). Scopes nest; the innermost counts.
class CancellationScope {
public:
    explicit CancellationScope(std::function<bool()> stopRequested);
    ~CancellationScope();
    CancellationScope(const CancellationScope&) = delete;
    CancellationScope& operator=(const CancellationScope&) = delete;

private:
    std::function<bool()> m_stopRequested;
    const std::function<bool()>* m_outer;
};

// Between blocks, layers and batches: throws Cancelled when the current scope says stop.
void throwIfCancelled();
// Whether the current scope says stop (false without one), for work that ends by
// returning rather than throwing (training keeps its complete epochs and returns false).
bool cancellationRequested();

// A block's output `t` [N, ...]: when the backward pass reaches it, the current scope is
// asked again (a backward of ViT-B/16 takes seconds on a CPU). Nothing when `t` needs no
// gradient or no scope is active.
void checkCancelledInBackward(const torch::Tensor& t);

}  // namespace attnviz::engine
