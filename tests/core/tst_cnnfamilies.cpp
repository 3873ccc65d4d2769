// Every CNN family against torchvision run on the same weights and input
// (tests/scripts/cnn_reference.py, run at test time by a CTest fixture): logits, every
// stage's feature map, and the theoretical receptive fields against the input-gradient
// support measured there. timm's layouts against small fixtures made once with the real
// timm (tests/scripts/make_timm_fixtures.py; committed under tests/fixtures/timm).
#include "core/engine/engineerror.h"
#include "core/engine/methods/receptivefield.h"
#include "core/engine/model/classifier.h"
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

const std::string kData = ATTNVIZ_TEST_DATA "/cnn/";
const std::string kTimm = ATTNVIZ_TIMM_FIXTURES;

nlohmann::json readJson(const std::string& path)
{
    std::ifstream in(path);
    return nlohmann::json::parse(in);
}

// The trace's stages are `stages`, and they and the logits match the reference.
void compareWithReference(const engine::Classifier& model, const std::map<std::string, torch::Tensor>& ref,
                          const std::vector<std::string>& stages)
{
    QCOMPARE(model.spec().stages, stages);
    const auto trace = model.forward(ref.at("cnn.input"));
    QCOMPARE(trace.features.size(), stages.size());
    for (const auto& [stage, feature] : trace.features) {
        const auto& expected = ref.at("cnn.features." + stage);
        QCOMPARE(feature.sizes(), expected.sizes());
        const double diff = relativeDiff(feature, expected);
        QVERIFY2(diff <= 1e-4,
                 qPrintable(
                     QStringLiteral("%1 differs by %2 (relative)").arg(QString::fromStdString(stage)).arg(diff)));
    }
    const double logitDiff = relativeDiff(trace.logits, ref.at("cnn.logits"));
    QVERIFY2(logitDiff <= 1e-4, qPrintable(QStringLiteral("logits differ by %1 (relative)").arg(logitDiff)));
}

void addCases()
{
    QTest::addColumn<QString>("name");
    QTest::addColumn<QString>("architecture");
    QTest::addColumn<QString>("variant");
    // clang-format off
    QTest::newRow("ResNeXt (groups)") << "tv_resnext" << "resnext" << "resnext17_32x4d";
    QTest::newRow("Wide ResNet") << "tv_wide_resnet" << "wide_resnet" << "wide_resnet14_2";
    QTest::newRow("VGG with BN") << "tv_vgg11_bn" << "vgg" << "vgg11_bn";
    QTest::newRow("VGG") << "tv_vgg11" << "vgg" << "vgg11";
    QTest::newRow("DenseNet-121") << "tv_densenet121" << "densenet" << "densenet121";
    QTest::newRow("MobileNet v2") << "tv_mobilenet_v2" << "mobilenet_v2" << "mobilenet_v2";
    QTest::newRow("MobileNet v3 large") << "tv_mobilenet_v3_large" << "mobilenet_v3" << "mobilenet_v3_large";
    QTest::newRow("MobileNet v3 small") << "tv_mobilenet_v3_small" << "mobilenet_v3" << "mobilenet_v3_small";
    QTest::newRow("EfficientNet-B0") << "tv_efficientnet_b0" << "efficientnet" << "efficientnet_b0";
    QTest::newRow("EfficientNet v2-S (Fused-MBConv)") << "tv_efficientnet_v2_s" << "efficientnet_v2" << "efficientnet_v2_s";
    QTest::newRow("RegNet Y (SE)") << "tv_regnet_y_400mf" << "regnet_y" << "";
    QTest::newRow("RegNet X") << "tv_regnet_x_400mf" << "regnet_x" << "";
    QTest::newRow("ConvNeXt") << "tv_convnext" << "convnext" << "";
    // clang-format on
}

}  // namespace

class TestCnnFamilies : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { torch::set_num_threads(2); }

    void matchesTorchvision_data() { addCases(); }

    void matchesTorchvision()
    {
        QFETCH(QString, name);
        QFETCH(QString, architecture);
        QFETCH(QString, variant);
        const auto caseName = name.toStdString();
        const auto model = engine::loadClassifier(kData + caseName + ".pth");
        const auto& spec = model->spec();
        QCOMPARE(spec.family, engine::Family::CNN);
        QCOMPARE(QString::fromStdString(spec.architecture), architecture);
        QCOMPARE(QString::fromStdString(spec.variant), variant);
        QCOMPARE(spec.numClasses, 10);

        const auto stages = readJson(kData + "cnn_cases.json")[caseName]["stages"].get<std::vector<std::string>>();
        compareWithReference(*model, loadReference(kData + caseName + ".ref.safetensors"), stages);
    }

    void matchesTimm_data()
    {
        QTest::addColumn<QString>("name");
        QTest::addColumn<QString>("architecture");
        QTest::addColumn<QString>("variant");
        // clang-format off
        QTest::newRow("ResNet-D (deep stem, average-pool shortcut)") << "timm_resnet_d" << "resnet" << "resnet14d";
        QTest::newRow("ConvNeXt") << "timm_convnext" << "convnext" << "";
        QTest::newRow("ConvNeXt, conv_mlp") << "timm_convnext_convmlp" << "convnext" << "";
        QTest::newRow("EfficientNet") << "timm_efficientnet" << "efficientnet" << "efficientnet_b0";
        // clang-format on
    }

    void matchesTimm()
    {
        QFETCH(QString, name);
        QFETCH(QString, architecture);
        QFETCH(QString, variant);
        const auto caseName = name.toStdString();
        const auto model = engine::loadClassifier(kTimm + caseName);
        QCOMPARE(model->spec().naming, engine::Naming::Timm);
        QCOMPARE(QString::fromStdString(model->spec().architecture), architecture);
        QCOMPARE(QString::fromStdString(model->spec().variant), variant);
        QCOMPARE(model->spec().preprocessing.interpolation, std::string("bicubic"));  // from config.json
        const auto stages = readJson(kTimm + "cases.json")[caseName]["stages"].get<std::vector<std::string>>();
        compareWithReference(*model, loadReference(kTimm + caseName + ".ref.safetensors"), stages);
    }

    // The differentiable batch forward agrees with the trace, and records every block.
    void activationsAgreeWithTrace_data() { addCases(); }

    void activationsAgreeWithTrace()
    {
        QFETCH(QString, name);
        const auto model = engine::loadClassifier(kData + name.toStdString() + ".pth");
        const auto input = loadReference(kData + name.toStdString() + ".ref.safetensors").at("cnn.input");
        const auto trace = model->forward(input);
        torch::NoGradGuard noGrad;
        const auto acts = model->activations(input);
        QVERIFY(relativeDiff(acts.logits, trace.logits) < 1e-6);
        QVERIFY(acts.features.size() >= trace.features.size());
        for (const auto& [stage, feature] : trace.features)
            QVERIFY2(relativeDiff(acts.feature(stage), feature) < 1e-6, stage.c_str());
    }

    // Every family's last stage is the map its head reads, so gradient methods at the
    // last layer can resume from the trace: the head alone gives the trace's logits.
    void headResumesFromTheTrace_data() { addCases(); }

    void headResumesFromTheTrace()
    {
        QFETCH(QString, name);
        const auto model = engine::loadClassifier(kData + name.toStdString() + ".pth");
        const auto input = loadReference(kData + name.toStdString() + ".ref.safetensors").at("cnn.input");
        const auto trace = model->forward(input);
        QVERIFY(trace.lastLayerInput.defined());
        QVERIFY(trace.lastLayerInput.is_same(trace.features.back().second));
        torch::NoGradGuard noGrad;
        const auto resumed = model->activationsOfLastLayer(trace.lastLayerInput, trace.tokens);
        QVERIFY(relativeDiff(resumed.logits, trace.logits) < 1e-6);
        QCOMPARE(resumed.features.front().first, trace.features.back().first);
    }

    // A layout no reader knows names the nearest one and the keys it cannot place.
    void unknownLayoutNamesTheNearest()
    {
        auto tensors = io::loadCheckpoint(kData + "tv_densenet121.pth").tensors;
        const std::string probe = "features.denseblock1.denselayer1.conv1.weight";
        tensors["features.denseblock1.denselayer1.conv_a.weight"] = tensors.at(probe);
        tensors.erase(probe);
        tensors["aux_logits.weight"] = tensors.at("classifier.weight");
        try {
            engine::buildClassifier(tensors, {});
            QFAIL("an unknown layout loaded");
        } catch (const engine::EngineError& e) {
            const std::string message = e.what();
            QVERIFY2(message.find("nearest layout: torchvision DenseNet") != std::string::npos, e.what());
            QVERIFY2(message.find("first keys it cannot place: 'aux_logits.weight'") != std::string::npos, e.what());
            QVERIFY2(message.find('\n') == std::string::npos, e.what());
        }
    }

    void fieldsMatchGradientSupport_data()
    {
        QTest::addColumn<QString>("name");
        for (const char* name : {"tv_resnext", "tv_convnext", "tv_efficientnet_b0", "tv_densenet121",
                                 "tv_mobilenet_v3_large", "tv_regnet_y_400mf", "tv_vgg11"})
            // clang-format off
            QTest::newRow(name) << QString::fromLatin1(name);
        // clang-format on
    }

    void fieldsMatchGradientSupport()
    {
        QFETCH(QString, name);
        const auto measured = readJson(kData + "cnn_rf_boxes.json");
        const int size = measured["input_size"].get<int>();
        const auto& entry = measured[name.toStdString()];
        const auto model = engine::loadClassifier(kData + name.toStdString() + ".pth");
        const auto fields = engine::stageReceptiveFields(model->spec());
        QCOMPARE(fields.size(), entry.size());
        for (const auto& field : fields) {
            const auto& m = entry.at(field.name);
            const auto box = engine::receptiveBox(field, m["row"].get<int>(), m["col"].get<int>(), size, size);
            const auto expected = m["box"].get<std::vector<int>>();
            QVERIFY2((std::vector<int>{box.x0, box.y0, box.x1, box.y1}) == expected,
                     qPrintable(QStringLiteral("%1: box [%2, %3, %4, %5], gradient support [%6, %7, %8, %9]")
                                    .arg(QString::fromStdString(field.name))
                                    .arg(box.x0)
                                    .arg(box.y0)
                                    .arg(box.x1)
                                    .arg(box.y1)
                                    .arg(expected[0])
                                    .arg(expected[1])
                                    .arg(expected[2])
                                    .arg(expected[3])));
        }
    }
};

QTEST_APPLESS_MAIN(TestCnnFamilies)
#include "tst_cnnfamilies.moc"
