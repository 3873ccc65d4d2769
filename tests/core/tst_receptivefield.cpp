// Theoretical receptive fields of torchvision ResNets against boxes measured by input
// gradients in tests/scripts/rf_reference.py (positive weights, average pooling),
// including a ResNet whose BasicBlocks have 5x5 kernels (every conv of it measured).
#include "core/engine/engineerror.h"
#include "core/engine/methods/receptivefield.h"
#include "core/engine/model/classifier.h"

#include <nlohmann/json.hpp>

#include <QtTest>

#include <algorithm>
#include <fstream>

using namespace attnviz;

namespace {

const std::string kData = ATTNVIZ_TEST_DATA;

}  // namespace

class TestReceptiveField : public QObject {
    Q_OBJECT

private slots:
    void matchesGradientSupport_data()
    {
        QTest::addColumn<QString>("arch");
        QTest::addColumn<QString>("checkpoint");
        QTest::newRow("resnet18") << "resnet18"
                                  << "/rf/tv_resnet18.pth";
        QTest::newRow("resnet50") << "resnet50"
                                  << "/reference/tv_resnet50.pth";
        QTest::newRow("5x5 BasicBlock convs") << "resnet_k5"
                                              << "/rf/tv_resnet_k5.pth";
    }

    void matchesGradientSupport()
    {
        QFETCH(QString, arch);
        QFETCH(QString, checkpoint);
        std::ifstream in(kData + "/rf/rf_boxes.json");
        const auto measured = nlohmann::json::parse(in);
        const int size = measured["input_size"].get<int>();
        const auto model = engine::loadClassifier(kData + checkpoint.toStdString());
        const auto fields = engine::receptiveFields(model->spec());
        int compared = 0;
        const auto& entry = measured[arch.toStdString()];
        for (const auto& field : fields) {
            if (!entry.contains(field.name))
                continue;
            const auto& m = entry[field.name];
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
            ++compared;
        }
        QVERIFY(entry.size() >= 6);  // conv1, maxpool, layer1..layer4, and for resnet_k5 every conv
        QCOMPARE(compared, int(entry.size()));
    }

    void kernelsComeFromTheWeights()
    {
        const auto model = engine::loadClassifier(kData + "/rf/tv_resnet_k5.pth");
        const auto fields = engine::receptiveFields(model->spec());
        const auto find = [&fields](const std::string& name) {
            const auto it = std::find_if(fields.begin(), fields.end(), [&](const auto& f) { return f.name == name; });
            if (it == fields.end())
                throw std::runtime_error("no field " + name);
            return *it;
        };
        // layer1.0.conv1 sees 19 pixels at jump 4; a 5x5 conv2 adds 4 jumps.
        QCOMPARE(find("layer1.0.conv1").size, 19.0);
        QCOMPARE(find("layer1.0.conv2").size, 19.0 + 4 * 4.0);
        QVERIFY(std::none_of(fields.begin(), fields.end(),
                             [](const auto& f) { return f.name == "layer1.0.downsample.0"; }));
        // layer3.0.conv1 is 5x5 with stride 2, its shortcut 1x1 with stride 2.
        const auto before = find("layer2");
        QCOMPARE(find("layer3.0.conv1").size, before.size + 4 * before.jump);
        QCOMPARE(find("layer3.0.conv1").jump, 2 * before.jump);
        QCOMPARE(find("layer3.0.downsample.0").size, before.size);
        QCOMPARE(find("layer3.0.downsample.0").jump, 2 * before.jump);
        // A spec that does not describe its layers has no field to give.
        auto spec = model->spec();
        spec.receptiveFields.clear();
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::receptiveFields(spec));
    }

    void listsEveryLayerInForwardOrder()
    {
        const auto model = engine::loadClassifier(kData + "/rf/tv_resnet18.pth");
        const auto fields = engine::receptiveFields(model->spec());
        std::vector<std::string> names;
        for (const auto& f : fields)
            names.push_back(f.name);
        QCOMPARE(names.front(), std::string("conv1"));
        QCOMPARE(names[1], std::string("maxpool"));
        QCOMPARE(names[2], std::string("layer1.0.conv1"));
        QVERIFY(std::find(names.begin(), names.end(), "layer1.0.downsample.0") == names.end());
        QVERIFY(std::find(names.begin(), names.end(), "layer2.0.downsample.0") != names.end());
        QCOMPARE(names.back(), std::string("layer4"));
        QCOMPARE(fields.back().jump, 32.0);
    }

    void vitHasNoTheoreticalField()
    {
        const auto vit = engine::loadClassifier(kData + "/reference/timm_vit");
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::receptiveFields(vit->spec()));
    }
};

QTEST_APPLESS_MAIN(TestReceptiveField)
#include "tst_receptivefield.moc"
