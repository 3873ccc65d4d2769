// The logit lens against the model's own head in PyTorch (tests/fixtures/attribution, made by
// tests/scripts/make_feature_fixture.py: forward hooks keep each block's output tokens of the
// committed DeiT III fixture, and timm's own model.norm and model.head read every token):
// each patch's probability of a class, block by block; the CLS token of the last block is the
// model's own prediction; the models it cannot read.
#include "attributionmodels.h"
#include "referencedata.h"

#include "core/engine/engineerror.h"
#include "core/engine/methods/methodtable.h"
#include "core/engine/model/classifier.h"
#include "core/engine/vit/vit.h"

#include <QtTest>

using namespace attnviz;
using testing::loadAttributionModel;
using testing::loadReference;
using testing::maxAbsDiff;

namespace {

const std::string kReference = ATTNVIZ_ATTRIBUTION_FIXTURES "features.ref.safetensors";

engine::ViewRequest lensAt(const std::string& layer, int classIndex)
{
    engine::ViewRequest request;
    request.method = engine::viewMethodFromName("logit-lens");
    request.layer = engine::LayerSelector::parse(layer);
    request.classIndex = classIndex;
    return request;
}

}  // namespace

class TestLogitLens : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { torch::set_num_threads(2); }

    void matchesTheModelsOwnHead_data()
    {
        QTest::addColumn<int>("block");
        QTest::addColumn<int>("classIndex");
        for (int block : {0, 1})
            for (int c : {0, 3, 9})
                QTest::newRow(qPrintable(QStringLiteral("block %1, class %2").arg(block).arg(c))) << block << c;
    }

    // Every patch's probability of the class, to 1e-5 of timm's norm and head.
    void matchesTheModelsOwnHead()
    {
        QFETCH(int, block);
        QFETCH(int, classIndex);
        const auto ref = loadReference(kReference);
        const auto vit = loadAttributionModel("vit");
        torch::NoGradGuard noGrad;
        const auto trace = vit->forward(ref.at("vit.input"));
        const auto view = engine::computeView(*vit, trace, lensAt(std::to_string(block), classIndex));
        QCOMPARE(view.layers, std::vector<std::string>{std::to_string(block)});
        QCOMPARE(*view.classIndex, classIndex);
        const auto expected = ref.at("vit.lens.block" + std::to_string(block)).select(2, classIndex);  // [4, 4]
        QCOMPARE(view.maps[0][0].sizes(), expected.sizes());
        const double diff = maxAbsDiff(view.maps[0][0], expected);
        QVERIFY2(diff <= 1e-5, qPrintable(QStringLiteral("differs by %1").arg(diff)));
        // Each patch's most probable class and its probability, as timm's head gives them.
        const auto [top, index] = ref.at("vit.lens.block" + std::to_string(block)).max(2);  // [4, 4] each
        QVERIFY(torch::equal(view.topClasses[0], index));
        QVERIFY(maxAbsDiff(view.topProbabilities[0], top) <= 1e-5);
    }

    // The last block's CLS token read by the lens is the model's prediction; every block
    // with "all"; the class is the model's top-1 unless asked.
    void theLastClsTokenIsThePrediction()
    {
        const auto ref = loadReference(kReference);
        const auto vit = loadAttributionModel("vit");
        torch::NoGradGuard noGrad;
        const auto trace = vit->forward(ref.at("vit.input"));
        const auto acts = vit->activations(trace.input);
        const auto& transformer = dynamic_cast<const engine::VisionTransformer&>(*vit);
        const auto cls = torch::softmax(transformer.tokenLogits(acts.tokenStates.back())[0][0], -1);  // [10]
        QVERIFY(maxAbsDiff(cls, torch::softmax(trace.logits[0], -1)) <= 1e-6);
        QVERIFY(maxAbsDiff(cls, ref.at("vit.probabilities")) <= 1e-5);
        QVERIFY(maxAbsDiff(cls, ref.at("vit.lens.cls.block1")) <= 1e-5);
        const auto all = engine::computeView(*vit, trace, lensAt("all", -1));
        QCOMPARE(all.layers, (std::vector<std::string>{"0", "1"}));
        QCOMPARE(int64_t(*all.classIndex), trace.logits.argmax().item<int64_t>());
    }

    // A CNN has no tokens; a CLIP without prompts has no classes; a SigLIP's head reads an
    // attention pool, which no single token is: one line each.
    void refusesWhatItCannotRead()
    {
        const auto ref = loadReference(kReference);
        const auto cnn = loadAttributionModel("cnn");
        torch::NoGradGuard noGrad;
        const auto cnnTrace = cnn->forward(ref.at("cnn.input"));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::computeView(*cnn, cnnTrace, lensAt("", 0)));

        const auto text = loadReference(ATTNVIZ_TEXT_FIXTURES "legrad_siglip.ref.safetensors");
        auto siglip = engine::loadClassifier(ATTNVIZ_TEXT_FIXTURES "legrad_siglip");
        auto& transformer = dynamic_cast<engine::VisionTransformer&>(*siglip);
        const auto tokens = torch::zeros({1, 5, siglip->spec().embedDim});
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, transformer.tokenLogits(tokens));  // no classes yet
        transformer.setPromptClasses(text.at("text.embeds"), {"a", "b", "c"});
        try {
            transformer.tokenLogits(tokens);
            QFAIL("an attention pool was read token by token");
        } catch (const engine::EngineError& e) {
            QVERIFY2(std::string(e.what()).find("attention pool") != std::string::npos, e.what());
        }
    }
};

QTEST_APPLESS_MAIN(TestLogitLens)
#include "tst_logitlens.moc"
