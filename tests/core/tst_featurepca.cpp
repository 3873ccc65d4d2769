// Feature PCA: the principal-component scores against NumPy's SVD of timm's own features
// (tests/fixtures/attribution/features.ref.safetensors, made by
// tests/scripts/make_feature_fixture.py), DINOv2's foreground rule on features whose object is
// known, and the view: three colour columns per layer.
#include "attributionmodels.h"
#include "referencedata.h"

#include "core/engine/engineerror.h"
#include "core/engine/methods/featurepca.h"
#include "core/engine/methods/methodtable.h"

#include <QtTest>

using namespace attnviz;
using testing::loadAttributionModel;
using testing::loadReference;

namespace {

const std::string kReference = ATTNVIZ_ATTRIBUTION_FIXTURES "features.ref.safetensors";

// The largest difference of each column of a from b's or -b's, whichever is nearer.
double diffUpToSign(const torch::Tensor& a, const torch::Tensor& b)
{
    double worst = 0;
    for (int64_t k = 0; k < a.size(1); ++k) {
        const auto x = a.select(1, k).to(torch::kFloat64), y = b.select(1, k).to(torch::kFloat64);
        worst = std::max(worst, std::min((x - y).abs().max().item<double>(), (x + y).abs().max().item<double>()));
    }
    return worst;
}

engine::ViewRequest pcaAt(const std::string& layer)
{
    engine::ViewRequest request;
    request.method = engine::viewMethodFromName("pca");
    request.layer = engine::LayerSelector::parse(layer);
    return request;
}

}  // namespace

class TestFeaturePca : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { torch::set_num_threads(2); }

    void scoresMatchNumpysSvd_data()
    {
        QTest::addColumn<QString>("model");
        QTest::addColumn<QString>("layer");
        QTest::addColumn<QString>("key");
        QTest::newRow("ViT block 1") << "vit"
                                     << "1"
                                     << "vit.pca.block1";
        QTest::newRow("CNN layer3") << "cnn"
                                    << "layer3"
                                    << "cnn.pca.layer3";
    }

    // The scores of timm's features on their first three components, to 1e-4 up to sign
    // (and, with the same sign rule as scikit-learn's svd_flip, with the sign too).
    void scoresMatchNumpysSvd()
    {
        QFETCH(QString, model);
        QFETCH(QString, layer);
        QFETCH(QString, key);
        const auto ref = loadReference(kReference);
        const auto m = model.toStdString();
        const auto classifier = loadAttributionModel(m);
        torch::NoGradGuard noGrad;
        const auto trace = classifier->forward(ref.at(m + ".input"));
        const auto acts = classifier->activations(trace.input);
        const auto features = m == "vit" ? acts.tokenStates.back()[0].narrow(0, 1, 16).t().reshape({-1, 4, 4})
                                         : acts.feature("layer3")[0];
        const auto rows = features.reshape({features.size(0), -1}).t();  // [P, C]
        const auto ours = engine::principalScores(rows, 3);
        const auto expected = ref.at(key.toStdString());
        QCOMPARE(ours.sizes(), expected.sizes());
        const double scale = expected.abs().max().item<double>();
        QVERIFY2(diffUpToSign(ours, expected) <= 1e-4 * scale,
                 qPrintable(QString::number(diffUpToSign(ours, expected))));
        QVERIFY((ours - expected).abs().max().item<double>() <= 1e-4 * scale);
        // the view reads the same features
        QVERIFY(engine::computeView(*classifier, trace, pcaAt(layer.toStdString())).rgb);
    }

    // An object of one feature vector on a background of another, both with a little noise:
    // the object is the foreground exactly, whichever sign the SVD gives; colours in [0, 1]
    // spanning the range over the foreground, black on the background.
    void theObjectIsTheForeground()
    {
        torch::manual_seed(3);
        const int64_t c = 16, h = 8, w = 8;
        auto object = torch::zeros({h, w}, torch::kBool);
        object.narrow(0, 2, 3).narrow(1, 3, 4).fill_(true);  // rows 2-4, columns 3-6
        const auto a = torch::randn({c, 1, 1}), b = torch::randn({c, 1, 1});
        for (double sign : {1.0, -1.0}) {
            const auto features = torch::where(object, a * sign, b) + 0.05 * torch::randn({c, h, w});
            const auto pca = engine::featurePca(features);
            QVERIFY(torch::equal(pca.foreground, object));
            QCOMPARE(pca.rgb.sizes(), (std::vector<int64_t>{3, h, w}));
            QCOMPARE(pca.rgb.masked_select(~object.unsqueeze(0).expand({3, h, w})).abs().max().item<float>(), 0.0f);
            for (int k = 0; k < 3; ++k) {
                const auto channel = pca.rgb[k].masked_select(object);
                QCOMPARE(channel.min().item<float>(), 0.0f);
                QCOMPARE(channel.max().item<float>(), 1.0f);
            }
        }
        QCOMPARE(engine::principalScores(torch::ones({5, 4}), 3).abs().max().item<double>(), 0.0);  // rank 0
    }

    // A basis fitted over two images gives the same feature the same colour in both. The
    // second image is the first with the object moved and a second object added: under one
    // basis each object keeps its colour, while a fit per image colours the first object
    // differently in each. The background is found by the border rule over both borders.
    void aBasisOverManyImagesKeepsEachPartsColour()
    {
        torch::manual_seed(5);
        const int64_t c = 16, h = 8, w = 8;
        const auto background = torch::randn({c, 1, 1}), first = torch::randn({c, 1, 1}),
                   second = torch::randn({c, 1, 1});
        const auto place = [&](int64_t row, int64_t col) {
            auto mask = torch::zeros({h, w}, torch::kBool);
            mask.narrow(0, row, 2).narrow(1, col, 3).fill_(true);
            return mask;
        };
        const auto inA = place(2, 2), inB = place(4, 3), otherB = place(1, 1);
        const auto a = torch::where(inA, first, background) + 0.01 * torch::randn({c, h, w});
        const auto b = torch::where(otherB, second, torch::where(inB, first, background))
                       + 0.01 * torch::randn({c, h, w});
        const auto basis = engine::fitFeatureBasis({a, b});
        const auto pa = engine::applyFeatureBasis(basis, a), pb = engine::applyFeatureBasis(basis, b);
        QVERIFY(torch::equal(pa.foreground, inA));
        QVERIFY(torch::equal(pb.foreground, inB | otherB));
        // A part's mean red, the first component over the foreground: what tells the
        // objects apart (green and blue are the noise's).
        const auto red = [](const engine::FeaturePca& p, const torch::Tensor& mask) {
            return p.rgb[0].masked_select(mask).mean().item<float>();
        };
        const auto shared = std::abs(red(pa, inA) - red(pb, inB));
        QVERIFY2(shared < 0.05f, qPrintable(QString::number(shared)));
        QVERIFY(std::abs(red(pb, otherB) - red(pb, inB)) > 0.9f);
        const auto alone = std::abs(red(engine::featurePca(a), inA) - red(engine::featurePca(b), inB));
        QVERIFY2(alone > 0.3f, qPrintable(QString::number(alone)));
        // One image's basis is featurePca's own.
        QVERIFY(
            torch::equal(engine::applyFeatureBasis(engine::fitFeatureBasis({a}), a).rgb, engine::featurePca(a).rgb));
    }

    // The view: per layer one picture whose columns are red, green and blue (tst_rendering
    // draws such a picture); a ViT's every block with "all"; no class.
    void isAPictureInItsOwnColours()
    {
        const auto ref = loadReference(kReference);
        const auto vit = loadAttributionModel("vit");
        torch::NoGradGuard noGrad;
        const auto trace = vit->forward(ref.at("vit.input"));
        const auto view = engine::computeView(*vit, trace, pcaAt("all"));
        QVERIFY(view.rgb);
        QCOMPARE(view.layers, (std::vector<std::string>{"0", "1"}));
        QCOMPARE(view.heads, (std::vector<std::string>{"red", "green", "blue"}));
        QCOMPARE(view.maps.sizes(), (std::vector<int64_t>{2, 3, 4, 4}));
        QVERIFY(view.maps.min().item<float>() >= 0 && view.maps.max().item<float>() <= 1);
        QVERIFY(!engine::methodInfo(view.method).explainsClass());
    }
};

QTEST_APPLESS_MAIN(TestFeaturePca)
#include "tst_featurepca.moc"
