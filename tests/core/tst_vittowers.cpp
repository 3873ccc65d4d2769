// The ViT towers in use today against their libraries: CLIP (open_clip and HF), DINOv2
// (timm and HF, with registers, SwiGLU and the classifier on [cls, patch mean]), timm's
// CLIP, DeiT III and BEiT (relative position bias). Attention of every block, and the image embedding a model without
// classes outputs (or its logits). References: small fixtures made once with the real
// open_clip and timm (tests/scripts/make_vit_tower_fixtures.py, committed under
// tests/fixtures/vit), and a plain-PyTorch forward of HF's code run at test time
// (tests/scripts/hf_tower_reference.py).
#include "core/engine/classifier.h"
#include "core/engine/engineerror.h"

#include <nlohmann/json.hpp>

#include "tests/core/referencedata.h"

#include <QtTest>

#include <fstream>

using namespace attnviz;
using testing::loadReference;
using testing::maxAbsDiff;
using testing::relativeDiff;

namespace {

const std::string kCommitted = ATTNVIZ_VIT_FIXTURES;
const std::string kGenerated = ATTNVIZ_TEST_DATA "/hftowers/";




}  // namespace

class TestViTTowers : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { torch::set_num_threads(2); }

    void matchesLibrary_data()
    {
        QTest::addColumn<QString>("dir");
        QTest::addColumn<QString>("model");
        QTest::addColumn<QString>("reference");
        QTest::addColumn<QString>("naming");
        QTest::addColumn<QString>("architecture");
        const auto add = [](const char* row, const std::string& dir, const char* model, const char* ref,
                            const char* naming, const char* architecture) {
            QTest::newRow(row) << QString::fromStdString(dir) << QString::fromLatin1(model)
                               << QString::fromLatin1(ref) << QString::fromLatin1(naming)
                               << QString::fromLatin1(architecture);
        };
        add("open_clip (text tower ignored, QuickGELU)", kCommitted, "openclip_vit", "openclip_vit.ref.safetensors",
            "open_clip", "clip");
        add("timm CLIP (norm_pre)", kCommitted, "timm_clip", "timm_clip.ref.safetensors", "timm", "clip");
        add("timm DINOv2", kCommitted, "timm_dinov2", "timm_dinov2.ref.safetensors", "timm", "dinov2");
        add("timm DINOv2, registers, other size", kCommitted, "timm_dinov2_reg", "timm_dinov2_reg.ref.safetensors",
            "timm", "dinov2");
        add("timm DeiT III (LayerScale, pos_embed over patches)", kCommitted, "timm_deit3",
            "timm_deit3.ref.safetensors", "timm", "vit");
        add("timm BEiT (relative position bias, q/v biases)", kCommitted, "timm_beit", "timm_beit.ref.safetensors",
            "timm", "beit");
        add("HF CLIPModel (text tower ignored)", kGenerated, "hf_clip", "hf_clip.ref.safetensors", "hf", "clip");
        add("HF CLIPVisionModel", kGenerated, "hf_clip_vision", "hf_clip_vision.ref.safetensors", "hf", "clip");
        add("HF DINOv2, other size", kGenerated, "hf_dinov2", "hf_dinov2.ref.safetensors", "hf", "dinov2");
        add("HF DINOv2, trained size", kGenerated, "hf_dinov2", "hf_dinov2.native.ref.safetensors", "hf", "dinov2");
        add("HF DINOv2 SwiGLU", kGenerated, "hf_dinov2_swiglu", "hf_dinov2_swiglu.ref.safetensors", "hf", "dinov2");
        add("HF DINOv2 with registers", kGenerated, "hf_dinov2_registers", "hf_dinov2_registers.ref.safetensors", "hf",
            "dinov2");
        add("HF DINOv2 classifier", kGenerated, "hf_dinov2_classifier", "hf_dinov2_classifier.ref.safetensors", "hf",
            "dinov2");
    }

    void matchesLibrary()
    {
        QFETCH(QString, dir);
        QFETCH(QString, model);
        QFETCH(QString, reference);
        QFETCH(QString, naming);
        QFETCH(QString, architecture);
        // timm's config.json does not record num_heads (it follows from the model name):
        // the tiny timm fixtures' 4 heads are given as --heads would.
        engine::LoadOptions options;
        options.heads = naming == QLatin1String("timm") ? 4 : 0;
        const auto vit = engine::loadClassifier(dir.toStdString() + model.toStdString(), options);
        const auto& spec = vit->spec();
        QCOMPARE(QString::fromStdString(engine::namingName(spec.naming)), naming);
        QCOMPARE(QString::fromStdString(spec.architecture), architecture);
        const auto ref = loadReference(dir.toStdString() + reference.toStdString());
        const auto trace = vit->forward(ref.at("vit.input"));
        QCOMPARE(int(trace.attentions.size()), spec.depth);
        for (std::size_t l = 0; l < trace.attentions.size(); ++l) {
            const auto& expected = ref.at("vit.attn." + std::to_string(l));
            QCOMPARE(trace.attentions[l].unsqueeze(0).sizes(), expected.sizes());
            const double diff = maxAbsDiff(trace.attentions[l].unsqueeze(0), expected);
            QVERIFY2(diff <= 1e-5, qPrintable(QStringLiteral("block %1: attention differs by %2").arg(l).arg(diff)));
        }
        if (ref.count("vit.logits")) {
            QVERIFY(!trace.embedding.defined());
            const double diff = relativeDiff(trace.logits, ref.at("vit.logits"));
            QVERIFY2(diff <= 1e-4, qPrintable(QStringLiteral("logits differ by %1 (relative)").arg(diff)));
        } else {
            QVERIFY(!trace.logits.defined());
            QCOMPARE(spec.numClasses, 0);
            const auto& expected = ref.at("vit.embedding");
            QCOMPARE(trace.embedding.sizes(), expected.sizes());
            QCOMPARE(spec.embeddingDim, int(expected.size(1)));
            const double diff = relativeDiff(trace.embedding, expected);
            QVERIFY2(diff <= 1e-4, qPrintable(QStringLiteral("embedding differs by %1 (relative)").arg(diff)));
        }
    }

    // BEiT's relative position bias belongs to its trained grid: another one is refused.
    void relativeBiasNeedsItsGrid()
    {
        engine::LoadOptions options;
        options.heads = 4;
        const auto beit = engine::loadClassifier(kCommitted + "timm_beit", options);
        QCOMPARE(beit->spec().posGrid, (std::array<int, 2>{4, 4}));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, beit->forward(torch::randn({1, 3, 80, 64})));
    }

    // --input-size: another resolution than the checkpoint's, a multiple of the patch.
    void inputSizeOverridesTheCheckpoints()
    {
        engine::LoadOptions options;
        options.heads = 4;
        options.inputSize = {112, 140};
        const auto vit = engine::loadClassifier(kCommitted + "timm_dinov2", options);
        QCOMPARE(vit->spec().preprocessing.inputSize, (std::array<int, 3>{3, 112, 140}));
        const auto trace = vit->forward(torch::randn({1, 3, 112, 140}));
        QCOMPARE(trace.tokens.gridH, 8);
        QCOMPARE(trace.tokens.gridW, 10);
        options.inputSize = {113, 113};
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::loadClassifier(kCommitted + "timm_dinov2", options));
    }
};

QTEST_APPLESS_MAIN(TestViTTowers)
#include "tst_vittowers.moc"
