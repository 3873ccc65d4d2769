// Swin Transformer v1 against torchvision's own swin_t (tests/scripts/swin_reference.py, run
// at test time with random weights): the logits and every block's window attention, the
// shifted blocks' masks included, at 224 px and at 160 x 192, where the last stage's 5 x 6
// grid is padded to its 7 x 7 window.
#include "referencedata.h"

#include "core/engine/engineerror.h"
#include "core/engine/loading/weightsource.h"
#include "core/engine/swin/swinnet.h"
#include "core/io/checkpointfile.h"

#include <QtTest>

using namespace attnviz;
using testing::loadReference;
using testing::relativeDiff;

class TestSwin : public QObject {
    Q_OBJECT

private slots:
    void matchesTorchvision_data()
    {
        QTest::addColumn<QString>("size");
        QTest::newRow("224 x 224") << "224x224";
        QTest::newRow("160 x 192 (padded windows)") << "160x192";
    }

    void matchesTorchvision()
    {
        QFETCH(QString, size);
        const auto checkpoint = io::loadCheckpoint(ATTNVIZ_TEST_DATA "/swin/swin_t.pth");
        engine::WeightSource source(checkpoint.tensors);
        const auto weights = engine::swin::readTorchvisionSwin(source);
        source.expectAllTaken("torchvision swin_t");
        QCOMPARE(weights.window, 7);
        QCOMPARE(int(weights.stages.size()), 4);
        QCOMPARE(int(weights.stages[2].blocks.size()), 6);

        const auto ref = loadReference(ATTNVIZ_TEST_DATA "/swin/swin_t." + size.toStdString() + ".ref.safetensors");
        torch::NoGradGuard noGrad;
        const auto out = engine::swin::swinForward(weights, ref.at("input"));
        const double logitDiff = relativeDiff(out.logits, ref.at("logits"));
        QVERIFY2(logitDiff <= 1e-4, qPrintable(QStringLiteral("logits differ by %1 (relative)").arg(logitDiff)));
        QCOMPARE(int(out.attention.size()), 12);
        for (std::size_t b = 0; b < out.attention.size(); ++b) {
            const auto& expected = ref.at("attn." + std::to_string(b));
            QCOMPARE(out.attention[b].sizes().vec(), expected.sizes().vec());
            const double diff = (out.attention[b] - expected).abs().max().item<double>();
            QVERIFY2(diff <= 1e-5, qPrintable(QStringLiteral("block %1: attention differs by %2").arg(b).arg(diff)));
        }
    }

    // The shifted windows' mask, by hand on a 14 x 14 grid of 7 x 7 windows shifted by 3:
    // the top-left window is one region; the bottom-right one holds four.
    void maskSeparatesTheRolledRegions()
    {
        const auto mask = engine::swin::shiftedWindowMask(14, 14, 7, 3, 3, torch::kFloat32);
        QCOMPARE(mask.sizes().vec(), (std::vector<int64_t>{4, 49, 49}));
        QCOMPARE(mask[0].abs().sum().item<float>(), 0.0f);
        // bottom-right window: rows 7..13 split at 11 (14 - 3), the same for columns
        const auto last = mask[3];
        QCOMPARE(last[0][0].item<float>(), 0.0f);
        QCOMPARE(last[0][6].item<float>(), -100.0f);   // (7,7) and (7,13): other column region
        QCOMPARE(last[0][42].item<float>(), -100.0f);  // (7,7) and (13,7): other row region
        QCOMPARE(last[48][47].item<float>(), 0.0f);    // (13,13) and (13,12): one region
    }
};

QTEST_GUILESS_MAIN(TestSwin)
#include "tst_swin.moc"
