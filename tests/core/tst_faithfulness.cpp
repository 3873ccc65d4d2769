// Deletion and insertion (RISE): the batched curves against RISE's step-by-step loop run on
// a torchvision ResNet-18 (tests/scripts/faithfulness_reference.py), and a known answer: a
// map that points at the only evidence beats a random and an inverted map.
#include "core/engine/cancellation.h"
#include "core/engine/evaluation/faithfulness.h"
#include "core/engine/model/classifier.h"
#include "referencedata.h"

#include <QtTest>

using namespace attnviz;

namespace {

const std::string kData = ATTNVIZ_TEST_DATA "/faithfulness/";

std::vector<double> toVector(const torch::Tensor& t)
{
    const auto c = t.to(torch::kFloat64).contiguous();
    return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

double maxDifference(const std::vector<double>& a, const std::vector<double>& b)
{
    double worst = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i)
        worst = std::max(worst, std::abs(a[i] - b[i]));
    return worst;
}

// Two classes; logit 0 is the correlation of a 64 x 64 one-channel input with a
// checkerboard inside a 16 x 16 square, logit 1 is zero. Nothing outside the square counts.
class RegionClassifier : public engine::Classifier {
public:
    static torch::Tensor region()  // bool [64, 64]
    {
        auto r = torch::zeros({64, 64}, torch::kBool);
        r.slice(0, 24, 40).slice(1, 8, 24).fill_(true);
        return r;
    }
    static torch::Tensor evidence()  // [1, 64, 64]: the checkerboard inside the square, noise outside
    {
        const auto i = torch::arange(64);
        const auto checker = ((i.unsqueeze(1) + i.unsqueeze(0)) % 2).to(torch::kFloat32) * 2 - 1;
        const auto noise = torch::rand({64, 64}, at::make_generator<at::CPUGeneratorImpl>(3)) - 0.5;
        return torch::where(region(), checker, noise).unsqueeze(0);
    }

    const engine::ModelSpec& spec() const override { return m_spec; }
    torch::Tensor logits(const torch::Tensor& batch, bool) const override
    {
        const auto weights = torch::where(region(), evidence()[0], torch::zeros({64, 64}));
        const auto score = (batch.select(1, 0) * weights).sum({1, 2}) * (16.0 / region().sum().item<double>());
        return torch::stack({score, torch::zeros_like(score)}, 1);
    }
    torch::Device device() const override { return torch::kCPU; }
    void to(torch::Device) override { }
    std::vector<engine::Trace> forwardBatch(const torch::Tensor&) const override { throw std::logic_error("unused"); }
    engine::Activations activations(const torch::Tensor&) const override { throw std::logic_error("unused"); }
    torch::Tensor logitsReplacing(const torch::Tensor&, const engine::LayerReplacement&) const override
    {
        throw std::logic_error("unused");
    }
    engine::Activations activationsOfLastLayer(const torch::Tensor&, const engine::TokenLayout&) const override
    {
        throw std::logic_error("unused");
    }
    std::vector<std::pair<std::string, torch::Tensor>> namedParameters() const override { return {}; }
    io::TensorMap stateDict() const override { return {}; }

private:
    engine::ModelSpec m_spec;
};

}  // namespace

class TestFaithfulness : public QObject {
    Q_OBJECT

    std::map<std::string, torch::Tensor> m_ref;
    std::unique_ptr<engine::Classifier> m_model;

private slots:
    void initTestCase()
    {
        torch::set_num_threads(2);
        m_ref = testing::loadReference(kData + "faithfulness.safetensors");
        m_model = engine::loadClassifier(kData + "tv_resnet18_64.pth");
    }

    void areaIsRisesTrapezoid()
    {
        QCOMPARE(engine::causalArea({1.0, 1.0, 1.0}), 1.0);
        QCOMPARE(engine::causalArea({1.0, 0.0}), 0.5);
        QCOMPARE(engine::causalArea({0.2, 0.4, 0.9, 0.1}), (1.6 - 0.1 - 0.05) / 3);
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::causalArea({0.3}));
    }

    void curvesMatchRisesLoop_data()
    {
        QTest::addColumn<QByteArray>("name");
        QTest::addColumn<QByteArray>("saliency");
        QTest::addColumn<int>("steps");
        QTest::addColumn<QByteArray>("klass");
        // steps give RISE's pixels per step: 4096 / 32 = 128, ceil(4096 / 10) = 410
        QTest::newRow("full deletion blur")
            << QByteArray("full.deletion.blur") << QByteArray("full") << 32 << QByteArray("top");
        QTest::newRow("full insertion blur")
            << QByteArray("full.insertion.blur") << QByteArray("full") << 32 << QByteArray("top");
        QTest::newRow("full deletion zero")
            << QByteArray("full.deletion.zero") << QByteArray("full") << 32 << QByteArray("top");
        QTest::newRow("grid deletion blur")
            << QByteArray("grid.deletion.blur") << QByteArray("grid") << 10 << QByteArray("second");
        QTest::newRow("grid insertion zero")
            << QByteArray("grid.insertion.zero") << QByteArray("grid") << 10 << QByteArray("second");
    }

    void curvesMatchRisesLoop()
    {
        QFETCH(QByteArray, name);
        QFETCH(QByteArray, saliency);
        QFETCH(int, steps);
        QFETCH(QByteArray, klass);
        const auto key = name.toStdString();
        const bool deletion = name.contains("deletion");
        const auto substrate = name.endsWith("blur") ? engine::Substrate::Blur : engine::Substrate::Zero;
        engine::FaithfulnessOptions options;
        options.steps = steps;
        options.batch = 7;  // points straddle batches
        options.deletionSubstrate = options.insertionSubstrate = substrate;
        const int classIndex = int(m_ref.at(klass.toStdString()).item<int64_t>());
        const auto curve = engine::causalCurve(*m_model, m_ref.at("input"),
                                               m_ref.at("saliency." + saliency.toStdString()), classIndex,
                                               deletion ? engine::CausalMode::Deletion : engine::CausalMode::Insertion,
                                               options);
        const auto expected = toVector(m_ref.at(key + ".probabilities"));
        QCOMPARE(curve.probabilities.size(), expected.size());
        QCOMPARE(curve.fractions.front(), 0.0);
        QCOMPARE(curve.fractions.back(), 1.0);
        const double worst = maxDifference(curve.probabilities, expected);
        QVERIFY2(worst < 2e-5, ("probabilities differ by " + QByteArray::number(worst)).constData());
        QVERIFY(std::abs(curve.auc - m_ref.at(key + ".auc").item<double>()) < 1e-5);
    }

    void batchSizeDoesNotChangeTheCurve()
    {
        engine::FaithfulnessOptions one, many;
        one.batch = 1;
        many.batch = 64;
        const int top = int(m_ref.at("top").item<int64_t>());
        const auto a = engine::causalCurve(*m_model, m_ref.at("input"), m_ref.at("saliency.grid"), top,
                                           engine::CausalMode::Insertion, one);
        const auto b = engine::causalCurve(*m_model, m_ref.at("input"), m_ref.at("saliency.grid"), top,
                                           engine::CausalMode::Insertion, many);
        QCOMPARE(a.probabilities.size(), std::size_t(33));
        QVERIFY(maxDifference(a.probabilities, b.probabilities) < 1e-5);
    }

    void defaultClassIsThePrediction()
    {
        int calls = 0, lastDone = 0, lastTotal = 0;
        engine::FaithfulnessOptions options;
        options.steps = 4;
        options.batch = 2;
        const auto result = engine::faithfulness(*m_model, m_ref.at("input"), m_ref.at("saliency.grid"), -1, options,
                                                 [&](int done, int total) {
                                                     ++calls;
                                                     QVERIFY(done > lastDone);
                                                     lastDone = done;
                                                     lastTotal = total;
                                                 });
        QCOMPARE(result.classIndex, int(m_ref.at("top").item<int64_t>()));
        QCOMPARE(calls, 6);  // 5 points in batches of 2, twice
        QCOMPARE(lastDone, lastTotal);
        // Deletion starts from the image and insertion ends with it: the same probability.
        QVERIFY(std::abs(result.deletion.probabilities.front() - result.insertion.probabilities.back()) < 1e-5);
    }

    void badInputsAreRefused()
    {
        const auto input = m_ref.at("input");
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::causalCurve(*m_model, input, torch::rand({65, 64}), 0,
                                                                          engine::CausalMode::Deletion));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::causalCurve(*m_model, input, torch::rand({64}), 0,
                                                                          engine::CausalMode::Deletion));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError,
                                 engine::causalCurve(*m_model, input.repeat({2, 1, 1, 1}), torch::rand({8, 8}), 0,
                                                     engine::CausalMode::Deletion));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::causalCurve(*m_model, input, torch::rand({8, 8}), 1000,
                                                                          engine::CausalMode::Deletion));
    }

    void cancellationStopsBetweenBatches()
    {
        int passes = 0;
        engine::FaithfulnessOptions options;
        options.batch = 4;
        engine::CancellationScope scope([&] { return passes >= 2; });
        QVERIFY_THROWS_EXCEPTION(engine::Cancelled,
                                 engine::causalCurve(*m_model, m_ref.at("input"), m_ref.at("saliency.grid"), 0,
                                                     engine::CausalMode::Deletion, options,
                                                     [&](int, int) { ++passes; }));
        QCOMPARE(passes, 2);
    }

    // A model whose only evidence is a checkerboard in one square of the image (the blur
    // removes it): the map of that square must delete the class faster and insert it
    // faster than a random map and the inverted map.
    void aMapOfTheOnlyEvidenceBeatsRandomAndInverted()
    {
        const RegionClassifier model;
        const auto input = RegionClassifier::evidence().unsqueeze(0);  // [1, 1, 64, 64]
        const auto square = RegionClassifier::region().to(torch::kFloat32);
        const auto generator = at::make_generator<at::CPUGeneratorImpl>(7);
        const auto object = engine::faithfulness(model, input, square, 0);
        const auto random = engine::faithfulness(model, input, torch::rand({64, 64}, generator), 0);
        const auto inverted = engine::faithfulness(model, input, -square, 0);
        qInfo("deletion AUC object %.3f random %.3f inverted %.3f; insertion %.3f %.3f %.3f", object.deletion.auc,
              random.deletion.auc, inverted.deletion.auc, object.insertion.auc, random.insertion.auc,
              inverted.insertion.auc);
        QVERIFY(object.deletion.auc < random.deletion.auc && random.deletion.auc < inverted.deletion.auc);
        QVERIFY(object.insertion.auc > random.insertion.auc && random.insertion.auc > inverted.insertion.auc);
        // Deleting the square first leaves (almost) no evidence after its 1/16 of the pixels, 2 steps of 32.
        QVERIFY(object.deletion.probabilities.at(2) < 0.6 && object.deletion.probabilities.front() > 0.99);
    }
};

QTEST_GUILESS_MAIN(TestFaithfulness)
#include "tst_faithfulness.moc"
