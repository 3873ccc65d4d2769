// Device names as users write them: the canonical form the window's list uses, and
// parseDevice's errors for names that are not devices.
#include "core/engine/engineerror.h"
#include "core/engine/model/device.h"

#include <QtTest>

using namespace attnviz;

class TestDevice : public QObject {
    Q_OBJECT

private slots:
    void canonicalNames()
    {
        QCOMPARE(engine::canonicalDeviceName("cpu").value_or("-"), std::string("cpu"));
        QCOMPARE(engine::canonicalDeviceName("cuda").value_or("-"), std::string("cuda:0"));
        QCOMPARE(engine::canonicalDeviceName("cuda:1").value_or("-"), std::string("cuda:1"));
        QCOMPARE(engine::canonicalDeviceName("cuda:007").value_or("-"), std::string("cuda:7"));
        for (const char* bad : {"", "banana", "CPU", "cuda:", "cuda:x", "cuda:-1", "cuda0", "cuda:1:2", "cuda:99999"})
            QVERIFY2(!engine::canonicalDeviceName(bad), bad);
        // Every device the window lists is already canonical.
        for (const auto& name : engine::availableDevices())
            QCOMPARE(engine::canonicalDeviceName(name).value_or("-"), name);
    }

    void parseDeviceRefusesWhatIsNotADevice()
    {
        QVERIFY(engine::parseDevice("cpu") == torch::Device(torch::kCPU));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::parseDevice("banana"));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::parseDevice("cuda:x"));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::parseDevice("cuda:99"));  // no GPU, or not that many
    }
};

QTEST_GUILESS_MAIN(TestDevice)
#include "tst_device.moc"
