// Patch similarity against timm's own forward pass and NumPy (tests/fixtures/attribution,
// made by tests/scripts/make_feature_fixture.py: forward hooks on the committed DeiT III
// and ResNet-D fixtures keep each block's output tokens and two stages' outputs, and NumPy
// gives the cosine of every position with one position); then the view's defaults and
// refusals.
#include "attributionmodels.h"
#include "referencedata.h"

#include "core/engine/engineerror.h"
#include "core/engine/methods/methodtable.h"
#include "core/engine/methods/similarity.h"
#include "core/engine/model/classifier.h"

#include <QtTest>

using namespace attnviz;
using testing::loadAttributionModel;
using testing::loadReference;
using testing::maxAbsDiff;

namespace {

const std::string kReference = ATTNVIZ_ATTRIBUTION_FIXTURES "features.ref.safetensors";

engine::ViewRequest similarityAt(const std::string& layer, std::optional<std::pair<int, int>> query)
{
    engine::ViewRequest request;
    request.method = engine::viewMethodFromName("similarity");
    request.layer = engine::LayerSelector::parse(layer);
    request.query = query;
    return request;
}

}  // namespace

class TestSimilarity : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { torch::set_num_threads(2); }

    void matchesNumpyOnTimmsFeatures_data()
    {
        QTest::addColumn<QString>("model");
        QTest::addColumn<QString>("layer");
        QTest::addColumn<QString>("key");
        QTest::addColumn<int>("row");
        QTest::addColumn<int>("col");
        QTest::newRow("ViT block 0") << "vit"
                                     << "0"
                                     << "vit.block0" << 1 << 2;
        QTest::newRow("ViT block 1 (the last)") << "vit"
                                                << "1"
                                                << "vit.block1" << 1 << 2;
        QTest::newRow("CNN layer3") << "cnn"
                                    << "layer3"
                                    << "cnn.layer3" << 1 << 2;
        QTest::newRow("CNN layer4") << "cnn"
                                    << "layer4"
                                    << "cnn.layer4" << 1 << 0;
    }

    // The view is NumPy's cosine clamped at 0, to 1e-5; the ViT's has negative cells.
    void matchesNumpyOnTimmsFeatures()
    {
        QFETCH(QString, model);
        QFETCH(QString, layer);
        QFETCH(QString, key);
        QFETCH(int, row);
        QFETCH(int, col);
        const auto ref = loadReference(kReference);
        const auto classifier = loadAttributionModel(model.toStdString());
        torch::NoGradGuard noGrad;
        const auto trace = classifier->forward(ref.at(model.toStdString() + ".input"));
        const auto view = engine::computeView(*classifier, trace, similarityAt(layer.toStdString(), {{row, col}}));
        const auto expected = ref.at(key.toStdString());
        QCOMPARE(view.layers, std::vector<std::string>{layer.toStdString()});
        QCOMPARE(view.maps[0][0].sizes(), expected.sizes());
        const double diff = maxAbsDiff(view.maps[0][0], expected.clamp_min(0));
        QVERIFY2(diff <= 1e-5, qPrintable(QStringLiteral("differs by %1").arg(diff)));
        QCOMPARE(view.maps[0][0][row][col].item<float>(), 1.0f);  // the position itself
        if (model == QStringLiteral("vit"))
            QVERIFY(expected.min().item<double>() < 0);
    }

    // Without a click, the grid's centre; every block with "all"; one line for what it
    // cannot compare; a place, not a class.
    void defaultsAndRefusals()
    {
        const auto ref = loadReference(kReference);
        const auto vit = loadAttributionModel("vit");
        torch::NoGradGuard noGrad;
        const auto trace = vit->forward(ref.at("vit.input"));
        const auto centre = engine::computeView(*vit, trace, similarityAt("", std::nullopt));
        QCOMPARE(centre.layers, std::vector<std::string>{"1"});
        QCOMPARE(centre.maps[0][0][2][2].item<float>(), 1.0f);
        QCOMPARE(engine::computeView(*vit, trace, similarityAt("all", {{1, 2}})).layers,
                 (std::vector<std::string>{"0", "1"}));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::computeView(*vit, trace, similarityAt("1", {{4, 0}})));
        QVERIFY(!engine::methodInfo(engine::viewMethodFromName("similarity")).explainsClass());

        const auto cnn = loadAttributionModel("cnn");
        const auto cnnTrace = cnn->forward(ref.at("cnn.input"));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError,
                                 engine::computeView(*cnn, cnnTrace, similarityAt("layer3.0", std::nullopt)));
        const auto stages = engine::computeView(*cnn, cnnTrace, similarityAt("all", {{0, 0}}));
        QCOMPARE(stages.layers.size(), cnnTrace.features.size());

        const auto grid = torch::zeros({3, 2, 2});  // a zero vector is like nothing
        QCOMPARE(engine::cosineToCell(grid, 0, 0).abs().max().item<float>(), 0.0f);
    }
};

QTEST_APPLESS_MAIN(TestSimilarity)
#include "tst_similarity.moc"
