// The CAM family, generic attention, gradient rollout and effective receptive fields
// against references that tests/scripts/gradient_reference.py computes with torchvision
// hooks and PyTorch autograd, plus docs/methods.md's invariants (analytic CAM, ERF
// inside the theoretical RF).
#include "core/engine/engineerror.h"
#include "core/engine/methods/cam.h"
#include "core/engine/methods/effectivefield.h"
#include "core/engine/methods/genericattention.h"
#include "core/engine/methods/gradrollout.h"
#include "core/engine/methods/methodtable.h"
#include "core/engine/methods/receptivefield.h"
#include "core/engine/model/classifier.h"
#include "core/engine/tensorconvert.h"
#include "core/io/safetensors.h"

#include <QtTest>

using namespace attnviz;

namespace {

const std::string kData = ATTNVIZ_TEST_DATA "/gradients/";

struct Fixture {
    std::unique_ptr<engine::Classifier> vit = engine::loadClassifier(kData + "vit");
    std::unique_ptr<engine::Classifier> cnn = engine::loadClassifier(kData + "tv_resnet18.pth");
    io::TensorMap ref = io::readSafetensors(kData + "gradients.safetensors").tensors;

    torch::Tensor tensor(const std::string& name) const { return engine::toTorch(ref.at(name)); }
    // "top" or "second": the classes the reference explains
    int rankedClass(const std::string& role, const std::string& rank) const
    {
        return int(tensor(role + "." + rank).item<int64_t>());
    }
};

const Fixture& fixture()
{
    static const Fixture f;
    return f;
}

// Close relative to the map's own scale: Grad-CAM values span orders of magnitude.
void compareMaps(const torch::Tensor& ours, const torch::Tensor& reference)
{
    QCOMPARE(ours.sizes(), reference.sizes());
    const double scale = reference.abs().max().item<double>();
    QVERIFY2(scale > 0, "reference map is all zero: the comparison would prove nothing");
    const double diff = (ours - reference).abs().max().item<double>();
    QVERIFY2(diff <= 1e-4 * scale, qPrintable(QStringLiteral("max diff %1 at scale %2").arg(diff).arg(scale)));
}

torch::Tensor randomBatch(int n, int seed)
{
    torch::manual_seed(seed);
    return torch::randn({n, 3, 224, 224});
}

// Three different images of the size of `one` [1, 3, H, W]: it, its mirror image and a
// noisy copy.
torch::Tensor threeImages(const torch::Tensor& one)
{
    return torch::cat({one, one.flip({3}), one + 0.5 * randomBatch(1, 3).narrow(2, 0, one.size(2))});
}

}  // namespace

class TestGradientMethods : public QObject {
    Q_OBJECT

private slots:
    void vitCamsMatchTorchvisionHooks_data()
    {
        QTest::addColumn<QString>("method");
        QTest::addColumn<QString>("cls");
        for (const char* method : {"gradcam", "gradcam++", "xgradcam", "hirescam", "layercam", "eigencam"}) {
            QTest::addRow("%s, top-1 by default", method) << QString::fromLatin1(method) << QStringLiteral("top");
            QTest::addRow("%s, second class", method) << QString::fromLatin1(method) << QStringLiteral("second");
        }
    }

    // pytorch-grad-cam's target_layers=[blocks[i].norm1]: the norm1 *output*.
    void vitCamsMatchTorchvisionHooks()
    {
        QFETCH(QString, method);
        QFETCH(QString, cls);
        const auto& f = fixture();
        const bool top = cls == QLatin1String("top");
        const int classIndex = f.rankedClass("vit", cls.toStdString());
        engine::CamOptions options;
        options.method = engine::viewMethodFromName(method.toStdString());
        const auto result = engine::classActivationMaps(*f.vit, f.tensor("vit.input"), top ? -1 : classIndex,
                                                        {"1", "-1"}, options);
        QCOMPARE(result.classIndex, classIndex);
        const auto prefix = "vit." + method.toStdString() + "." + cls.toStdString() + ".";
        compareMaps(result.maps[0], f.tensor(prefix + "1"));
        compareMaps(result.maps[1], f.tensor(prefix + "3"));
        QVERIFY(result.maps[0].min().item<float>() >= 0);
    }

    void vitGradCamOnTheResidualStreamIsANamedOption()
    {
        const auto& f = fixture();
        engine::CamOptions options;
        options.vitInput = engine::VitCamInput::ResidualStream;
        const auto residual = engine::classActivationMaps(*f.vit, f.tensor("vit.input"), -1, {"1", "3"}, options);
        compareMaps(residual.maps[0], f.tensor("vit.gradcam-residual.top.1"));
        compareMaps(residual.maps[1], f.tensor("vit.gradcam-residual.top.3"));
        // ... and a different map from the default, norm1's output.
        const auto normed = engine::classActivationMaps(*f.vit, f.tensor("vit.input"), -1, {"3"});
        const auto& r = residual.maps[1];
        QVERIFY((r / r.max() - normed.maps[0] / normed.maps[0].max()).abs().max().item<double>() > 0.05);
    }

    void gradientFreeCamsMatchMaskedForwards()
    {
        const auto& f = fixture();
        for (const char* method : {"scorecam", "ablationcam"}) {
            engine::CamOptions options;
            options.method = engine::viewMethodFromName(method);
            options.batchSize = 50;  // Score-CAM: not a divisor of the channels, the last batch is short
            const auto vit = engine::classActivationMaps(*f.vit, f.tensor("vit.input"), -1, {"3"}, options);
            QCOMPARE(vit.classIndex, f.rankedClass("vit", "top"));
            compareMaps(vit.maps[0], f.tensor("vit." + std::string(method) + ".top.3"));
            const auto layer = std::string(method) == "scorecam" ? "layer2" : "layer4";
            const auto cnn = engine::classActivationMaps(*f.cnn, f.tensor("cnn.input_small"), -1, {layer}, options);
            QCOMPARE(cnn.classIndex, int(f.tensor("cnn.small_top").item<int64_t>()));
            compareMaps(cnn.maps[0], f.tensor("cnn." + std::string(method) + ".top." + layer));
        }
    }

    void saliencyMatchesAutograd_data()
    {
        QTest::addColumn<QString>("role");
        QTest::addColumn<QString>("rank");
        for (const char* role : {"vit", "cnn"})
            for (const char* rank : {"top", "second"})
                QTest::addRow("%s, %s class", role, rank) << QString::fromLatin1(role) << QString::fromLatin1(rank);
    }

    // Simonyan et al.'s input gradient through the method table, as computeView serves
    // it to the window and the CLI, against PyTorch autograd on torchvision's models.
    void saliencyMatchesAutograd()
    {
        QFETCH(QString, role);
        QFETCH(QString, rank);
        const auto& f = fixture();
        const auto name = role.toStdString();
        const auto& model = name == "vit" ? *f.vit : *f.cnn;
        const auto trace = model.forward(f.tensor(name + ".input"));
        engine::ViewRequest request;
        request.method = engine::viewMethodFromName("saliency");
        request.classIndex = rank == QLatin1String("top") ? -1 : f.rankedClass(name, "second");
        const auto view = engine::computeView(model, trace, request);
        QCOMPARE(*view.classIndex, f.rankedClass(name, rank.toStdString()));
        QCOMPARE(view.layers, std::vector<std::string>{"input"});
        compareMaps(view.maps[0][0], f.tensor(name + ".saliency." + rank.toStdString()));
    }

    void genericAttentionMatchesAutogradReference()
    {
        const auto& f = fixture();
        const auto top = engine::genericAttention(*f.vit, f.tensor("vit.input"), -1);
        const auto other = engine::genericAttention(*f.vit, f.tensor("vit.input"), f.rankedClass("vit", "second"));
        QCOMPARE(top.classIndex, f.rankedClass("vit", "top"));
        compareMaps(top.maps[0], f.tensor("vit.generic.top"));
        compareMaps(other.maps[0], f.tensor("vit.generic.second"));
        // Class-specific: another class gives another map.
        QVERIFY((top.maps[0] - other.maps[0]).abs().max().item<double>()
                > 1e-3 * top.maps[0].abs().max().item<double>());
    }

    void gradientRolloutMatchesVitExplainDefinition_data()
    {
        QTest::addColumn<QString>("cls");
        QTest::addColumn<QString>("fusion");
        QTest::addColumn<QString>("discard");  // as the reference names it
        QTest::addColumn<int>("start");
        for (const char* cls : {"top", "second"}) {
            QTest::addRow("%s, mean, no discard, from 0", cls) << QString::fromLatin1(cls) << "mean"
                                                               << "0.0" << 0;
            QTest::addRow("%s, max, discard 0.5, from 1", cls) << QString::fromLatin1(cls) << "max"
                                                               << "0.5" << 1;
            QTest::addRow("%s, min, discard 0.9, from 2", cls) << QString::fromLatin1(cls) << "min"
                                                               << "0.9" << 2;
        }
    }

    void gradientRolloutMatchesVitExplainDefinition()
    {
        QFETCH(QString, cls);
        QFETCH(QString, fusion);
        QFETCH(QString, discard);
        QFETCH(int, start);
        const auto& f = fixture();
        engine::RolloutOptions options;
        options.fusion = engine::headFusionFromName(fusion.toStdString());
        options.discardRatio = discard.toDouble();
        options.startLayer = start;
        const int classIndex = f.rankedClass("vit", cls.toStdString());
        const auto result = engine::gradientRollout(*f.vit, f.tensor("vit.input"), classIndex, options);
        const auto key = QStringLiteral("vit.gradrollout.%1.%2.%3.%4").arg(cls, fusion, discard).arg(start);
        compareMaps(result.maps[0], f.tensor(key.toStdString()));
    }

    void cnnCamsMatchTorchvisionHooks_data() { vitCamsMatchTorchvisionHooks_data(); }

    void cnnCamsMatchTorchvisionHooks()
    {
        QFETCH(QString, method);
        QFETCH(QString, cls);
        const auto& f = fixture();
        const std::vector<std::string> layers{"layer4", "layer3", "layer2.1", "maxpool"};
        const bool top = cls == QLatin1String("top");
        const int classIndex = f.rankedClass("cnn", cls.toStdString());
        engine::CamOptions options;
        options.method = engine::viewMethodFromName(method.toStdString());
        const auto result = engine::classActivationMaps(*f.cnn, f.tensor("cnn.input"), top ? -1 : classIndex, layers,
                                                        options);
        QCOMPARE(result.classIndex, classIndex);
        for (std::size_t i = 0; i < layers.size(); ++i)
            compareMaps(result.maps[i],
                        f.tensor("cnn." + method.toStdString() + "." + cls.toStdString() + "." + layers[i]));
    }

    // One pass and one backward over a batch give each image the CAM it gets alone: the
    // sum of the images' class logits has image n's own gradient at image n. Three
    // different images, one explained for a fixed class, the others for their top-1.
    void batchedGradientCamsEqualOneImageAtATime_data()
    {
        QTest::addColumn<QString>("method");
        QTest::addColumn<bool>("vit");
        for (const auto* method : {"gradcam", "gradcam++", "xgradcam", "hirescam", "layercam"})
            for (const bool vit : {true, false})
                QTest::newRow((std::string(method) + (vit ? " vit" : " cnn")).c_str())
                    << QString::fromLatin1(method) << vit;
    }

    void batchedGradientCamsEqualOneImageAtATime()
    {
        QFETCH(QString, method);
        QFETCH(bool, vit);
        const auto& f = fixture();
        const auto& model = vit ? *f.vit : *f.cnn;
        const auto batch = threeImages(f.tensor(vit ? "vit.input" : "cnn.input"));
        const std::vector<std::string> layers = vit ? std::vector<std::string>{"1", "-1"}
                                                    : std::vector<std::string>{"layer4", "layer2.1"};
        const std::vector<int> classes{-1, 7, -1};
        engine::CamOptions options;
        options.method = engine::viewMethodFromName(method.toStdString());
        const auto batched = engine::gradientCamsOfBatch(model, batch, classes, layers, options);
        QCOMPARE(batched.size(), std::size_t(3));
        for (int n = 0; n < 3; ++n) {
            const auto alone = engine::classActivationMaps(model, batch.narrow(0, n, 1), classes[std::size_t(n)],
                                                           layers, options);
            QCOMPARE(batched[std::size_t(n)].classIndex, alone.classIndex);
            for (std::size_t i = 0; i < layers.size(); ++i)
                compareMaps(batched[std::size_t(n)].maps[i], alone.maps[i]);
        }
        // The images differ, so equal maps were not one image's maps repeated.
        QVERIFY(!torch::allclose(batched[0].maps[0], batched[1].maps[0]));
    }

    // At the last layer the CAMs resume from what the batched trace kept of that layer's
    // input (one block of the ViT, the CNN's head) and equal those of a full pass.
    void camsResumedAtTheLastLayerEqualAFullPass_data() { batchedGradientCamsEqualOneImageAtATime_data(); }

    void camsResumedAtTheLastLayerEqualAFullPass()
    {
        QFETCH(QString, method);
        QFETCH(bool, vit);
        const auto& f = fixture();
        const auto& model = vit ? *f.vit : *f.cnn;
        const auto batch = threeImages(f.tensor(vit ? "vit.input" : "cnn.input"));
        const auto traces = model.forwardBatch(batch);
        const std::vector<const engine::Trace*> pointers{&traces[0], &traces[1], &traces[2]};
        const std::vector<int> classes{-1, 7, -1};
        for (const auto input : {engine::VitCamInput::Norm1Output, engine::VitCamInput::ResidualStream}) {
            engine::CamOptions options;
            options.method = engine::viewMethodFromName(method.toStdString());
            options.vitInput = input;
            const auto resumed = engine::gradientCamsAtLastLayer(model, pointers, classes, options);
            const std::string last = vit ? "-1" : traces[0].features.back().first;
            const auto full = engine::gradientCamsOfBatch(model, batch, classes, {last}, options);
            QCOMPARE(resumed.size(), std::size_t(3));
            for (std::size_t n = 0; n < 3; ++n) {
                QCOMPARE(resumed[n].classIndex, full[n].classIndex);
                compareMaps(resumed[n].maps[0], full[n].maps[0]);
            }
            // The images differ, so equal maps were not one image's maps repeated (HiResCAM
            // of this random ViT's last block is rounding noise, about 1e-9, for every image).
            const auto& a = resumed[0].maps[0];
            QVERIFY(a.abs().max().item<float>() < 1e-6 || !torch::allclose(a, resumed[2].maps[0]));
        }
    }

    // computeViews, what export calls for a batch, gives computeView's views: batched for
    // a gradient CAM, image by image for the rest.
    void viewsOfSeveralTracesEqualOneByOne()
    {
        const auto& f = fixture();
        const auto input = f.tensor("cnn.input");
        const auto traces = f.cnn->forwardBatch(torch::cat({input, input.flip({2})}));
        const std::vector<const engine::Trace*> pointers{&traces[0], &traces[1]};
        for (const auto* layer : {"all", "layer4"})  // layer4, the last: resumed from the traces
            for (const auto method : {engine::ViewMethod::GradCam, engine::ViewMethod::EigenCam}) {
                engine::ViewRequest request;
                request.method = method;
                request.layer = engine::LayerSelector::parse(layer);
                const auto views = engine::computeViews(*f.cnn, pointers, request);
                QCOMPARE(views.size(), std::size_t(2));
                for (std::size_t n = 0; n < 2; ++n) {
                    const auto alone = engine::computeView(*f.cnn, traces[n], request);
                    QCOMPARE(views[n].layers, alone.layers);
                    QCOMPARE(views[n].classIndex, alone.classIndex);
                    QVERIFY(views[n].method == method);
                    compareMaps(views[n].maps, alone.maps);
                }
            }
    }

    void lastStageGradCamIsTheAnalyticCam()
    {
        // Global average pooling then a linear head: d y_c / d F_k(i, j) = w_ck / (h w),
        // so Grad-CAM is ReLU(sum_k w_ck F_k) / (h w) (Zhou et al.'s CAM, scaled).
        const auto& f = fixture();
        const auto input = f.tensor("cnn.input");
        const int cls = 5;
        const auto map = engine::classActivationMaps(*f.cnn, input, cls, {"layer4"}).maps[0];
        const auto trace = f.cnn->forward(input);
        const auto features = trace.features.back().second[0];  // layer4 [512, 7, 7]
        const auto weights = engine::toTorch(f.cnn->stateDict().at("fc.weight"))[cls];
        const auto analytic = torch::relu((weights.view({-1, 1, 1}) * features).sum(0)) / 49.0;
        compareMaps(map, analytic);
    }

    void cnnErfLiesInsideTheoreticalBox_data()
    {
        QTest::addColumn<QString>("layer");
        QTest::addColumn<int>("row");
        QTest::addColumn<int>("col");
        QTest::newRow("layer2 centre") << QStringLiteral("layer2") << 14 << 14;
        QTest::newRow("layer2 corner") << QStringLiteral("layer2") << 0 << 0;
        QTest::newRow("layer1.0 centre") << QStringLiteral("layer1.0") << 28 << 20;
    }

    void cnnErfLiesInsideTheoreticalBox()
    {
        QFETCH(QString, layer);
        QFETCH(int, row);
        QFETCH(int, col);
        const auto& f = fixture();
        const auto erf = engine::effectiveReceptiveField(*f.cnn, randomBatch(2, 7), layer.toStdString(), row, col);
        QCOMPARE(erf.sizes(), (torch::IntArrayRef{224, 224}));
        QVERIFY(std::abs(erf.sum().item<double>() - 1.0) < 1e-4);
        // The stage or block output has the field of its last block.
        const auto name = layer == QLatin1String("layer1.0") ? std::string("layer1") : layer.toStdString();
        engine::ReceptiveField field;
        for (const auto& rf : engine::receptiveFields(f.cnn->spec()))
            if (rf.name == name)
                field = rf;
        QCOMPARE(QString::fromStdString(field.name), QString::fromStdString(name));
        const auto box = engine::receptiveBox(field, row, col, 224, 224);
        auto outside = erf.clone();
        outside.slice(0, box.y0, box.y1 + 1).slice(1, box.x0, box.x1 + 1).zero_();
        QCOMPARE(outside.abs().max().item<float>(), 0.0f);  // exactly zero outside the box
        // Centred on the unit: the gradient mass's centroid lies within one jump of it.
        const auto ys = torch::arange(224, torch::kFloat64).view({-1, 1});
        const auto xs = torch::arange(224, torch::kFloat64).view({1, -1});
        const auto w = erf.to(torch::kFloat64);
        const double cy = (w * ys).sum().item<double>(), cx = (w * xs).sum().item<double>();
        const double centreY = field.start + row * field.jump, centreX = field.start + col * field.jump;
        if (box.y0 > 0 && box.x0 > 0)  // a clipped box pulls the centroid inwards
            QVERIFY2(
                std::abs(cy - centreY) <= field.jump && std::abs(cx - centreX) <= field.jump,
                qPrintable(
                    QStringLiteral("centroid %1,%2 vs unit centre %3,%4").arg(cy).arg(cx).arg(centreY).arg(centreX)));
    }

    void vitErfIsGlobalFromTheFirstBlock()
    {
        const auto& f = fixture();
        const int row = 4, col = 9;
        const auto erf = engine::effectiveReceptiveField(*f.vit, randomBatch(2, 8), "0", row, col);
        // Mass per 16x16 patch [14, 14]: every patch contributes after one block.
        const auto perPatch = erf.view({14, 16, 14, 16}).sum({1, 3});
        QVERIFY(perPatch.min().item<float>() > 0);
        // ... and the token's own patch (its residual path) contributes most.
        QCOMPARE(perPatch.argmax().item<int64_t>(), int64_t(row * 14 + col));
    }

    void fieldSizeIsTheSquareHoldingTheMass()
    {
        auto map = torch::zeros({16, 16});
        map[5][7] = 1;
        QCOMPARE(engine::effectiveFieldSize(map, 5, 7), 1.0);
        // A uniform 5x5 block centred on the unit: 95% of the mass needs the whole block.
        map.zero_();
        map.slice(0, 6, 11).slice(1, 6, 11).fill_(1);
        QCOMPARE(engine::effectiveFieldSize(map, 8, 8), 5.0);
        QCOMPARE(engine::effectiveFieldSize(map, 8, 8, 0.04), 1.0);  // the centre pixel alone holds 1/25
        // A 4x4 patch centred between pixels, as a ViT patch's centre is.
        map.zero_();
        map.slice(0, 4, 8).slice(1, 8, 12).fill_(1);
        QCOMPARE(engine::effectiveFieldSize(map, 5.5, 9.5), 4.0);
        QCOMPARE(engine::effectiveFieldSize(torch::zeros({4, 4}), 1, 1), 0.0);
        // Clipped to the map: uniform mass seen from a corner needs the whole 16 x 16.
        QCOMPARE(engine::effectiveFieldSize(torch::ones({16, 16}), 0, 0, 1.0), 16.0);
        QCOMPARE(engine::effectiveFieldSize(torch::ones({16, 16}), 7.5, 7.5, 1.0), 16.0);
    }

    void cnnFieldSizesStayInsideTheoreticalFields()
    {
        const auto& f = fixture();
        const auto input = randomBatch(1, 9);
        const auto sizes = engine::effectiveFieldSizes(*f.cnn, input);
        QCOMPARE(sizes.size(), std::size_t(6));  // conv1, maxpool, layer1..layer4
        QCOMPARE(sizes.front().layer, std::string("conv1"));
        QCOMPARE(sizes.back().layer, std::string("layer4"));
        const auto fields = engine::receptiveFields(f.cnn->spec());
        for (const auto& e : sizes) {
            const auto field = std::find_if(fields.begin(), fields.end(),
                                            [&](const auto& rf) { return rf.name == e.layer; });
            QVERIFY(field != fields.end());
            QVERIFY2(e.size >= 1 && e.size <= std::min(field->size, 224.0 * 2),
                     qPrintable(QStringLiteral("%1: effective %2 vs theoretical %3")
                                    .arg(QString::fromStdString(e.layer))
                                    .arg(e.size)
                                    .arg(field->size)));
        }
        QVERIFY(sizes.back().size > sizes.front().size);
        // The shared graph gives what a separate pass for that unit gives.
        const auto& l3 = sizes[4];
        QCOMPARE(l3.layer, std::string("layer3"));
        const auto alone = engine::effectiveReceptiveField(*f.cnn, input, "layer3", l3.row, l3.col);
        const auto field = *std::find_if(fields.begin(), fields.end(),
                                         [](const auto& rf) { return rf.name == "layer3"; });
        QCOMPARE(engine::effectiveFieldSize(alone, field.start + l3.row * field.jump,
                                            field.start + l3.col * field.jump),
                 l3.size);
    }

    void vitFieldSizesExceedAPatchFromTheFirstBlock()
    {
        const auto& f = fixture();
        const auto sizes = engine::effectiveFieldSizes(*f.vit, randomBatch(1, 10));
        QCOMPARE(int(sizes.size()), int(f.vit->spec().depth));
        QCOMPARE(sizes[0].row, 7);
        for (const auto& e : sizes)
            QVERIFY2(e.size > 16 && e.size <= 224,
                     qPrintable(QStringLiteral("block %1: %2 px").arg(QString::fromStdString(e.layer)).arg(e.size)));
        // The shared graph gives what a separate pass for that token gives.
        const auto& last = sizes.back();
        const auto alone = engine::effectiveReceptiveField(*f.vit, randomBatch(1, 10), last.layer, last.row, last.col);
        QCOMPARE(engine::effectiveFieldSize(alone, last.row * 16 + 7.5, last.col * 16 + 7.5), last.size);
    }

    // The gradient views keep one block's matrices at a time; past their budget they
    // refuse before any pass, saying what they would need.
    void streamedAttentionGradientsRefuseBeyondTheirBudget()
    {
        const auto& f = fixture();
        const auto huge = torch::zeros({1, 3, 1600, 1600});  // 100 x 100 patches + CLS: 10001 tokens
        for (int method = 0; method < 2; ++method) {
            try {
                if (method == 0)
                    engine::genericAttention(*f.vit, huge, -1);
                else
                    engine::gradientRollout(*f.vit, huge, -1);
                QFAIL("no refusal");
            } catch (const engine::EngineError& e) {
                const std::string what = e.what();
                QVERIFY2(what.find("at 10001 tokens needs about 5723 MB") != std::string::npos
                             && what.find("(at most 4096 MB)") != std::string::npos
                             && what.find('\n') == std::string::npos,
                         e.what());
            }
        }
    }

    void badRequestsAreOneLineErrors()
    {
        const auto& f = fixture();
        const auto vitInput = f.tensor("vit.input");
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::classActivationMaps(*f.vit, vitInput, 10, {"1"}));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::classActivationMaps(*f.vit, vitInput, -1, {"4"}));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::classActivationMaps(*f.vit, vitInput, -1, {"first"}));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError,
                                 engine::classActivationMaps(*f.cnn, f.tensor("cnn.input"), -1, {"layer9"}));
        engine::CamOptions ablation;
        ablation.method = engine::ViewMethod::AblationCam;
        QVERIFY_THROWS_EXCEPTION(engine::EngineError,
                                 engine::classActivationMaps(*f.cnn, f.tensor("cnn.input"), -1, {"layer9"}, ablation));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::genericAttention(*f.vit, vitInput, -1, 4));
        engine::RolloutOptions late;
        late.startLayer = 4;
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::gradientRollout(*f.vit, vitInput, -1, late));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::vitCamInputFromName("norm2"));
        // A replaced forward checks the shape it is given.
        QVERIFY_THROWS_EXCEPTION(engine::EngineError,
                                 f.cnn->logitsReplacing(f.tensor("cnn.input"), {"layer4", torch::zeros({2, 5, 7, 7})}));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError,
                                 f.vit->logitsReplacing(vitInput, {"9.norm1", torch::zeros({2, 197, 192})}));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError,
                                 engine::effectiveReceptiveField(*f.cnn, f.tensor("cnn.input"), "layer4", 7, 0));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::effectiveReceptiveField(*f.vit, vitInput, "0", 0, 14));
        // Under inference mode there is no graph to differentiate.
        c10::InferenceMode guard;
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::classActivationMaps(*f.vit, vitInput, -1, {"1"}));
    }
};

QTEST_GUILESS_MAIN(TestGradientMethods)
#include "tst_gradientmethods.moc"
