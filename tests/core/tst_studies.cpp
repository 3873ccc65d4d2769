// The ViT-versus-CNN study (core/engine/study): known answers on built models and
// synthetic traces, and parity with tests/scripts/study_reference.py (torchvision's ViT
// and ResNet-18 with module hooks, the quantities in plain PyTorch/NumPy).
#include "referencedata.h"

#include "core/engine/engineerror.h"
#include "core/engine/model/classifier.h"
#include "core/engine/study/artifacttokens.h"
#include "core/engine/study/headtable.h"
#include "core/engine/study/linearprobe.h"
#include "core/engine/study/localization.h"
#include "core/engine/study/skipstrength.h"
#include "core/engine/tensorconvert.h"
#include "core/io/checkpointfile.h"
#include "core/io/imagefolder.h"

#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <filesystem>
#include <fstream>

using namespace attnviz;

namespace {

const std::string kData = ATTNVIZ_TEST_DATA "/studies/";

// The checkpoint at `path` with the named tensors replaced by zeros.
std::unique_ptr<engine::Classifier> withZeros(const std::string& path, const std::vector<std::string>& names)
{
    auto checkpoint = io::loadCheckpoint(path);
    for (const auto& name : names) {
        const auto& raw = checkpoint.tensors.at(name);
        checkpoint.tensors[name] = engine::toRawF32(torch::zeros(raw.shape));
    }
    return engine::buildClassifier(checkpoint.tensors, checkpoint.config);
}

std::vector<std::string> zeroedBranches(int block)
{
    const auto p = "blocks." + std::to_string(block) + ".";
    return {p + "attn.proj.weight", p + "attn.proj.bias", p + "mlp.fc2.weight", p + "mlp.fc2.bias"};
}

// A synthetic ViT trace: CLS [+ distillation] [+ registers] + a 4 x 4 grid, one block,
// one head, the given token norms and the CLS query's attention row.
engine::Trace syntheticTrace(const torch::Tensor& norms, const torch::Tensor& clsRow, int registers = 0,
                             bool dist = false)
{
    engine::Trace trace;
    trace.tokens.hasCls = true;
    trace.tokens.hasDist = dist;
    trace.tokens.regTokens = registers;
    trace.tokens.gridH = trace.tokens.gridW = 4;
    trace.tokens.patchSize = 16;
    const int64_t t = trace.tokens.tokens();
    auto attention = torch::full({1, t, t}, 1.0 / double(t));
    attention[0][0] = clsRow;
    trace.attention = engine::AttentionRecord::ofMatrices({attention}, trace.tokens);
    trace.tokenNorms = {norms};
    return trace;
}

// [N, P] norms of one addition over a batch of traces, in image order.
torch::Tensor stacked(const std::vector<engine::Trace>& traces, std::size_t addition, bool skip)
{
    std::vector<torch::Tensor> rows;
    for (const auto& t : traces)
        rows.push_back(skip ? t.residuals.at(addition).skip : t.residuals.at(addition).branch);
    return torch::cat(rows);
}

}  // namespace

class TestStudies : public QObject {
    Q_OBJECT

    std::map<std::string, torch::Tensor> ref;
    std::unique_ptr<engine::Classifier> vit, cnn;
    std::vector<engine::Trace> vitTraces, cnnTraces;

private slots:
    void initTestCase()
    {
        ref = testing::loadReference(kData + "studies.safetensors");
        vit = engine::loadClassifier(kData + "vit");
        cnn = engine::loadClassifier(kData + "tv_resnet18.pth");
        vitTraces = vit->forwardBatch(ref.at("vit.inputs"));
        cnnTraces = cnn->forwardBatch(ref.at("cnn.inputs"));
    }

    // --- known answers -------------------------------------------------------------

    void aBranchThatAddsZeroHasAnInfiniteRatio()
    {
        const auto model = withZeros(kData + "vit", zeroedBranches(2));
        engine::SkipAccumulator sums;
        for (const auto& trace : model->forwardBatch(ref.at("vit.inputs").narrow(0, 0, 2)))
            sums.add(trace.residuals, trace.tokens.prefixTokens(), trace.tokens.hasCls);
        const auto ratios = sums.result();
        QCOMPARE(int(ratios.size()), 8);
        for (const auto& r : ratios) {
            const bool zeroed = r.name.rfind("2.", 0) == 0;
            QCOMPARE(r.spatialBranch == 0.0, zeroed);
            QCOMPARE(std::isinf(r.spatialRatio()), zeroed);
            QCOMPARE(std::isinf(r.clsRatio()), zeroed);
        }
        QCOMPARE(ratios[4].branch, std::string("attention"));
        QCOMPARE(ratios[5].branch, std::string("mlp"));
        QCOMPARE(ratios.back().relativeDepth, 1.0);
    }

    void aResidualBlockWhoseMainPathIsZero()
    {
        // bn2's scale and shift at zero: the BasicBlock's main path outputs zeros.
        const auto model = withZeros(kData + "tv_resnet18.pth", {"layer3.0.bn2.weight", "layer3.0.bn2.bias"});
        engine::SkipAccumulator sums;
        for (const auto& trace : model->forwardBatch(ref.at("cnn.inputs").narrow(0, 0, 2)))
            sums.add(trace.residuals, 0, false);
        for (const auto& r : sums.result()) {
            QCOMPARE(r.branch, std::string("block"));
            QVERIFY(std::isnan(r.clsRatio()));
            QCOMPARE(std::isinf(r.spatialRatio()), r.name == "layer3.0");
        }
    }

    void aNetworkWithoutResidualAdditionsHasNoRatios()
    {
        engine::SkipAccumulator sums;
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, sums.result());  // nothing measured yet
        sums.add({}, 0, false);                                        // a VGG or DenseNet trace
        QVERIFY(sums.result().empty());
    }

    void separableFeaturesAreProbedPerfectly()
    {
        auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
        const auto labels = torch::randint(0, 5, {400}, gen);
        // Each class its own direction, far apart, plus noise: linearly separable.
        const auto x = torch::one_hot(labels, 5).to(torch::kFloat32) * 10 + torch::randn({400, 5}, gen);
        const auto score = engine::fitLinearProbe(x.narrow(0, 0, 300), labels.narrow(0, 0, 300), x.narrow(0, 300, 100),
                                                  labels.narrow(0, 300, 100), 5);
        QCOMPARE(score.trainAccuracy, 1.0);
        QCOMPARE(score.testAccuracy, 1.0);
    }

    void shuffledLabelsAreProbedAtChance()
    {
        auto gen = at::make_generator<at::CPUGeneratorImpl>(11);
        const auto labels = torch::randint(0, 4, {2400}, gen);
        const auto x = torch::one_hot(labels, 4).to(torch::kFloat32) * 10 + torch::randn({2400, 4}, gen);
        const auto shuffled = labels.index_select(0, torch::randperm(2400, gen));
        const auto score = engine::fitLinearProbe(x.narrow(0, 0, 1600), shuffled.narrow(0, 0, 1600),
                                                  x.narrow(0, 1600, 800), shuffled.narrow(0, 1600, 800), 4);
        // Chance is 0.25; 800 held-out labels put 4 standard deviations at 0.06.
        QVERIFY2(std::abs(score.testAccuracy - 0.25) < 0.06, std::to_string(score.testAccuracy).c_str());
        // The same features with their true labels are separable: the probe itself works.
        QCOMPARE(engine::fitLinearProbe(x.narrow(0, 0, 1600), labels.narrow(0, 0, 1600), x.narrow(0, 1600, 800),
                                        labels.narrow(0, 1600, 800), 4)
                     .testAccuracy,
                 1.0);
    }

    void anInjectedHighNormTokenIsFlagged()
    {
        auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
        auto norms = 10 + 0.5 * torch::randn({17}, gen);  // CLS + 16 patches
        norms[1 + 6] = 40.0;                              // patch (1, 2): an artifact
        auto clsRow = torch::full({17}, 0.5 / 16);
        clsRow[1 + 6] = 0.5 + 0.5 / 16;
        clsRow[0] = 0;
        const auto study = engine::studyTokens(syntheticTrace(norms, clsRow));
        QCOMPARE(study.artifacts, std::vector<int64_t>{6});
        QCOMPARE(study.clsOnArtifacts[0][0].item<double>(), 0.5 + 0.5 / 16);
        QCOMPARE(study.blocks[0].patchNorms[1][2].item<float>(), 40.0f);

        // An ordinary token (one standard deviation above the rest) is not flagged.
        norms[1 + 6] = 10.5;
        QVERIFY(engine::studyTokens(syntheticTrace(norms, clsRow)).artifacts.empty());
    }

    void registersAndTheirAttentionAreReported()
    {
        // CLS, 2 registers, 16 patches: the CLS row gives 0.3 to the registers.
        auto norms = torch::full({19}, 5.0);
        auto clsRow = torch::full({19}, 0.7 / 16);
        clsRow[0] = 0;
        clsRow[1] = clsRow[2] = 0.15;
        const auto study = engine::studyTokens(syntheticTrace(norms, clsRow, 2));
        QVERIFY(study.artifacts.empty());  // equal norms: MAD 0 flags nothing
        QVERIFY(std::isinf(study.blocks[0].threshold));
        QVERIFY(std::abs(study.clsOnRegisters[0][0].item<double>() - 0.3) < 1e-6);
        QCOMPARE(study.registerAttention.sizes(), (torch::IntArrayRef{1, 1, 2, 4, 4}));
        QVERIFY(std::abs(study.registerAttention.sum().item<double>() - 2 * 16.0 / 19) < 1e-5);
    }

    void distillationAndRegisterTokensAreSkippedByPosition()
    {
        // [CLS, dist, reg, reg, 16 patches]: the artifact at patch 5 is key 4 + 5.
        auto norms = torch::full({20}, 5.0) + 0.1 * torch::arange(20).remainder(3);
        norms[4 + 5] = 50.0;
        norms[1] = 80.0;  // a high-norm distillation token is not a patch
        auto clsRow = torch::zeros({20});
        clsRow[1] = 0.2;               // distillation
        clsRow[2] = clsRow[3] = 0.15;  // registers
        clsRow[4 + 5] = 0.4;           // the artifact
        clsRow[4] = 0.1;
        auto trace = syntheticTrace(norms, clsRow, 2, /*dist=*/true);  // every other row 1/20 each
        const auto study = engine::studyTokens(trace);
        QCOMPARE(study.artifacts, std::vector<int64_t>{5});
        QVERIFY(std::abs(study.clsOnArtifacts[0][0].item<double>() - 0.4) < 1e-6);
        QVERIFY(std::abs(study.clsOnRegisters[0][0].item<double>() - 0.3) < 1e-6);
        QCOMPARE(study.blocks[0].prefixNorms[1].item<float>(), 80.0f);
        // The registers' rows are queries 2 and 3; each gives 1/20 to each of the 16 patches.
        QVERIFY(std::abs(study.registerAttention.sum().item<double>() - 2 * 16 / 20.0) < 1e-5);
        // The residual norms skip all four prefix tokens for the spatial mean.
        engine::SkipAccumulator sums;
        auto skip = torch::ones({1, 20}), branch = torch::ones({1, 20});
        skip.narrow(1, 0, 4).fill_(100.0);
        sums.add({{"0.attn", skip, branch}}, trace.tokens.prefixTokens(), true);
        QCOMPARE(sums.result()[0].spatialRatio(), 1.0);
        QCOMPARE(sums.result()[0].clsRatio(), 100.0);
    }

    void entropyIsZeroForOneKeyAndLogTForAll()
    {
        const auto norms = torch::full({17}, 1.0);
        auto uniform = syntheticTrace(norms, torch::full({17}, 1.0 / 17));
        auto table = engine::headTable(uniform, engine::studyTokens(uniform));
        QVERIFY(std::abs(table[0].entropy - std::log(17.0)) < 1e-6);
        auto focused = uniform;
        auto onCls = torch::zeros({1, 17, 17});
        onCls.select(2, 0).fill_(1.0);  // every query looks at CLS only
        focused.attention = engine::AttentionRecord::ofMatrices({onCls}, focused.tokens);
        table = engine::headTable(focused, engine::studyTokens(focused));
        QCOMPARE(table[0].entropy, 0.0);
        QCOMPARE(table[0].distance, 0.0);  // prefix keys count as distance 0
        QVERIFY(engine::headTableCsv(table).rfind("layer,head,distance_px,entropy_nats", 0) == 0);
    }

    void tokensThatAreTheirEmbeddingsLocalizePerfectly()
    {
        // Every block adds zero: the last block's tokens are the patch embeddings.
        std::vector<std::string> zeros;
        for (int b = 0; b < 4; ++b)
            for (const auto& name : zeroedBranches(b))
                zeros.push_back(name);
        const auto model = withZeros(kData + "vit", zeros);
        engine::LocalizationAccumulator sums;
        const auto input = ref.at("vit.inputs");
        torch::NoGradGuard noGrad;
        sums.add(engine::localizationPair(model->activations(input), input));
        const auto r = sums.result();
        QCOMPARE(r.diagonalHits, 196);
        QVERIFY(std::abs(r.meanDiagonal - 1.0) < 1e-6);
        QVERIFY(r.meanOffDiagonal < 0.9);
    }

    void imageFolderSplitsEveryClassEvenly()
    {
        QTemporaryDir dir;
        const std::filesystem::path root = dir.path().toStdString();
        for (const char* c : {"cat", "bird"}) {
            std::filesystem::create_directories(root / c / "sub");
            for (int i = 0; i < 10; ++i)
                std::ofstream(root / c / (i < 5 ? "" : "sub") / ("img" + std::to_string(i) + ".png")) << "x";
        }
        std::ofstream(root / "cat" / "notes.txt") << "not an image";
        const auto all = io::readImageFolder(root.string());
        QCOMPARE(all.classes, (std::vector<std::string>{"bird", "cat"}));
        QCOMPARE(int(all.paths.size()), 20);
        QCOMPARE(all.labels.front(), int64_t(0));
        const auto split = io::splitImageFolder(all, 0.2);
        QCOMPARE(int(split.test.paths.size()), 4);  // 2 of each class's 10
        QCOMPARE(int(std::count(split.test.labels.begin(), split.test.labels.end(), 1)), 2);
        QCOMPARE(int(io::evenlySpaced(all, 4).labels[2]), 1);  // a limit keeps both classes
        QVERIFY_THROWS_EXCEPTION(std::runtime_error, io::readImageFolder((root / "cat" / "sub").string()));
    }

    // --- parity with torchvision + PyTorch -----------------------------------------

    void vitResidualNormsMatchTorchvision()
    {
        const auto& additions = vitTraces.front().residuals;
        QCOMPARE(int(additions.size()), 8);
        for (std::size_t i = 0; i < additions.size(); ++i) {
            const auto key = "vit.residual." + additions[i].name;
            QVERIFY2(testing::relativeDiff(stacked(vitTraces, i, true), ref.at(key + ".skip")) < 1e-4, key.c_str());
            QVERIFY2(testing::relativeDiff(stacked(vitTraces, i, false), ref.at(key + ".branch")) < 1e-4, key.c_str());
        }
        for (std::size_t b = 0; b < 4; ++b) {
            std::vector<torch::Tensor> rows;
            for (const auto& t : vitTraces)
                rows.push_back(t.tokenNorms[b].unsqueeze(0));
            QVERIFY(testing::relativeDiff(torch::cat(rows), ref.at("vit.token_norms." + std::to_string(b))) < 1e-4);
        }
    }

    void cnnResidualNormsMatchTorchvision()
    {
        const auto& additions = cnnTraces.front().residuals;
        QCOMPARE(int(additions.size()), 8);  // ResNet-18: 4 stages of 2 blocks
        for (std::size_t i = 0; i < additions.size(); ++i) {
            const auto key = "cnn.residual." + additions[i].name;
            QVERIFY2(testing::relativeDiff(stacked(cnnTraces, i, true), ref.at(key + ".skip")) < 1e-4, key.c_str());
            QVERIFY2(testing::relativeDiff(stacked(cnnTraces, i, false), ref.at(key + ".branch")) < 1e-4, key.c_str());
        }
    }

    void artifactsAndTheHeadTableMatchTheReference()
    {
        const auto mask = ref.at("vit.artifact_mask");
        int flagged = 0;
        for (std::size_t n = 0; n < vitTraces.size(); ++n) {
            const auto study = engine::studyTokens(vitTraces[n]);
            const auto expected = mask[int64_t(n)].nonzero().flatten();
            QCOMPARE(study.artifacts, std::vector<int64_t>(expected.data_ptr<int64_t>(),
                                                           expected.data_ptr<int64_t>() + expected.numel()));
            flagged += int(study.artifacts.size());
            const auto table = engine::headTable(vitTraces[n], study);
            for (const auto& row : table) {
                const auto at = [&](const char* key) {
                    return ref.at(key)[int64_t(n)][row.layer][row.head].item<double>();
                };
                QVERIFY(std::abs(row.clsOnArtifacts - at("vit.cls_on_artifacts")) < 1e-5);
                QVERIFY(std::abs(row.entropy - at("vit.entropy")) < 1e-4);
            }
        }
        qInfo("%d artifact tokens flagged over %d images", flagged, int(vitTraces.size()));
        QVERIFY(flagged >= 4);  // the four brightened patches at least: the CLS mass is compared on them
    }

    void pooledProbeFeaturesMatchTorchvision()
    {
        torch::NoGradGuard noGrad;
        const auto vitPooled = engine::pooledLayers(vit->activations(ref.at("vit.inputs")));
        QCOMPARE(int(vitPooled.size()), 8);  // 4 blocks x (CLS, mean)
        for (const auto& layer : vitPooled) {
            const auto key = "vit.pooled." + layer.name.substr(6) + "." + layer.pooling;
            QVERIFY2(testing::relativeDiff(layer.value, ref.at(key)) < 1e-4, key.c_str());
        }
        const auto cnnPooled = engine::pooledLayers(cnn->activations(ref.at("cnn.inputs")));
        QCOMPARE(int(cnnPooled.size()), 10);  // conv1, maxpool, 8 blocks
        for (const auto& layer : cnnPooled) {
            const auto key = "cnn.pooled." + layer.name;
            QVERIFY2(testing::relativeDiff(layer.value, ref.at(key)) < 1e-4, key.c_str());
        }
    }

    void theProbeMatchesTorchsLbfgs()
    {
        const auto score = engine::fitLinearProbe(ref.at("probe.train_x"), ref.at("probe.train_y"),
                                                  ref.at("probe.test_x"), ref.at("probe.test_y"), 4);
        const auto expected = ref.at("probe.accuracy");
        qInfo("train %.4f (torch %.4f), held out %.4f (torch %.4f)", score.trainAccuracy, expected[0].item<double>(),
              score.testAccuracy, expected[1].item<double>());
        // Both optimise the same convex objective; at most one of 300 / 200 examples may
        // land on the other side of a boundary that the two stopping points place apart.
        QVERIFY(std::abs(score.trainAccuracy - expected[0].item<double>()) <= 1.0 / 300 + 1e-9);
        QVERIFY(std::abs(score.testAccuracy - expected[1].item<double>()) <= 1.0 / 200 + 1e-9);
        QVERIFY(score.testAccuracy > 0.4 && score.testAccuracy < 0.95);  // neither chance nor trivial
    }

    void localizationMatchesTheReference()
    {
        torch::NoGradGuard noGrad;
        for (const auto& [role, model] : {std::pair{"vit", vit.get()}, std::pair{"cnn", cnn.get()}}) {
            const auto input = ref.at(std::string(role) + ".inputs");
            engine::LocalizationAccumulator sums;
            for (int64_t first = 0; first < 8; first += 4) {
                const auto part = input.narrow(0, first, 4);
                sums.add(engine::localizationPair(model->activations(part), part));
            }
            const auto r = sums.result();
            const auto diff = testing::maxAbsDiff(r.similarity, ref.at(std::string(role) + ".localization"));
            QVERIFY2(diff < 1e-4, (std::string(role) + " " + std::to_string(diff)).c_str());
        }
    }
};

QTEST_GUILESS_MAIN(TestStudies)
#include "tst_studies.moc"
