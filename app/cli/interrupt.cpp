#include "app/cli/interrupt.h"

#include <csignal>

namespace attnviz::cli {
namespace {

volatile std::sig_atomic_t g_interrupted = 0;

extern "C" void onInterrupt(int)
{
    g_interrupted = 1;
}

}  // namespace

InterruptScope::InterruptScope()
    : m_scope([] { return g_interrupted != 0; })
{
    g_interrupted = 0;
    std::signal(SIGINT, onInterrupt);
}

InterruptScope::~InterruptScope()
{
    std::signal(SIGINT, SIG_DFL);
}

}  // namespace attnviz::cli
