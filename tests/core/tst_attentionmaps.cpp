// CLS / query maps, head fusion and attention rollout held to methods.md's invariants,
// on real traces of the reference models and on synthetic attention.
#include "core/engine/engineerror.h"
#include "core/engine/methods/attentionmaps.h"
#include "core/engine/methods/rollout.h"
#include "core/engine/model/classifier.h"
#include "core/engine/tensorconvert.h"
#include "core/io/safetensors.h"

#include <QtTest>

using namespace attnviz;

namespace {

const std::string kData = ATTNVIZ_TEST_DATA "/reference/";

engine::Trace traceOf(const std::string& model, const std::string& reference)
{
    const auto ref = io::readSafetensors(kData + reference).tensors;
    return engine::loadClassifier(kData + model)->forward(engine::toTorch(ref.at("vit.input")));
}

engine::TokenLayout layout(bool cls, int gh, int gw)
{
    engine::TokenLayout l;
    l.hasCls = cls;
    l.gridH = gh;
    l.gridW = gw;
    l.patchSize = 16;
    return l;
}

torch::Tensor uniformAttention(int heads, int tokens)
{
    return torch::full({heads, tokens, tokens}, 1.0 / tokens);
}

bool isConstant(const torch::Tensor& t)
{
    return (t.max() - t.min()).item<double>() < 1e-6;
}

}  // namespace

class TestAttentionMaps : public QObject {
    Q_OBJECT

private slots:
    void clsMapCoversTheNonSquareGrid()
    {
        const auto trace = traceOf("timm_vit", "timm_vit.nonsquare.ref.safetensors");
        for (const auto& attention : trace.attention.matrices()) {
            const auto map = engine::clsAttention(attention, trace.tokens);
            QCOMPARE(map.sizes(), (torch::IntArrayRef{3, 10, 16}));
            // The full CLS row sums to 1: the map plus the CLS column.
            const auto total = map.sum({1, 2}) + attention.select(1, 0).select(1, 0);
            QVERIFY(torch::allclose(total, torch::ones({3}), 1e-5, 1e-5));
        }
    }

    void distillationTokenIsNotOnTheGrid()
    {
        const auto trace = traceOf("deit_distilled", "deit_distilled.ref.safetensors");
        QCOMPARE(trace.tokens.prefixTokens(), 2);
        const auto attention = trace.attention.matrix(trace.attention.depth() - 1);
        const auto map = engine::clsAttention(attention, trace.tokens);
        QCOMPARE(map.sizes(), (torch::IntArrayRef{3, 14, 14}));
        QVERIFY(torch::allclose(map.flatten(1), attention.select(1, 0).narrow(1, 2, 196)));
    }

    void queryMapIsThatTokensRow()
    {
        const auto trace = traceOf("timm_vit", "timm_vit.ref.safetensors");
        const int query = 1 + 5 * 14 + 7;  // patch at row 5, column 7
        const auto map = engine::queryAttention(trace.attention.matrix(2), trace.tokens, query);
        QVERIFY(torch::equal(map.flatten(1), trace.attention.matrix(2).select(1, query).narrow(1, 1, 196)));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError,
                                 engine::queryAttention(trace.attention.matrix(2), trace.tokens, 197));
    }

    void headFusionOrders()
    {
        const auto perHead = torch::rand({4, 7, 9});
        const auto mean = engine::fuseHeads(perHead, engine::HeadFusion::Mean);
        QVERIFY((engine::fuseHeads(perHead, engine::HeadFusion::Max) >= mean).all().item<bool>());
        QVERIFY((engine::fuseHeads(perHead, engine::HeadFusion::Min) <= mean).all().item<bool>());
        QVERIFY(torch::allclose(mean, perHead.mean(0)));
    }

    void withoutClsTheMeanPatchRowIsUsed()
    {
        const auto l = layout(false, 3, 4);
        const auto map = engine::clsAttention(uniformAttention(2, 12), l);
        QVERIFY(isConstant(map));
        QVERIFY(std::abs(map[0][0][0].item<double>() - 1.0 / 12) < 1e-7);
    }

    void rolloutOfUniformAttentionIsUniform_data()
    {
        QTest::addColumn<bool>("cls");
        QTest::addColumn<int>("layers");
        QTest::addColumn<double>("discard");
        QTest::newRow("one layer with CLS") << true << 1 << 0.0;
        QTest::newRow("three layers with CLS") << true << 3 << 0.0;
        QTest::newRow("three layers, no CLS") << false << 3 << 0.0;
    }

    void rolloutOfUniformAttentionIsUniform()
    {
        QFETCH(bool, cls);
        QFETCH(int, layers);
        QFETCH(double, discard);
        const auto l = layout(cls, 5, 7);
        std::vector<torch::Tensor> attentions(std::size_t(layers), uniformAttention(3, l.tokens()));
        engine::RolloutOptions options;
        options.discardRatio = discard;
        const auto map = engine::attentionRollout(attentions, l, options);
        QCOMPARE(map.sizes(), (torch::IntArrayRef{5, 7}));
        QVERIFY(isConstant(map));
        if (cls && layers == 1)  // 0.5 * 1/T to each patch
            QVERIFY(std::abs(map[0][0].item<double>() - 0.5 / l.tokens()) < 1e-6);
    }

    void rolloutRowsStaySubStochastic()
    {
        const auto trace = traceOf("tv_vit_b_16.pth", "tv_vit_b_16.ref.safetensors");
        for (double discard : {0.0, 0.9}) {
            engine::RolloutOptions options;
            options.discardRatio = discard;
            const auto map = engine::attentionRollout(trace.attention, trace.tokens, options);
            QCOMPARE(map.sizes(), (torch::IntArrayRef{14, 14}));
            QVERIFY((map >= 0).all().item<bool>());
            QVERIFY(map.sum().item<double>() < 1.0 + 1e-5);  // the CLS column takes the rest
        }
        engine::RolloutOptions late;
        late.startLayer = 11;
        QVERIFY(!torch::allclose(engine::attentionRollout(trace.attention, trace.tokens, late),
                                 engine::attentionRollout(trace.attention, trace.tokens)));
        late.startLayer = 12;
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::attentionRollout(trace.attention, trace.tokens, late));
    }
};

QTEST_APPLESS_MAIN(TestAttentionMaps)
#include "tst_attentionmaps.moc"
