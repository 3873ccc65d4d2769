// The job slot: start() supersedes, cancel() makes the current job stale, deliver() runs
// only for the current ticket, and the stale predicate stops the engine through a
// CancellationScope. Tickets come from one counter shared by the slots of one owner.
#include "core/engine/cancellation.h"
#include "core/engine/jobslot.h"

#include <QtTest>

#include <thread>

using namespace attnviz;

class TestJobSlot : public QObject {
    Q_OBJECT

private slots:
    void startSupersedesTheJobBefore()
    {
        engine::JobTickets tickets;
        engine::JobSlot slot(tickets);
        const auto first = slot.start();
        QVERIFY(!slot.isStale(first));
        const auto second = slot.start();
        QVERIFY(second != first);
        QVERIFY(slot.isStale(first));
        QVERIFY(!slot.isStale(second));
    }

    void cancelMakesTheCurrentJobStale()
    {
        engine::JobTickets tickets;
        engine::JobSlot slot(tickets);
        const auto job = slot.start();
        slot.cancel();
        QVERIFY(slot.isStale(job));
        const auto next = slot.start();  // a new job after cancel() runs again
        QVERIFY(!slot.isStale(next));
        QVERIFY(slot.isStale(job));
    }

    // Before any start() no ticket that was handed out is current.
    void noJobYetMeansNoTicketIsCurrent()
    {
        engine::JobTickets tickets;
        engine::JobSlot slot(tickets), other(tickets);
        const auto elsewhere = other.start();
        QVERIFY(slot.isStale(elsewhere));
    }

    // Slots of one owner draw from one counter: tickets never repeat across kinds, and
    // starting or cancelling one slot leaves the others' jobs current.
    void slotsShareTicketsButNotStaleness()
    {
        engine::JobTickets tickets;
        engine::JobSlot views(tickets), studies(tickets);
        const auto view = views.start();
        const auto study = studies.start();
        QVERIFY(view != study);
        views.cancel();
        QVERIFY(views.isStale(view));
        QVERIFY(!studies.isStale(study));
        const auto next = views.start();
        QVERIFY(next != study && next != view);
        QVERIFY(!studies.isStale(study));
    }

    void deliverRunsOnlyForTheCurrentTicket()
    {
        engine::JobTickets tickets;
        engine::JobSlot slot(tickets);
        int delivered = 0;
        const auto first = slot.start();
        slot.deliver(first, [&] { ++delivered; });
        QCOMPARE(delivered, 1);
        const auto second = slot.start();
        slot.deliver(first, [&] { ++delivered; });  // superseded: dropped
        QCOMPARE(delivered, 1);
        slot.cancel();
        slot.deliver(second, [&] { ++delivered; });  // cancelled: dropped
        QCOMPARE(delivered, 1);
    }

    // The worker's predicate follows the slot: a scope built on it stops the engine once
    // a newer job starts, and not before.
    void stalePredicateStopsTheEngine()
    {
        engine::JobTickets tickets;
        engine::JobSlot slot(tickets);
        const auto job = slot.start();
        engine::CancellationScope scope(slot.stalePredicate(job));
        engine::throwIfCancelled();  // current: nothing thrown
        slot.start();
        QVERIFY_THROWS_EXCEPTION(engine::Cancelled, engine::throwIfCancelled());
    }

    // A worker thread sees a start() made on another thread.
    void aWorkerSeesTheNewerJob()
    {
        engine::JobTickets tickets;
        engine::JobSlot slot(tickets);
        const auto job = slot.start();
        const auto stale = slot.stalePredicate(job);
        std::thread worker([&] {
            while (!stale())
                std::this_thread::yield();
        });
        slot.start();
        worker.join();  // hangs (the test times out) if the worker never sees it
        QVERIFY(stale());
    }
};

QTEST_APPLESS_MAIN(TestJobSlot)
#include "tst_jobslot.moc"
