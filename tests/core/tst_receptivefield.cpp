// Theoretical receptive fields of torchvision ResNets against boxes measured by input
// gradients in tests/scripts/rf_reference.py (positive weights, average pooling).
#include "core/engine/classifier.h"
#include "core/engine/engineerror.h"
#include "core/engine/receptivefield.h"

#include <nlohmann/json.hpp>

#include <QtTest>

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
        QTest::newRow("resnet18") << "resnet18" << "/rf/tv_resnet18.pth";
        QTest::newRow("resnet50") << "resnet50" << "/reference/tv_resnet50.pth";
    }

    void matchesGradientSupport()
    {
        QFETCH(QString, arch);
        QFETCH(QString, checkpoint);
        std::ifstream in(kData + "/rf/rf_boxes.json");
        const auto measured = nlohmann::json::parse(in);
        const int size = measured["input_size"].get<int>();
        const auto model = engine::loadClassifier(kData + checkpoint.toStdString());
        const auto fields = engine::resnetReceptiveFields(model->spec());
        int compared = 0;
        for (const auto& field : fields) {
            const auto& entry = measured[arch.toStdString()];
            if (!entry.contains(field.name))
                continue;
            const auto& m = entry[field.name];
            const auto box = engine::receptiveBox(field, m["row"].get<int>(), m["col"].get<int>(), size, size);
            const auto expected = m["box"].get<std::vector<int>>();
            QVERIFY2((std::vector<int>{box.x0, box.y0, box.x1, box.y1}) == expected,
                     qPrintable(QStringLiteral("%1: box [%2, %3, %4, %5], gradient support [%6, %7, %8, %9]")
                                    .arg(QString::fromStdString(field.name)).arg(box.x0).arg(box.y0).arg(box.x1).arg(box.y1)
                                    .arg(expected[0]).arg(expected[1]).arg(expected[2]).arg(expected[3])));
            ++compared;
        }
        QCOMPARE(compared, 6);  // conv1, maxpool, layer1..layer4
    }

    void listsEveryLayerInForwardOrder()
    {
        const auto model = engine::loadClassifier(kData + "/rf/tv_resnet18.pth");
        const auto fields = engine::resnetReceptiveFields(model->spec());
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
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::resnetReceptiveFields(vit->spec()));
    }
};

QTEST_APPLESS_MAIN(TestReceptiveField)
#include "tst_receptivefield.moc"
