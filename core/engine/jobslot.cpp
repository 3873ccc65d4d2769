#include "core/engine/jobslot.h"

namespace attnviz::engine {

JobSlot::JobSlot(JobTickets& tickets)
    : m_tickets(tickets)
{
}

std::uint64_t JobSlot::start()
{
    const auto ticket = m_tickets.take();
    m_current = ticket;
    return ticket;
}

void JobSlot::cancel()
{
    // A ticket no job holds: every job started so far is stale.
    m_current = m_tickets.take();
}

std::function<bool()> JobSlot::stalePredicate(std::uint64_t ticket) const
{
    return [this, ticket] { return isStale(ticket); };
}

}  // namespace attnviz::engine
