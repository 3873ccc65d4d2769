#include "core/engine/cancellation.h"

namespace attnviz::engine {
namespace {

thread_local const std::function<bool()>* t_stopRequested = nullptr;

}  // namespace

CancellationScope::CancellationScope(std::function<bool()> stopRequested)
    : m_stopRequested(std::move(stopRequested))
    , m_outer(t_stopRequested)
{
    t_stopRequested = &m_stopRequested;
}

CancellationScope::~CancellationScope()
{
    t_stopRequested = m_outer;
}

bool cancellationRequested()
{
    return t_stopRequested && (*t_stopRequested)();
}

void throwIfCancelled()
{
    if (cancellationRequested())
        throw Cancelled();
}

void checkCancelledInBackward(const torch::Tensor& t)
{
    if (!t_stopRequested || !t.requires_grad())
        return;
    // The hook may run on an autograd thread (CUDA): it holds its own copy of the check.
    t.register_hook([stop = *t_stopRequested](const torch::Tensor&) {
        if (stop())
            throw Cancelled();
    });
}

}  // namespace attnviz::engine
