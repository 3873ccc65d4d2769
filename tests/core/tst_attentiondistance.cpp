// Mean attention distance held to its invariants (methods.md): identity attention
// gives 0, uniform attention over the grid gives the grid's mean pairwise distance,
// with and without renormalising over the patch keys; attention on prefix tokens
// scales the plain value by the patch mass and leaves the renormalised one.
#include "core/engine/engineerror.h"
#include "core/engine/study/attentiondistance.h"

#include <QtTest>

#include <cmath>

using namespace attnviz;

namespace {

engine::TokenLayout layout(int prefix, int gh, int gw, int patch)
{
    engine::TokenLayout l;
    l.hasCls = prefix > 0;
    l.regTokens = std::max(0, prefix - 1);
    l.gridH = gh;
    l.gridW = gw;
    l.patchSize = patch;
    return l;
}

// Brute force over all pairs of patch centres, in pixels.
double meanPairwiseDistance(int gh, int gw, int patch)
{
    double sum = 0;
    for (int a = 0; a < gh * gw; ++a)
        for (int b = 0; b < gh * gw; ++b)
            sum += std::hypot(double(a / gw - b / gw), double(a % gw - b % gw)) * patch;
    return sum / double(gh * gw) / double(gh * gw);
}

}  // namespace

class TestAttentionDistance : public QObject {
    Q_OBJECT

private slots:
    void invariants_data()
    {
        QTest::addColumn<int>("prefix");
        QTest::addColumn<int>("gridH");
        QTest::addColumn<int>("gridW");
        QTest::addColumn<int>("patch");
        QTest::newRow("CLS, 14x14, patch 16") << 1 << 14 << 14 << 16;
        QTest::newRow("CLS + 4 registers, 3x5, patch 8") << 5 << 3 << 5 << 8;
        QTest::newRow("no CLS, 7x7, patch 4") << 0 << 7 << 7 << 4;
    }

    void invariants()
    {
        QFETCH(int, prefix);
        QFETCH(int, gridH);
        QFETCH(int, gridW);
        QFETCH(int, patch);
        const auto l = layout(prefix, gridH, gridW, patch);
        const int n = gridH * gridW;
        const int t = l.tokens();
        const auto identity = torch::eye(t).unsqueeze(0).repeat({2, 1, 1});
        auto uniform = torch::zeros({3, t, t});
        uniform.narrow(2, prefix, n).fill_(1.0 / n);  // every row spread evenly over the patches
        const double expected = meanPairwiseDistance(gridH, gridW, patch);
        for (bool renormalize : {false, true}) {
            QVERIFY(torch::allclose(engine::meanAttentionDistance(identity, l, renormalize), torch::zeros({2})));
            const auto distance = engine::meanAttentionDistance(uniform, l, renormalize);
            for (int h = 0; h < 3; ++h)
                QVERIFY2(std::abs(distance[h].item<double>() - expected) < 1e-4 * expected,
                         qPrintable(QStringLiteral("%1 vs %2").arg(distance[h].item<double>()).arg(expected)));
        }
    }

    void prefixAttentionScalesThePlainValue_data()
    {
        QTest::addColumn<int>("prefix");
        QTest::addColumn<double>("onPrefix");  // of every row; spread over the prefix tokens
        QTest::newRow("half of each row on CLS") << 1 << 0.5;
        QTest::newRow("90% on CLS + 2 registers") << 3 << 0.9;
        QTest::newRow("no prefix attention") << 1 << 0.0;
    }

    void prefixAttentionScalesThePlainValue()
    {
        QFETCH(int, prefix);
        QFETCH(double, onPrefix);
        const auto l = layout(prefix, 4, 6, 16);
        const int n = 24, t = l.tokens();
        // Random rows over the patches, then a fixed share moved onto the prefix tokens.
        auto patches = torch::rand({2, t, n}, torch::kFloat64) + 0.01;
        patches = patches / patches.sum(-1, true) * (1.0 - onPrefix);
        const auto a = torch::cat({torch::full({2, t, prefix}, onPrefix / prefix, torch::kFloat64), patches}, -1);
        QVERIFY(torch::allclose(a.sum(-1), torch::ones({2, t}, torch::kFloat64)));
        const auto plain = engine::meanAttentionDistance(a, l).to(torch::kFloat64);
        const auto renormalized = engine::meanAttentionDistance(a, l, true).to(torch::kFloat64);
        QVERIFY((renormalized > 0).all().item<bool>());
        // The plain value is exactly the patch share of the renormalised one.
        QVERIFY2(torch::allclose(plain, renormalized * (1.0 - onPrefix), 1e-6, 1e-6),
                 qPrintable(QStringLiteral("%1 vs %2 x %3")
                                .arg(plain[0].item<double>())
                                .arg(renormalized[0].item<double>())
                                .arg(1.0 - onPrefix)));
        // Renormalising undoes the share: the same rows without prefix attention.
        const auto withoutPrefix = torch::cat({torch::zeros({2, t, prefix}, torch::kFloat64),
                                               patches / (1.0 - onPrefix)},
                                              -1);
        QVERIFY(torch::allclose(renormalized, engine::meanAttentionDistance(withoutPrefix, l).to(torch::kFloat64), 1e-6,
                                1e-6));
    }

    void aQueryAttendingOnlyToClsCountsAsZero()
    {
        const auto l = layout(1, 1, 4, 16);  // tokens: CLS, p0, p1, p2, p3
        auto a = torch::zeros({1, 5, 5});
        a.select(2, 0).fill_(1.0);  // every query entirely on CLS
        a[0][2][0] = 0;             // but p1 looks at p3 (two patches away)
        a[0][2][4] = 1;
        QVERIFY(std::abs(engine::meanAttentionDistance(a, l)[0].item<double>() - 32.0 / 4) < 1e-5);
        QVERIFY(std::abs(engine::meanAttentionDistance(a, l, true)[0].item<double>() - 32.0 / 4) < 1e-5);
    }

    void attendingToTheNeighbourIsOnePatch()
    {
        const auto l = layout(1, 1, 4, 16);  // tokens: CLS, p0, p1, p2, p3
        auto a = torch::zeros({1, 5, 5});
        a[0][0][0] = 1;
        for (int i = 1; i <= 4; ++i)
            a[0][i][i == 4 ? 3 : i + 1] = 1;  // each patch looks at its right (last: left) neighbour
        QVERIFY(std::abs(engine::meanAttentionDistance(a, l)[0].item<double>() - 16.0) < 1e-5);
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::meanAttentionDistance(torch::zeros({1, 4, 4}), l));
    }
};

QTEST_APPLESS_MAIN(TestAttentionDistance)
#include "tst_attentiondistance.moc"
