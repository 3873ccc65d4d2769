// The ViT towers in use today against their libraries: CLIP (open_clip and HF), DINOv2
// (timm and HF, with registers, SwiGLU and the classifier on [cls, patch mean]), timm's
// CLIP, DeiT III and BEiT (relative position bias), SigLIP (timm, HF and open_clip's timm
// trunk; the attention pool), timm's hybrid with a ConvStem patch embedding. Attention of every block, and the image
// embedding a model without classes outputs (or its logits). References: small fixtures made once with the real
// open_clip and timm (tests/scripts/make_vit_tower_fixtures.py, committed under
// tests/fixtures/vit), and a plain-PyTorch forward of HF's code run at test time
// (tests/scripts/hf_tower_reference.py).
#include "core/engine/engineerror.h"
#include "core/engine/methods/methodtable.h"
#include "core/engine/model/classifier.h"
#include "core/engine/tensorconvert.h"
#include "core/engine/vit/relativebias.h"
#include "core/engine/vit/vit.h"
#include "core/io/checkpointfile.h"

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
            QTest::newRow(row) << QString::fromStdString(dir) << QString::fromLatin1(model) << QString::fromLatin1(ref)
                               << QString::fromLatin1(naming) << QString::fromLatin1(architecture);
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
        add("timm SigLIP (no CLS, attention-pool head)", kCommitted, "timm_siglip", "timm_siglip.ref.safetensors",
            "timm", "siglip");
        add("timm hybrid, ConvStem patch embedding", kCommitted, "timm_convstem", "timm_convstem.ref.safetensors",
            "timm", "vit");
        add("timm hybrid, ConvStem, other size", kCommitted, "timm_convstem", "timm_convstem.nonsquare.ref.safetensors",
            "timm", "vit");
        add("HF CLIPModel (text tower ignored)", kGenerated, "hf_clip", "hf_clip.ref.safetensors", "hf", "clip");
        add("HF CLIPVisionModel", kGenerated, "hf_clip_vision", "hf_clip_vision.ref.safetensors", "hf", "clip");
        add("HF DINOv2, other size", kGenerated, "hf_dinov2", "hf_dinov2.ref.safetensors", "hf", "dinov2");
        add("HF DINOv2, trained size", kGenerated, "hf_dinov2", "hf_dinov2.native.ref.safetensors", "hf", "dinov2");
        add("HF DINOv2 SwiGLU", kGenerated, "hf_dinov2_swiglu", "hf_dinov2_swiglu.ref.safetensors", "hf", "dinov2");
        add("HF DINOv2 with registers", kGenerated, "hf_dinov2_registers", "hf_dinov2_registers.ref.safetensors", "hf",
            "dinov2");
        add("HF DINOv2 classifier", kGenerated, "hf_dinov2_classifier", "hf_dinov2_classifier.ref.safetensors", "hf",
            "dinov2");
        add("HF SiglipModel (text tower ignored, tanh GELU)", kGenerated, "hf_siglip", "hf_siglip.ref.safetensors",
            "hf", "siglip");
        add("HF SiglipVisionModel", kGenerated, "hf_siglip_vision", "hf_siglip_vision.ref.safetensors", "hf", "siglip");
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
        QCOMPARE(trace.attention.depth(), spec.depth);
        const int prefix = trace.tokens.prefixTokens();
        for (int l = 0; l < trace.attention.depth(); ++l) {
            const auto& expected = ref.at("vit.attn." + std::to_string(l));
            QCOMPARE(trace.attention.matrix(l).unsqueeze(0).sizes(), expected.sizes());
            const double diff = maxAbsDiff(trace.attention.matrix(l).unsqueeze(0), expected);
            QVERIFY2(diff <= 1e-5, qPrintable(QStringLiteral("block %1: attention differs by %2").arg(l).arg(diff)));
            // The rows the forward pass kept: the prefix tokens' and the image's summary row
            // (CLS's, or the patch rows' mean without a CLS token).
            const auto rows = expected[0];  // [H, T, T]
            QCOMPARE(trace.attention.prefixRows(l).size(1), int64_t(prefix));
            if (prefix > 0)
                QVERIFY(maxAbsDiff(trace.attention.prefixRows(l), rows.narrow(1, 0, prefix)) <= 1e-5);
            const auto summary = trace.tokens.hasCls ? rows.select(1, 0)
                                                     : rows.narrow(1, prefix, rows.size(1) - prefix).mean(1);
            QVERIFY(maxAbsDiff(trace.attention.summaryRow(l, trace.tokens.hasCls), summary) <= 1e-5);
        }
        // SigLIP: the attention pool's softmax, the map that stands for CLS attention.
        if (ref.count("vit.pool_attn")) {
            QVERIFY(spec.attentionPool);
            QVERIFY(trace.poolAttention.defined());
            const auto& expected = ref.at("vit.pool_attn");
            QCOMPARE(trace.poolAttention.unsqueeze(0).sizes(), expected.sizes());
            const double diff = maxAbsDiff(trace.poolAttention.unsqueeze(0), expected);
            QVERIFY2(diff <= 1e-5, qPrintable(QStringLiteral("pool attention differs by %1").arg(diff)));
        } else {
            QVERIFY(!trace.poolAttention.defined());
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

    // open_clip's SigLIP towers are timm models under visual.trunk. beside a text tower:
    // the timm fixture rewritten that way (as open_clip's TimmModel with timm_proj "none"
    // names it) must give timm's reference, with the GELU variant from timm_model_name.
    void openClipTimmTrunk()
    {
        QTemporaryDir folder;
        QVERIFY(folder.isValid());
        io::TensorMap tensors;
        for (auto& [key, raw] : io::readSafetensors(kCommitted + "timm_siglip/model.safetensors").tensors)
            tensors["visual.trunk." + key] = raw;
        const auto text = engine::toRawF32(torch::randn({100, 64}));
        tensors["text.token_embedding.weight"] = text;
        tensors["logit_scale"] = engine::toRawF32(torch::ones({1}));
        const auto dir = folder.path().toStdString() + "/";
        io::writeSafetensors(dir + "open_clip_model.safetensors", tensors);
        std::ofstream(dir + "open_clip_config.json")
            << R"({"model_cfg": {"embed_dim": 64, "vision_cfg": {"image_size": 64, "timm_model_name":)"
               R"( "vit_base_patch16_siglip_224", "timm_pool": "map", "timm_proj": "none"}},)"
               R"( "preprocess_cfg": {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "interpolation": "bicubic",)"
               R"( "resize_mode": "squash"}})";
        engine::LoadOptions options;
        options.heads = 4;
        const auto vit = engine::loadClassifier(dir, options);
        QCOMPARE(QString::fromStdString(vit->spec().architecture), QStringLiteral("siglip"));
        QVERIFY(vit->spec().mlp == engine::ViTMlp::Gelu);  // this timm name builds exact GELU
        QVERIFY(vit->spec().preprocessing.squash);
        const auto ref = loadReference(kCommitted + "timm_siglip.ref.safetensors");
        const auto trace = vit->forward(ref.at("vit.input"));
        QVERIFY(maxAbsDiff(trace.poolAttention.unsqueeze(0), ref.at("vit.pool_attn")) <= 1e-5);
        QVERIFY(relativeDiff(trace.embedding, ref.at("vit.embedding")) <= 1e-4);
    }

    // HF's SiglipVisionConfig defaults to tanh GELU: a config that does not write
    // hidden_act still gets it (the reference was made with it).
    void hfSiglipWithoutHiddenActUsesTanhGelu()
    {
        QTemporaryDir folder;
        QVERIFY(folder.isValid());
        const auto dir = folder.path().toStdString() + "/";
        const std::string source = kGenerated + "hf_siglip_vision/";
        QVERIFY(QFile::copy(QString::fromStdString(source + "model.safetensors"),
                            QString::fromStdString(dir + "model.safetensors")));
        auto config = nlohmann::json::parse(std::ifstream(source + "config.json"));
        QVERIFY(config.erase("hidden_act") == 1);
        std::ofstream(dir + "config.json") << config.dump();
        const auto vit = engine::loadClassifier(dir);
        QVERIFY(vit->spec().mlp == engine::ViTMlp::GeluTanh);
        const auto ref = loadReference(kGenerated + "hf_siglip_vision.ref.safetensors");
        const auto trace = vit->forward(ref.at("vit.input"));
        QVERIFY(maxAbsDiff(trace.attention.matrix(1).unsqueeze(0), ref.at("vit.attn.1")) <= 1e-5);
        QVERIFY(relativeDiff(trace.embedding, ref.at("vit.embedding")) <= 1e-4);
    }

    // The attention view of a SigLIP: the pool by default, after the blocks with "all",
    // and refused where it has no meaning.
    void poolIsTheAttentionViewsDefault()
    {
        engine::LoadOptions options;
        options.heads = 4;
        const auto vit = engine::loadClassifier(kCommitted + "timm_siglip", options);
        const auto trace = vit->forward(torch::randn({1, 3, 64, 64}));
        engine::ViewRequest request;
        request.head = engine::HeadChoice::all();
        auto view = engine::computeView(*vit, trace, request);
        QCOMPARE(view.layers, std::vector<std::string>{engine::kPoolLayer});
        const auto expected = trace.poolAttention.select(1, 0).reshape({4, 4, 4});  // [H, gh, gw]
        QCOMPARE(maxAbsDiff(view.maps[0], expected), 0.0);
        request.layer = engine::LayerSelector::all();
        view = engine::computeView(*vit, trace, request);
        QCOMPARE(view.layers, (std::vector<std::string>{"0", "1", engine::kPoolLayer}));
        request.layer = engine::LayerSelector::pool();
        request.query = std::make_pair(1, 1);
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::computeView(*vit, trace, request));
        request.layer = engine::LayerSelector::all();  // a query patch: the blocks only
        QCOMPARE(engine::computeView(*vit, trace, request).layers, (std::vector<std::string>{"0", "1"}));
        const auto deit = engine::loadClassifier(kCommitted + "timm_deit3", options);
        request = {};
        request.layer = engine::LayerSelector::pool();
        QVERIFY_THROWS_EXCEPTION(engine::EngineError,
                                 engine::computeView(*deit, deit->forward(torch::randn({1, 3, 64, 64})), request));
    }

    // BEiT at another grid than its trained 4x4: timm resizes each relative position bias
    // table when it loads the checkpoint at that size (make_vit_tower_fixtures.py made the
    // reference with timm's own checkpoint_filter_fn at 80x96, a 5x6 grid).
    void beitAtAnotherGridAsTimmLoadsIt()
    {
        engine::LoadOptions options;
        options.heads = 4;
        options.inputSize = {80, 96};
        const auto beit = engine::loadClassifier(kCommitted + "timm_beit", options);
        QCOMPARE(beit->spec().posGrid, (std::array<int, 2>{4, 4}));
        const auto ref = loadReference(kCommitted + "timm_beit_80x96.ref.safetensors");
        const auto weights = loadReference(kCommitted + "timm_beit/model.safetensors");
        QVERIFY(torch::equal(engine::relativePositionIndex(5, 6), ref.at("vit.rel_pos_index").view({-1})));
        for (int l = 0; l < 2; ++l) {
            const auto table = weights.at("blocks." + std::to_string(l) + ".attn.relative_position_bias_table");
            const auto resized = engine::resizeRelativeBiasTable(table, 4, 5, 6);
            const double diff = maxAbsDiff(resized, ref.at("vit.rel_table." + std::to_string(l)));
            QVERIFY2(diff <= 1e-5,
                     qPrintable(QStringLiteral("block %1: resized table differs by %2").arg(l).arg(diff)));
        }
        const auto trace = beit->forward(ref.at("vit.input"));
        QCOMPARE(trace.tokens.gridH, 5);
        QCOMPARE(trace.tokens.gridW, 6);
        for (int l = 0; l < trace.attention.depth(); ++l) {
            const double diff = maxAbsDiff(trace.attention.matrix(l).unsqueeze(0),
                                           ref.at("vit.attn." + std::to_string(l)));
            QVERIFY2(diff <= 1e-5, qPrintable(QStringLiteral("block %1: attention differs by %2").arg(l).arg(diff)));
        }
        QVERIFY(relativeDiff(trace.logits, ref.at("vit.logits")) <= 1e-4);
        // At the trained grid the tables are used as they are.
        const auto table = weights.at("blocks.0.attn.relative_position_bias_table");
        QVERIFY(torch::equal(engine::resizeRelativeBiasTable(table, 4, 4, 4), table));
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

    // Where a token's field is centred (the effective-field view measures from there):
    // the middle of the input pixels its patch embedding reads, found from the gradient
    // of one token's embedding. A ConvStem's 15 px field is centred on 8r, a linear
    // 16-px patch's on 16r + 7.5.
    void firstPatchCentreIsTheMiddleOfATokensField_data()
    {
        QTest::addColumn<QString>("model");
        QTest::addColumn<double>("centre");
        QTest::newRow("ConvStem") << "timm_convstem" << 0.0;
        QTest::newRow("linear patches") << "timm_deit3" << 7.5;
    }

    void firstPatchCentreIsTheMiddleOfATokensField()
    {
        QFETCH(QString, model);
        QFETCH(double, centre);
        engine::LoadOptions options;
        options.heads = 4;
        const auto loaded = engine::loadClassifier(kCommitted + model.toStdString(), options);
        const auto& vit = dynamic_cast<const engine::VisionTransformer&>(*loaded);
        const auto& w = vit.weights();
        const auto input = torch::randn({1, 3, 64, 64}).requires_grad_(true);
        const auto tokens = engine::embedPatches(w.stem, w.patchW, w.patchB, input, false);  // [1, D, gh, gw]
        tokens.select(2, 1).select(2, 2).sum().backward();            // the token at row 1, column 2
        const auto touched = input.grad().abs().sum(1)[0].nonzero();  // [K, 2] (row, col)
        const int p = vit.spec().patchSize;
        const double rowMiddle = (touched.select(1, 0).min().item<double>() + touched.select(1, 0).max().item<double>())
                                 / 2;
        const double colMiddle = (touched.select(1, 1).min().item<double>() + touched.select(1, 1).max().item<double>())
                                 / 2;
        const auto trace = vit.forward(torch::randn({1, 3, 64, 64}));
        QCOMPARE(trace.tokens.firstPatchCentre, centre);
        if (model == QLatin1String("timm_convstem"))  // what `info` and the window's title say
            QVERIFY2(vit.spec().description.find("patch 8 through a 3-layer ConvStem") != std::string::npos,
                     vit.spec().description.c_str());
        QCOMPARE(rowMiddle, 1 * p + centre);
        QCOMPARE(colMiddle, 2 * p + centre);
    }

    // Hybrid backbones other than a 3x3 ConvStem are named, not half-read.
    void otherHybridBackbonesAreRefused_data()
    {
        QTest::addColumn<QString>("from");
        QTest::addColumn<QString>("to");
        QTest::addColumn<QString>("error");
        QTest::newRow("ResNetV2 stem") << "patch_embed.backbone.0.conv.weight"
                                       << "patch_embed.backbone.stem.conv.weight"
                                       << "ResNet backbone";
        QTest::newRow("patchify kernel") << "patch_embed.backbone.1.conv.weight"
                                         << "patch_embed.backbone.1.conv.weight"
                                         << "only timm's ConvStem of 3x3";
        QTest::newRow("a layer without its norm") << "patch_embed.backbone.0.bn.weight"
                                                  << "stray.bn.weight"
                                                  << "layer 0 has no batch norm";
    }

    void otherHybridBackbonesAreRefused()
    {
        QFETCH(QString, from);
        QFETCH(QString, to);
        QFETCH(QString, error);
        auto ckpt = io::loadCheckpoint(kCommitted + "timm_convstem");
        auto tensor = ckpt.tensors.at(from.toStdString());
        if (from == to)  // a 2x2 kernel, as MobileCLIP's patchify stem has
            tensor = engine::toRawF32(engine::toTorch(tensor).narrow(2, 0, 2).narrow(3, 0, 2));
        ckpt.tensors.erase(from.toStdString());
        ckpt.tensors[to.toStdString()] = tensor;
        engine::LoadOptions options;
        options.heads = 4;
        try {
            engine::buildClassifier(ckpt.tensors, ckpt.config, options);
            QFAIL("the checkpoint was accepted");
        } catch (const engine::EngineError& e) {
            QVERIFY2(QString::fromUtf8(e.what()).contains(error), e.what());
        }
    }
};

QTEST_APPLESS_MAIN(TestViTTowers)
#include "tst_vittowers.moc"
