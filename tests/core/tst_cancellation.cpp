// Cancellation inside the engine: a scope's stop predicate is asked between blocks of a
// forward pass, as the backward pass reaches each block, and between the units and
// minibatches of the long loops; work stops at the first check after the stop is asked,
// with engine::Cancelled. Counted checks, not timings (the latency is a benchmark:
// docs/benchmarks.md).
#include "core/engine/cancellation.h"
#include "core/engine/methods/effectivefield.h"
#include "core/engine/model/classifier.h"
#include "core/engine/study/ckastudy.h"

#include <QtTest>

using namespace attnviz;

namespace {

const std::string kModels = ATTNVIZ_SOURCE_DIR "/models/";

// Says stop from the `stopAt`-th question on, and counts the questions.
struct CountingStop {
    int stopAt = 0;
    int asked = 0;
    std::function<bool()> predicate()
    {
        return [this] { return ++asked >= stopAt; };
    }
};

}  // namespace

class TestCancellation : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { torch::set_num_threads(1); }

    // Asked once per block (ViT: 6 blocks; CNN: its recorded blocks and stages); the
    // forward stops at the first question answered "stop" and asks no more.
    void forwardStopsBetweenBlocks_data()
    {
        QTest::addColumn<QString>("model");
        QTest::newRow("ViT") << QStringLiteral("vit-fmnist");
        QTest::newRow("CNN") << QStringLiteral("cnn-fmnist");
    }

    void forwardStopsBetweenBlocks()
    {
        QFETCH(QString, model);
        const auto m = engine::loadClassifier(kModels + model.toStdString());
        const auto input = torch::rand({1, 1, 28, 28});
        CountingStop never{1 << 30};
        {
            engine::CancellationScope scope(never.predicate());
            m->forward(input);
        }
        const int checks = never.asked;
        QVERIFY2(checks >= 4, qPrintable(QString::number(checks)));
        CountingStop stop{3};
        engine::CancellationScope scope(stop.predicate());
        QVERIFY_THROWS_EXCEPTION(engine::Cancelled, m->forward(input));
        QCOMPARE(stop.asked, 3);
    }

    // The backward pass asks as it reaches each block: a stop asked after the forward
    // ends the backward with Cancelled at the first block it reaches.
    void backwardStopsAtTheFirstBlockItReaches()
    {
        const auto vit = engine::loadClassifier(kModels + "vit-fmnist");
        bool stopNow = false;
        int askedAfterStop = 0;
        engine::CancellationScope scope([&] {
            if (stopNow)
                ++askedAfterStop;
            return stopNow;
        });
        auto input = torch::rand({1, 1, 28, 28}).requires_grad_(true);
        const auto acts = vit->activations(input);
        stopNow = true;
        QVERIFY_THROWS_EXCEPTION(engine::Cancelled, acts.logits.sum().backward());
        QCOMPARE(askedAfterStop, 1);
    }

    // Without a scope nothing is asked: the CLI runs as before.
    void noScopeNoChecks()
    {
        const auto vit = engine::loadClassifier(kModels + "vit-fmnist");
        auto input = torch::rand({1, 1, 28, 28}).requires_grad_(true);
        const auto acts = vit->activations(input);
        acts.logits.sum().backward();
        QVERIFY(input.grad().defined());
    }

    // The long loops: effective field sizes (a backward per unit) and CKA (per minibatch).
    void longLoopsStop()
    {
        const auto cnn = engine::loadClassifier(kModels + "cnn-fmnist");
        CountingStop stop{2};
        engine::CancellationScope scope(stop.predicate());
        QVERIFY_THROWS_EXCEPTION(engine::Cancelled, engine::effectiveFieldSizes(*cnn, torch::rand({1, 1, 28, 28})));
        QCOMPARE(stop.asked, 2);
        CountingStop first{1};
        engine::CancellationScope inner(first.predicate());  // the innermost scope counts
        const auto load = [](std::size_t, std::size_t count, const engine::CkaModel&) {
            return torch::rand({int64_t(count), 1, 28, 28});
        };
        QVERIFY_THROWS_EXCEPTION(engine::Cancelled, engine::compareLayers({{"cnn", cnn.get()}}, 16, 8, load));
        QCOMPARE(first.asked, 1);
        QCOMPARE(stop.asked, 2);
    }
};

QTEST_APPLESS_MAIN(TestCancellation)
#include "tst_cancellation.moc"
