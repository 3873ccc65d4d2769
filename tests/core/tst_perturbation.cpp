// SmoothGrad and occlusion against Captum itself (tests/fixtures/attribution, made by
// tests/scripts/make_perturbation_fixture.py running Captum's NoiseTunnel(Saliency) and
// Occlusion on two committed timm fixtures): SmoothGrad fed the noise Captum drew, occlusion
// with overlapping windows cut at the border and with disjoint ones; then both through the
// method table, their settings and their refusals.
#include "attributionmodels.h"
#include "referencedata.h"

#include "core/engine/engineerror.h"
#include "core/engine/methods/methodtable.h"
#include "core/engine/methods/occlusion.h"
#include "core/engine/methods/smoothgrad.h"
#include "core/engine/model/classifier.h"

#include <QtTest>

using namespace attnviz;
using testing::loadAttributionModel;
using testing::loadReference;
using testing::maxAbsDiff;
using testing::relativeDiff;

namespace {

const std::string kReference = ATTNVIZ_ATTRIBUTION_FIXTURES "perturbation.ref.safetensors";
constexpr int kClass = 3;

// The draws of `noise` [S, C, H, W] in order, n at a time, as Captum's batches took them.
engine::NoiseSource replay(const torch::Tensor& noise)
{
    auto next = std::make_shared<int64_t>(0);
    return [noise, next](int64_t n) {
        auto out = noise.narrow(0, *next, n);
        *next += n;
        return out;
    };
}

engine::ViewRequest requestFor(const char* method)
{
    engine::ViewRequest request;
    request.method = engine::viewMethodFromName(method);
    request.classIndex = kClass;
    return request;
}

void addModelRows()
{
    QTest::addColumn<QString>("model");
    QTest::newRow("cnn") << QStringLiteral("cnn");
    QTest::newRow("vit") << QStringLiteral("vit");
}

}  // namespace

class TestPerturbation : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { torch::set_num_threads(2); }

    void smoothGradMatchesCaptum_data() { addModelRows(); }

    // The mean absolute gradient over the noise Captum drew, to 1e-4 of its largest.
    void smoothGradMatchesCaptum()
    {
        QFETCH(QString, model);
        const auto m = model.toStdString();
        const auto ref = loadReference(kReference);
        const auto noise = ref.at(m + ".smoothgrad.noise");
        const auto ours = engine::smoothGrad(*loadAttributionModel(m), ref.at(m + ".input"), kClass, int(noise.size(0)),
                                             replay(noise));
        const auto expected = ref.at(m + ".smoothgrad")[0];
        QCOMPARE(ours.sizes(), expected.sizes());
        const double diff = relativeDiff(ours, expected);
        QVERIFY2(diff <= 1e-4, qPrintable(QStringLiteral("differs by %1 of its largest").arg(diff)));
    }

    void occlusionMatchesCaptum_data()
    {
        QTest::addColumn<QString>("model");
        QTest::addColumn<int>("window");
        QTest::addColumn<int>("stride");
        for (const auto& model : {QStringLiteral("cnn"), QStringLiteral("vit")}) {
            QTest::newRow(qPrintable(model + QStringLiteral(", 12 px every 8 (cut at the border)")))
                << model << 12 << 8;
            QTest::newRow(qPrintable(model + QStringLiteral(", 16 px every 16"))) << model << 16 << 16;
        }
    }

    // Captum's attribution is one map repeated over the channels; ours is that map.
    void occlusionMatchesCaptum()
    {
        QFETCH(QString, model);
        QFETCH(int, window);
        QFETCH(int, stride);
        const auto m = model.toStdString();
        const auto ref = loadReference(kReference);
        const auto key = m + ".occlusion." + std::to_string(window) + "x" + std::to_string(stride);
        const auto expected = ref.at(key)[0];  // [3, 64, 64]
        QVERIFY(maxAbsDiff(expected[1], expected[0]) == 0.0 && maxAbsDiff(expected[2], expected[0]) == 0.0);
        const auto ours = engine::occlusion(*loadAttributionModel(m), ref.at(m + ".input"), kClass, window, stride);
        QCOMPARE(ours.sizes(), expected[0].sizes());
        const double diff = relativeDiff(ours, expected[0]);
        QVERIFY2(diff <= 1e-4, qPrintable(QStringLiteral("differs by %1 of its largest").arg(diff)));
    }

    // Without noise SmoothGrad is the saliency view; the seeded noise gives one map per
    // request, and its spread is the noise level times the input's range.
    void smoothGradIsSaliencyAveraged()
    {
        const auto ref = loadReference(kReference);
        const auto classifier = loadAttributionModel("cnn");
        torch::NoGradGuard noGrad;
        const auto trace = classifier->forward(ref.at("cnn.input"));
        auto smooth = requestFor("smoothgrad");
        smooth.settings.set(engine::MethodSetting::Noise, 0.0);
        smooth.settings.set(engine::MethodSetting::Samples, 3);
        const auto plain = engine::computeView(*classifier, trace, requestFor("saliency"));
        QVERIFY(relativeDiff(engine::computeView(*classifier, trace, smooth).maps, plain.maps) <= 1e-6);

        smooth = requestFor("smoothgrad");
        smooth.settings.set(engine::MethodSetting::Samples, 4);
        const auto once = engine::computeView(*classifier, trace, smooth);
        QCOMPARE(once.layers, std::vector<std::string>{"input"});
        QCOMPARE(*once.classIndex, kClass);
        QVERIFY(maxAbsDiff(once.maps, engine::computeView(*classifier, trace, smooth).maps) == 0.0);
        QVERIFY(relativeDiff(once.maps, plain.maps) > 0.05);  // the noise changed it

        const auto x = ref.at("cnn.input");
        const auto draws = engine::gaussianNoise(x, 0.1, 7)(64);  // [64, 3, 64, 64]
        QCOMPARE(draws.sizes(), (std::vector<int64_t>{64, 3, 64, 64}));
        const double sigma = 0.1 * (x.max() - x.min()).item<double>();
        QVERIFY(std::abs(draws.std().item<double>() / sigma - 1.0) < 0.01);
        QVERIFY(std::abs(draws.mean().item<double>()) < 0.01 * sigma);
    }

    // Through the method table: the default window is a fourteenth of the side, half of it
    // the stride; a map over the input for the class asked, its settings its own.
    void occlusionIsAViewOverTheInput()
    {
        QCOMPARE(engine::occlusionPatch(0, 0, 224, 224), std::make_pair(16, 8));
        QCOMPARE(engine::occlusionPatch(0, 0, 64, 96), std::make_pair(5, 2));
        QCOMPARE(engine::occlusionPatch(1, 0, 8, 8), std::make_pair(1, 1));
        QCOMPARE(engine::occlusionPatch(12, 0, 64, 64), std::make_pair(12, 6));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::occlusionPatch(65, 0, 64, 64));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::occlusionPatch(8, 9, 64, 64));

        const auto ref = loadReference(kReference);
        const auto classifier = loadAttributionModel("vit");
        torch::NoGradGuard noGrad;
        const auto trace = classifier->forward(ref.at("vit.input"));
        auto request = requestFor("occlusion");
        request.settings.set(engine::MethodSetting::Window, 16);
        request.settings.set(engine::MethodSetting::Stride, 16);
        const auto view = engine::computeView(*classifier, trace, request);
        QCOMPARE(view.layers, std::vector<std::string>{"input"});
        const auto signedFall = ref.at("vit.occlusion.16x16")[0][0];
        QVERIFY(signedFall.min().item<double>() < 0);  // the view drops the negative part
        QVERIFY(relativeDiff(view.maps[0][0], signedFall.clamp_min(0)) <= 1e-4);

        request.settings.set(engine::MethodSetting::Window, 80);  // larger than the input
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::computeView(*classifier, trace, request));
        auto other = requestFor("smoothgrad");
        other.settings.set(engine::MethodSetting::Window, 8);  // not SmoothGrad's
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::computeView(*classifier, trace, other));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, other.settings.set(engine::MethodSetting::Noise, 1.5));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, other.settings.setFromText(engine::MethodSetting::Samples, "4x"));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::occlusion(*classifier, trace.input, -1, 8, 8));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::occlusion(*classifier, trace.input, 10, 8, 8));
    }
};

QTEST_APPLESS_MAIN(TestPerturbation)
#include "tst_perturbation.moc"
