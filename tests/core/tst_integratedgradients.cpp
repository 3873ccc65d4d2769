// Integrated gradients against Captum itself (tests/fixtures/attribution, made by
// tests/scripts/make_ig_fixture.py running Captum's IntegratedGradients on two committed
// timm fixtures): the attributions from a black and a blurred baseline, the blurred
// baseline itself (torchvision's gaussian_blur), completeness, the quadrature, refusals.
#include "attributionmodels.h"
#include "referencedata.h"

#include "core/engine/engineerror.h"
#include "core/engine/methods/integratedgradients.h"
#include "core/engine/methods/methodtable.h"
#include "core/engine/model/classifier.h"

#include <QtTest>

using namespace attnviz;
using testing::loadAttributionModel;
using testing::loadReference;
using testing::maxAbsDiff;
using testing::relativeDiff;

namespace {

const std::string kReference = ATTNVIZ_ATTRIBUTION_FIXTURES "integrated_gradients.ref.safetensors";
constexpr int kClass = 3;
constexpr int kSteps = 64;

// A baseline by its name, as --baseline takes it.
engine::PathBaseline baselineNamed(const std::string& name)
{
    engine::MethodSettings settings;
    settings.setFromText(engine::MethodSetting::Baseline, name);
    return engine::PathBaseline(settings.count(engine::MethodSetting::Baseline));
}

}  // namespace

class TestIntegratedGradients : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { torch::set_num_threads(2); }

    void matchesCaptum_data()
    {
        QTest::addColumn<QString>("model");
        QTest::addColumn<QString>("baseline");
        for (const auto& model : {QStringLiteral("cnn"), QStringLiteral("vit")})
            for (const auto& baseline : {QStringLiteral("black"), QStringLiteral("blur")})
                QTest::newRow(qPrintable(model + QStringLiteral(", ") + baseline)) << model << baseline;
    }

    // Captum's attributions to 1e-4 of their largest, the path's start to 1e-5, and
    // completeness: the attributions sum to y_c(x) - y_c(x0) within 1 % at 64 steps.
    void matchesCaptum()
    {
        QFETCH(QString, model);
        QFETCH(QString, baseline);
        const auto m = model.toStdString(), b = baseline.toStdString();
        const auto ref = loadReference(kReference);
        const auto classifier = loadAttributionModel(m);
        const auto& x = ref.at(m + ".input");
        const auto start = engine::pathBaseline(x, baselineNamed(b), classifier->spec().preprocessing);
        QVERIFY2(maxAbsDiff(start, ref.at(m + ".baseline." + b)) <= 1e-5, "the path starts elsewhere");

        const auto ours = engine::integratedGradients(*classifier, x, kClass, kSteps, baselineNamed(b));
        QCOMPARE(ours.classIndex, kClass);
        const double diff = relativeDiff(ours.attributions, ref.at(m + ".attr." + b)[0]);
        QVERIFY2(diff <= 1e-4, qPrintable(QStringLiteral("attributions differ by %1 of the largest").arg(diff)));

        torch::NoGradGuard noGrad;
        const auto gain = (classifier->activations(x).logits[0][kClass]
                           - classifier->activations(ours.baseline.unsqueeze(0)).logits[0][kClass])
                              .item<double>();
        const double total = ours.attributions.sum().item<double>();
        QVERIFY2(std::abs(total - gain) <= 0.01 * std::abs(gain),
                 qPrintable(QStringLiteral("attributions sum to %1, the logit moved %2").arg(total).arg(gain)));
    }

    // n points integrate polynomials up to degree 2n - 1 exactly on [0, 1].
    void gaussLegendreIsExact()
    {
        for (int n : {1, 2, 5, 64}) {
            const auto [points, weights] = engine::gaussLegendre(n);
            QCOMPARE(int(points.size()), n);
            QVERIFY(std::is_sorted(points.begin(), points.end()));
            for (int degree : {0, 1, 2 * n - 1}) {
                double sum = 0.0;
                for (int k = 0; k < n; ++k)
                    sum += weights[std::size_t(k)] * std::pow(points[std::size_t(k)], degree);
                QVERIFY2(std::abs(sum - 1.0 / (degree + 1)) <= 1e-12,
                         qPrintable(QStringLiteral("n %1, degree %2: %3").arg(n).arg(degree).arg(sum)));
            }
        }
    }

    // Through the method table: a map over the input, |sum over channels|; the options
    // belong to this method only; a bad step count is one line.
    void isAViewOverTheInput()
    {
        const auto ref = loadReference(kReference);
        const auto classifier = loadAttributionModel("cnn");
        torch::NoGradGuard noGrad;
        const auto trace = classifier->forward(ref.at("cnn.input"));
        engine::ViewRequest request;
        request.method = engine::viewMethodFromName("integrated-gradients");
        request.classIndex = kClass;
        request.settings.set(engine::MethodSetting::Steps, kSteps);
        const auto view = engine::computeView(*classifier, trace, request);
        QCOMPARE(view.layers, std::vector<std::string>{"input"});
        const auto expected = ref.at("cnn.attr.black")[0].sum(0).abs();
        QCOMPARE(view.maps[0][0].sizes(), expected.sizes());
        const double diff = relativeDiff(view.maps[0][0], expected);
        QVERIFY2(diff <= 1e-4, qPrintable(QStringLiteral("the view differs by %1 of its largest").arg(diff)));

        QVERIFY_THROWS_EXCEPTION(engine::EngineError, request.settings.set(engine::MethodSetting::Steps, 0));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, request.settings.set(engine::MethodSetting::Steps, 2.5));
        engine::ViewRequest other;
        other.method = engine::viewMethodFromName("saliency");
        other.settings.set(engine::MethodSetting::Baseline, double(engine::PathBaseline::Blur));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::computeView(*classifier, trace, other));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, baselineNamed("white"));
    }
};

QTEST_APPLESS_MAIN(TestIntegratedGradients)
#include "tst_integratedgradients.moc"
