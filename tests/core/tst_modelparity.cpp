// Our ViT and ResNet forward passes against torchvision run on the same weights and
// inputs (tests/scripts/make_reference.py, run at test time by a CTest fixture).
#include "core/engine/loading/weightsource.h"
#include "core/engine/model/classifier.h"
#include "core/io/checkpointfile.h"

#include "tests/core/referencedata.h"

#include <QtTest>

using namespace attnviz;
using testing::loadReference;
using testing::maxAbsDiff;
using testing::relativeDiff;

namespace {

const QString kData = QStringLiteral(ATTNVIZ_TEST_DATA "/reference/");

}  // namespace

class TestModelParity : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { torch::set_num_threads(2); }

    void vitMatchesReference_data()
    {
        QTest::addColumn<QString>("model");
        QTest::addColumn<QString>("reference");
        QTest::addColumn<QString>("naming");
        QTest::addColumn<int>("heads");
        QTest::addColumn<int>("prefixTokens");
        // clang-format off
        QTest::newRow("torchvision vit_b_16 (.pth)") << "tv_vit_b_16.pth" << "tv_vit_b_16.ref.safetensors" << "torchvision" << 12 << 1;
        QTest::newRow("timm vit (safetensors)") << "timm_vit" << "timm_vit.ref.safetensors" << "timm" << 3 << 1;
        QTest::newRow("timm vit, non-square 160x256") << "timm_vit" << "timm_vit.nonsquare.ref.safetensors" << "timm" << 3 << 1;
        QTest::newRow("DeiT distilled") << "deit_distilled" << "deit_distilled.ref.safetensors" << "timm" << 3 << 2;
        QTest::newRow("HF transformers vit") << "hf_vit" << "timm_vit.ref.safetensors" << "hf" << 3 << 1;
        // HF resamples the position embedding without antialiasing, timm with it.
        QTest::newRow("HF vit, non-square 160x256") << "hf_vit" << "hf_vit.nonsquare.ref.safetensors" << "hf" << 3 << 1;
        QTest::newRow("timm registers, LayerScale, avg pool") << "timm_vit_reg" << "timm_vit_reg.ref.safetensors" << "timm" << 3 << 5;
        QTest::newRow("DINO teacher checkpoint") << "dino_teacher.pth" << "dino_teacher.ref.safetensors" << "timm" << 3 << 1;
        // clang-format on
    }

    void vitMatchesReference()
    {
        QFETCH(QString, model);
        QFETCH(QString, reference);
        QFETCH(QString, naming);
        QFETCH(int, heads);
        QFETCH(int, prefixTokens);
        const auto ref = loadReference((kData + reference).toStdString());
        const auto vit = engine::loadClassifier((kData + model).toStdString());
        QCOMPARE(QString::fromStdString(engine::namingName(vit->spec().naming)), naming);
        QCOMPARE(vit->spec().heads, heads);
        QCOMPARE(vit->spec().prefixTokens(), prefixTokens);

        const auto input = ref.at("vit.input");
        const auto trace = vit->forward(input);
        QCOMPARE(trace.tokens.gridH, int(input.size(2)) / vit->spec().patchSize);
        QCOMPARE(trace.tokens.gridW, int(input.size(3)) / vit->spec().patchSize);
        QCOMPARE(trace.attention.depth(), vit->spec().depth);
        for (int l = 0; l < trace.attention.depth(); ++l) {
            const auto& expected = ref.at("vit.attn." + std::to_string(l));
            QCOMPARE(trace.attention.matrix(l).unsqueeze(0).sizes(), expected.sizes());
            const double diff = maxAbsDiff(trace.attention.matrix(l).unsqueeze(0), expected);
            QVERIFY2(diff <= 1e-5, qPrintable(QStringLiteral("block %1: attention differs by %2").arg(l).arg(diff)));
        }
        if (ref.count("vit.logits")) {
            const double diff = relativeDiff(trace.logits, ref.at("vit.logits"));
            QVERIFY2(diff <= 1e-4, qPrintable(QStringLiteral("logits differ by %1 (relative)").arg(diff)));
        } else {
            QVERIFY(!trace.logits.defined());
        }
    }

    // DINO's ViT-S/8 shape at 480 px (3601 tokens): every block's CLS row and a query
    // patch's row against torchvision's need_weights attention, from a trace that keeps
    // queries and keys instead of the 3.7 GB of matrices.
    void largeInputRowsMatchReference()
    {
        const auto ref = loadReference((kData + QStringLiteral("tv_vit_s_8_480.ref.safetensors")).toStdString());
        const auto queryRows = loadReference(
            (kData + QStringLiteral("tv_vit_s_8_480.query.safetensors")).toStdString());
        const auto vit = engine::loadClassifier((kData + QStringLiteral("tv_vit_s_8_480.pth")).toStdString());
        const auto trace = vit->forward(ref.at("vit.input"));
        QCOMPARE(trace.tokens.tokens(), 3601);
        QVERIFY(relativeDiff(trace.logits, ref.at("vit.logits")) <= 1e-4);
        const int64_t query = 1 + 17 * 60 + 41;  // S8_QUERY_ROW, S8_QUERY_COL in make_reference.py
        QCOMPARE(trace.attention.depth(), 12);
        for (int l = 0; l < trace.attention.depth(); ++l) {
            const auto block = std::to_string(l);
            const double cls = maxAbsDiff(trace.attention.summaryRow(l, true).unsqueeze(0),
                                          ref.at("vit.attn_cls." + block));
            const double row = maxAbsDiff(trace.attention.row(l, query).unsqueeze(0),
                                          queryRows.at("vit.attn_query." + block));
            QVERIFY2(cls <= 1e-5 && row <= 1e-5,
                     qPrintable(
                         QStringLiteral("block %1: CLS row off by %2, query row by %3").arg(l).arg(cls).arg(row)));
        }
        // What the trace keeps is linear in T: queries and keys, 2 x 12 x 3601 x 384 floats
        // (133 MB), and a few rows, against 3.7 GB of matrices.
        const auto matrices = 12.0 * 6 * 3601.0 * 3601.0 * 4;
        QVERIFY(double(trace.attention.bytes()) < 1.05 * 2 * 12 * 3601.0 * 384 * 4);
        QVERIFY(double(trace.attention.bytes()) < matrices / 25);
        // A block's whole matrix, recomputed, agrees with its rows.
        const auto last = trace.attention.matrix(11);
        QCOMPARE(last.sizes(), (torch::IntArrayRef{6, 3601, 3601}));
        QVERIFY(maxAbsDiff(last.select(1, query), trace.attention.row(11, query)) <= 1e-6);
        QVERIFY(maxAbsDiff(last.select(1, 0), trace.attention.summaryRow(11, true)) <= 1e-6);
    }

    void resnetMatchesReference()
    {
        const auto ref = loadReference(kData.toStdString() + "tv_resnet50.ref.safetensors");
        const auto net = engine::loadClassifier((kData + QStringLiteral("tv_resnet50.pth")).toStdString());
        QCOMPARE(net->spec().depth, 50);
        QCOMPARE(net->spec().variant, std::string("resnet50"));
        QCOMPARE(net->spec().stages,
                 (std::vector<std::string>{"conv1", "maxpool", "layer1", "layer2", "layer3", "layer4"}));
        const auto trace = net->forward(ref.at("cnn.input"));
        const double logitDiff = relativeDiff(trace.logits, ref.at("cnn.logits"));
        QVERIFY2(logitDiff <= 1e-4, qPrintable(QStringLiteral("logits differ by %1 (relative)").arg(logitDiff)));
        QCOMPARE(int(trace.features.size()), 6);
        for (const auto& [name, feature] : trace.features) {
            const auto& expected = ref.at("cnn.features." + name);
            QCOMPARE(feature.sizes(), expected.sizes());
            const double diff = relativeDiff(feature, expected);
            QVERIFY2(diff <= 1e-4,
                     qPrintable(
                         QStringLiteral("%1 differs by %2 (relative)").arg(QString::fromStdString(name)).arg(diff)));
        }
    }

    // Loading reads each weight once: the tensor a model takes is the buffer the reader
    // filled (docs/benchmarks.md, "A cold start"), and it outlives the checkpoint.
    void weightsAreTheReadBuffersNotCopies()
    {
        auto checkpoint = io::loadCheckpoint((kData + QStringLiteral("tv_resnet50.pth")).toStdString());
        const void* read = checkpoint.tensors.at("fc.weight").bytes.data();
        QCOMPARE(reinterpret_cast<std::uintptr_t>(read) % 64, std::uintptr_t(0));
        engine::WeightSource source(checkpoint.tensors);
        const auto weight = source.take("fc.weight", {1000, 2048});
        QCOMPARE(weight.data_ptr(), read);
        const auto expected = weight.clone();
        checkpoint.tensors.clear();
        QVERIFY(torch::equal(weight, expected));
    }

    void attentionRowsSumToOne()
    {
        const auto ref = loadReference(kData.toStdString() + "timm_vit.nonsquare.ref.safetensors");
        const auto vit = engine::loadClassifier((kData + QStringLiteral("timm_vit")).toStdString());
        const auto trace = vit->forward(ref.at("vit.input"));
        for (const auto& a : trace.attention.matrices()) {
            QCOMPARE(a.size(1), int64_t(trace.tokens.tokens()));
            QVERIFY(maxAbsDiff(a.sum(-1), torch::ones({a.size(0), a.size(1)})) < 1e-5);
        }
    }
};

QTEST_APPLESS_MAIN(TestModelParity)
#include "tst_modelparity.moc"
