// Linear CKA and the unbiased HSIC estimator held to methods.md's invariants, the
// estimator also against its definition as a U-statistic over 4-tuples.
#include "core/engine/engineerror.h"
#include "core/engine/model/classifier.h"
#include "core/engine/study/cka.h"
#include "core/engine/study/ckastudy.h"

#include <QtTest>

using namespace attnviz;

namespace {

torch::Tensor randomOrthogonal(int64_t n)
{
    return std::get<0>(torch::linalg_qr(torch::randn({n, n}, torch::kFloat64)));
}

// HSIC_1 = 1/(n)_4 * sum over distinct (i, j, q, r) of k_ij l_ij + k_ij l_qr - 2 k_ij l_iq
// (Song et al. 2012, Theorem 2), by brute force.
double hsicByDefinition(const torch::Tensor& k, const torch::Tensor& l)
{
    const int n = int(k.size(0));
    const auto K = k.accessor<double, 2>();
    const auto L = l.accessor<double, 2>();
    double sum = 0;
    long tuples = 0;
    for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j)
            for (int q = 0; q < n; ++q)
                for (int r = 0; r < n; ++r) {
                    if (i == j || i == q || i == r || j == q || j == r || q == r)
                        continue;
                    sum += K[i][j] * L[i][j] + K[i][j] * L[q][r] - 2 * K[i][j] * L[i][q];
                    ++tuples;
                }
    return sum / double(tuples);
}

torch::Tensor gramOf(const torch::Tensor& x)
{
    return torch::matmul(x, x.t());
}

torch::Tensor centred(const torch::Tensor& x)
{
    return x - x.mean(0, true);
}

// Minibatch CKA of one batch from two Gram matrices, in float64.
double hsicCka(const torch::Tensor& k, const torch::Tensor& l)
{
    return engine::unbiasedHsic(k, l) / std::sqrt(engine::unbiasedHsic(k, k) * engine::unbiasedHsic(l, l));
}

}  // namespace

class TestCka : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { torch::manual_seed(11); }

    void unbiasedHsicMatchesItsDefinition()
    {
        const auto x = torch::randn({7, 5}, torch::kFloat64);
        const auto y = torch::randn({7, 3}, torch::kFloat64) + x.narrow(1, 0, 3);
        const auto k = gramOf(x), l = gramOf(y);
        const double expected = hsicByDefinition(k, l);
        QVERIFY(std::abs(engine::unbiasedHsic(k, l) - expected) <= 1e-10 * std::abs(expected));
        QVERIFY(std::abs(engine::unbiasedHsic(k, l) - engine::unbiasedHsic(l, k)) <= 1e-12);
    }

    void linearCkaInvariants()
    {
        const auto x = torch::randn({40, 12}, torch::kFloat64);
        const auto y = torch::randn({40, 9}, torch::kFloat64) + 0.5 * x.narrow(1, 0, 9);
        const double cxy = engine::linearCka(x, y);
        QVERIFY(std::abs(engine::linearCka(x, x) - 1.0) < 1e-12);
        QVERIFY(std::abs(engine::linearCka(y, x) - cxy) < 1e-12);
        QVERIFY(std::abs(engine::linearCka(torch::matmul(x, randomOrthogonal(12)), y) - cxy) < 1e-10);
        QVERIFY(std::abs(engine::linearCka(x * 7.5, y) - cxy) < 1e-12);
        QVERIFY(cxy > 0 && cxy < 1);
        // Independent features are far less similar than related ones.
        QVERIFY(engine::linearCka(x, torch::randn({40, 9}, torch::kFloat64)) < cxy);
    }

    void minibatchCkaInvariants()
    {
        // Two "layers" per side over 4 minibatches of 16 examples.
        engine::CkaAccumulator acc(2, 2), swapped(2, 2);
        const auto q = randomOrthogonal(10);
        for (int b = 0; b < 4; ++b) {
            const auto a = torch::randn({16, 10}, torch::kFloat64);
            const auto c = torch::randn({16, 6}, torch::kFloat64) + a.narrow(1, 0, 6);
            acc.add({a, c}, {torch::matmul(a, q) * 3.0, c});
            swapped.add({torch::matmul(a, q) * 3.0, c}, {a, c});
        }
        const auto m = acc.result();
        QCOMPARE(acc.batches(), 4);
        // A rotated and scaled copy of a layer is the same representation.
        QVERIFY(std::abs(m[0][0].item<float>() - 1.0f) < 1e-5);
        QVERIFY(std::abs(m[1][1].item<float>() - 1.0f) < 1e-5);
        QVERIFY(torch::allclose(m, m.t(), 1e-5, 1e-5));
        QVERIFY(torch::allclose(swapped.result(), m.t(), 1e-5, 1e-5));
        QVERIFY(m[0][1].item<float>() > 0.05f && m[0][1].item<float>() < 0.95f);
    }

    void modelLayersGiveAUnitDiagonal()
    {
        // A fresh tiny ViT and ResNet: every layer against itself is 1, across is symmetric.
        const auto vit = engine::loadClassifier(ATTNVIZ_TEST_DATA "/reference/timm_vit");
        const auto cnn = engine::loadClassifier(ATTNVIZ_TEST_DATA "/gradients/tv_resnet18.pth");
        torch::NoGradGuard noGrad;
        const auto batch = torch::randn({6, 3, 64, 64});
        const auto vitLayers = engine::ckaLayers(vit->activations(batch));
        const auto cnnLayers = engine::ckaLayers(cnn->activations(batch));
        QCOMPARE(vitLayers.names.size(), std::size_t(4));
        QCOMPARE(vitLayers.names[0], std::string("block 0"));
        QCOMPARE(cnnLayers.names.size(), std::size_t(2 + 8));  // conv1, maxpool, 8 basic blocks
        QCOMPARE(cnnLayers.names.back(), std::string("layer4.1"));
        engine::CkaAccumulator self(4, 4), cross(4, 10);
        self.add(vitLayers.values, vitLayers.values);
        cross.add(vitLayers.values, cnnLayers.values);
        const auto m = self.result();
        QVERIFY(torch::allclose(m.diagonal(), torch::ones({4}), 1e-5, 1e-5));
        QVERIFY(torch::allclose(m, m.t(), 1e-5, 1e-5));
        QCOMPARE(cross.result().sizes(), (torch::IntArrayRef{4, 10}));
    }

    void studyRunsEveryPairOverMinibatches()
    {
        const auto vit = engine::loadClassifier(ATTNVIZ_TEST_DATA "/reference/timm_vit");
        const auto cnn = engine::loadClassifier(ATTNVIZ_TEST_DATA "/gradients/tv_resnet18.pth");
        const auto images = torch::randn({10, 3, 64, 64});
        // 10 images in minibatches of 4: the last 2 cannot form an unbiased estimate.
        QCOMPARE(engine::ckaUsableImages(10, 4), std::size_t(8));
        QCOMPARE(engine::ckaUsableImages(13, 4), std::size_t(12));
        QCOMPARE(engine::ckaUsableImages(14, 5), std::size_t(14));  // a last minibatch of 4 is kept
        std::vector<std::size_t> reported;
        const auto load = [&](std::size_t first, std::size_t count, const engine::CkaModel&) {
            return images.narrow(0, int64_t(first), int64_t(count));
        };
        const std::vector<engine::CkaModel> models{{"vit", vit.get()}, {"cnn", cnn.get()}};
        const auto study = engine::compareLayers(models, 10, 4, load, [&](std::size_t done, std::size_t total) {
            reported.push_back(done);
            return total == 8;
        });
        QCOMPARE(study.imagesUsed, std::size_t(8));
        QCOMPARE(reported, (std::vector<std::size_t>{4, 8}));
        QCOMPARE(study.matrices.size(), std::size_t(3));
        QCOMPARE(study.matrices[2].rowRole + "_" + study.matrices[2].colRole, std::string("vit_cnn"));
        QCOMPARE(study.matrices[2].values.sizes(), (torch::IntArrayRef{4, 10}));
        // The same numbers as accumulating the two minibatches by hand.
        torch::NoGradGuard noGrad;
        engine::CkaAccumulator cross(4, 10);
        for (int64_t first : {0, 4}) {
            const auto batch = images.narrow(0, first, 4);
            cross.add(engine::ckaLayers(vit->activations(batch)).values,
                      engine::ckaLayers(cnn->activations(batch)).values);
        }
        QVERIFY(torch::allclose(study.matrices[2].values, cross.result(), 1e-5, 1e-6));
        QVERIFY(torch::allclose(study.matrices[0].values.diagonal(), torch::ones({4}), 1e-5, 1e-5));
        // Asking to stop ends the study with an error, never a partial matrix.
        QVERIFY_THROWS_EXCEPTION(engine::EngineError,
                                 engine::compareLayers(models, 10, 4, load,
                                                       [](std::size_t, std::size_t) { return false; }));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::compareLayers(models, 3, 4, load));
    }

    void batchedHsicEqualsEveryPair()
    {
        auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
        std::vector<torch::Tensor> ks, ls;
        for (int i = 0; i < 3; ++i)
            ks.push_back(gramOf(torch::randn({9, 4 + i}, gen, torch::kFloat64)));
        for (int j = 0; j < 4; ++j)
            ls.push_back(gramOf(torch::randn({9, 7}, gen, torch::kFloat64)));
        const auto matrix = engine::unbiasedHsicMatrix(torch::stack(ks), torch::stack(ls));
        QCOMPARE(matrix.sizes(), (torch::IntArrayRef{3, 4}));
        for (int i = 0; i < 3; ++i)
            for (int j = 0; j < 4; ++j) {
                const double pair = engine::unbiasedHsic(ks[std::size_t(i)], ls[std::size_t(j)]);
                QVERIFY(std::abs(matrix[i][j].item<double>() - pair) <= 1e-12 * std::max(1.0, std::abs(pair)));
            }
    }

    void unbiasedHsicIgnoresACommonOffset()
    {
        // Adding a constant vector to every example leaves the unbiased HSIC unchanged (in
        // exact arithmetic; here float64 on a small offset), so centring is free.
        const auto x = torch::randn({9, 6}, torch::kFloat64);
        const auto y = torch::randn({9, 4}, torch::kFloat64) + x.narrow(1, 0, 4);
        const auto shiftedX = x + torch::randn({1, 6}, torch::kFloat64) * 3.0;
        const auto shiftedY = y - 2.0;
        const double plain = engine::unbiasedHsic(gramOf(x), gramOf(y));
        QVERIFY(std::abs(engine::unbiasedHsic(gramOf(shiftedX), gramOf(shiftedY)) - plain) <= 1e-10 * std::abs(plain));
        QVERIFY(std::abs(engine::unbiasedHsic(gramOf(centred(x)), gramOf(centred(y))) - plain)
                <= 1e-10 * std::abs(plain));
        // centredGram is the Gram of the minibatch-centred features, whatever the offset.
        QVERIFY(torch::allclose(engine::centredGram(shiftedX.to(torch::kFloat32)), gramOf(centred(x)), 1e-5, 1e-5));
        QCOMPARE(engine::centredGram(shiftedX).scalar_type(), torch::kFloat64);
    }

    void centringKeepsPrecisionUnderALargeOffset()
    {
        // float32 features with a large common offset (1000 and -500, unit spread) and
        // many dimensions, like a late CNN stage. The float64 reference uses the same
        // float32 values.
        const int64_t n = 16, p = 50000;
        const auto xNoise = torch::randn({n, p}, torch::kFloat64);
        const auto yNoise = xNoise.narrow(1, 0, 30000) + torch::randn({n, 30000}, torch::kFloat64);
        const auto x32 = (xNoise + 1000.0).to(torch::kFloat32);
        const auto y32 = (yNoise - 500.0).to(torch::kFloat32);
        const auto x = x32.to(torch::kFloat64), y = y32.to(torch::kFloat64);
        const double expected = hsicCka(gramOf(centred(x)), gramOf(centred(y)));
        QVERIFY(expected > 0.2 && expected < 0.8);
        // Uncentred float32 Gram matrices (entries ~p * 1e6) lose the signal entirely.
        const double uncentred = hsicCka(gramOf(x32).to(torch::kFloat64), gramOf(y32).to(torch::kFloat64));
        QVERIFY2(!(std::abs(uncentred - expected) < 0.05), qPrintable(QString::number(uncentred)));
        engine::CkaAccumulator acc(1, 1);
        acc.add({x32}, {y32});
        const double got = acc.result()[0][0].item<double>();
        QVERIFY2(std::abs(got - expected) < 1e-6, qPrintable(QStringLiteral("%1 vs %2").arg(got).arg(expected)));
        QCOMPARE(acc.degenerateRows(), std::vector<bool>{false});
    }

    void constantLayersAreReportedNotDivided()
    {
        // Rows: a varying layer, a constant one, one that varies only at float32 rounding
        // level, an all-zero one; columns: a varying layer and a constant one.
        engine::CkaAccumulator acc(4, 2), clean(1, 1);
        for (int b = 0; b < 3; ++b) {
            const auto a = torch::randn({8, 5});
            const auto c = torch::randn({8, 3}) + a.narrow(1, 0, 3);
            const auto constant = torch::full({8, 7}, 2.5f);
            const auto base = torch::randn({1, 6}) + 5.0;
            const auto rounding = base * (1.0 + 1e-7 * torch::randn({8, 1}));
            acc.add({a, constant, rounding, torch::zeros({8, 2})}, {c, torch::full({8, 1, 3}, -1.0f)});
            clean.add({a}, {c});
        }
        QCOMPARE(acc.degenerateRows(), (std::vector<bool>{false, true, true, true}));
        QCOMPARE(acc.degenerateCols(), (std::vector<bool>{false, true}));
        const auto m = acc.result();
        QVERIFY(std::abs(m[0][0].item<double>() - clean.result()[0][0].item<double>()) < 1e-6);
        QVERIFY(m.slice(0, 1).isnan().all().item<bool>());
        QVERIFY(m.select(1, 1).isnan().all().item<bool>());
        QCOMPARE(int(m.isnan().sum().item<int64_t>()), 3 * 2 + 1);
    }

    void studyNamesDegenerateLayers()
    {
        // Every image of the minibatch the same: no layer varies, none has a defined CKA.
        const auto cnn = engine::loadClassifier(ATTNVIZ_TEST_DATA "/gradients/tv_resnet18.pth");
        const auto image = torch::randn({1, 3, 32, 32});
        const auto load = [&](std::size_t, std::size_t count, const engine::CkaModel&) {
            return image.expand({int64_t(count), 3, 32, 32}).contiguous();
        };
        const auto study = engine::compareLayers({{"cnn", cnn.get()}}, 4, 4, load);
        QCOMPARE(study.degenerateLayers.size(), std::size_t(1));
        QCOMPARE(study.degenerateLayers[0].first, std::string("cnn"));
        QCOMPARE(study.degenerateLayers[0].second, study.matrices[0].rowLayers);
        QVERIFY(study.matrices[0].values.isnan().all().item<bool>());
        QCOMPARE(study.matrices[0].colDegenerate, std::vector<bool>(study.matrices[0].colLayers.size(), true));
        // Different images: nothing is degenerate.
        const auto images = torch::randn({4, 3, 32, 32});
        const auto varied = engine::compareLayers({{"cnn", cnn.get()}}, 4, 4,
                                                  [&](std::size_t, std::size_t, const engine::CkaModel&) {
                                                      return images;
                                                  });
        QVERIFY(varied.degenerateLayers[0].second.empty());
        QVERIFY(!varied.matrices[0].values.isnan().any().item<bool>());
    }

    void badInputsAreErrors()
    {
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::unbiasedHsic(torch::eye(3), torch::eye(3)));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::unbiasedHsic(torch::eye(5), torch::eye(6)));
        engine::CkaAccumulator acc(1, 1);
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, acc.result());
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, acc.add({torch::randn({8, 2})}, {}));
    }
};

QTEST_GUILESS_MAIN(TestCka)
#include "tst_cka.moc"
