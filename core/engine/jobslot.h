#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <utility>

namespace attnviz::engine {

// Numbers the jobs of every slot of one owner from one counter, so a ticket names one job
// among all kinds (the window matches failed(job) and viewFinished(job) against them).
class JobTickets {
public:
    std::uint64_t take() { return m_next++; }

private:
    std::atomic<std::uint64_t> m_next{1};
};

// One kind of work of which only the newest job counts (an analysis, a pane's view, a
// study over a folder). start() gives the new job its ticket and so makes the one before
// stale (superseded); cancel() makes the current one stale. A stale job stops at its next
// check (its predicate feeds a CancellationScope) and its result is dropped: deliver()
// runs a continuation only for the current ticket. Starting and cancelling happen on one
// thread (the window's); workers only ask.
class JobSlot {
public:
    explicit JobSlot(JobTickets& tickets);
    JobSlot(const JobSlot&) = delete;
    JobSlot& operator=(const JobSlot&) = delete;

    std::uint64_t start();
    void cancel();
    bool isStale(std::uint64_t ticket) const { return ticket != m_current.load(); }
    // The worker's question for a CancellationScope; the slot must outlive the job.
    std::function<bool()> stalePredicate(std::uint64_t ticket) const;
    // Runs `continuation` if `ticket` is still the current job, else drops it. Called on
    // the thread that starts and cancels, so no start() can slip in between.
    template <typename Continuation>
    void deliver(std::uint64_t ticket, Continuation&& continuation) const
    {
        if (!isStale(ticket))
            std::forward<Continuation>(continuation)();
    }

private:
    JobTickets& m_tickets;
    std::atomic<std::uint64_t> m_current{0};  // 0: no job yet; tickets start at 1
};

}  // namespace attnviz::engine
