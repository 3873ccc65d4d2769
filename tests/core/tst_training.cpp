// Training and evaluation on Fashion-MNIST (Debian's dataset-fashion-mnist): the IDX
// reader's errors, a short training run whose loss must fall, and the saved model
// taking the same loader path as any user checkpoint.
#include "core/engine/cancellation.h"
#include "core/engine/methods/receptivefield.h"
#include "core/engine/model/classifier.h"
#include "core/engine/tensorconvert.h"
#include "core/engine/training/evaluation.h"
#include "core/engine/training/modelfactory.h"
#include "core/engine/training/trainer.h"
#include "core/io/idxdataset.h"
#include "core/io/safetensors.h"

#include <QTemporaryDir>
#include <QtTest>

#include <fstream>

using namespace attnviz;

namespace {

const std::string kFashionMnist = ATTNVIZ_FMNIST_DIR;

void writeBigEndian(std::ofstream& out, std::uint32_t v)
{
    const char b[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
    out.write(b, 4);
}

// A plain (not gzipped) IDX pair with `images` 2x3 images and `labels` labels.
void writeIdx(const QString& dir, std::uint32_t imageMagic, std::uint32_t images, std::uint32_t labels,
              std::size_t pixelBytes)
{
    std::ofstream img((dir + QStringLiteral("/train-images-idx3-ubyte")).toStdString(), std::ios::binary);
    writeBigEndian(img, imageMagic);
    writeBigEndian(img, images);
    writeBigEndian(img, 2);
    writeBigEndian(img, 3);
    img.write(std::string(pixelBytes, '\x07').data(), std::streamsize(pixelBytes));
    std::ofstream lab((dir + QStringLiteral("/train-labels-idx1-ubyte")).toStdString(), std::ios::binary);
    writeBigEndian(lab, 0x801);
    writeBigEndian(lab, labels);
    lab.write(std::string(labels, '\x01').data(), labels);
}

engine::ImageSet trainingSlice(int64_t n)
{
    return engine::toImageSet(io::readIdxDataset(kFashionMnist, "train")).first(n);
}

// Mean training loss of the first and the last of `epochs` short epochs over `data`.
std::pair<double, double> lossTrend(engine::Classifier& model, const engine::ImageSet& data, int epochs)
{
    engine::TrainOptions options;
    options.epochs = epochs;
    options.batchSize = 64;
    options.learningRate = 3e-3;
    std::vector<double> losses;
    engine::TrainCallbacks callbacks;
    callbacks.epochDone = [&losses](const engine::EpochSummary& e) { losses.push_back(e.loss); };
    engine::train(model, data, options, callbacks);
    return {losses.front(), losses.back()};
}

engine::ViTShape convStemShape()
{
    engine::ViTShape shape;
    shape.convStem = true;
    return shape;
}

}  // namespace

class TestTraining : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { torch::set_num_threads(2); }

    void readsFashionMnist()
    {
        const auto test = io::readIdxDataset(kFashionMnist, "t10k");
        QCOMPARE(test.count, 10000);
        QCOMPARE(test.rows, 28);
        QCOMPARE(test.cols, 28);
        QCOMPARE(test.labels[0], std::uint8_t(9));  // the first test image is an ankle boot
    }

    void rejectsBadIdxFiles_data()
    {
        QTest::addColumn<int>("magic");
        QTest::addColumn<int>("images");
        QTest::addColumn<int>("labels");
        QTest::addColumn<int>("pixelBytes");
        QTest::addColumn<QString>("error");
        QTest::newRow("wrong magic") << 0x802 << 2 << 2 << 12 << "magic number";
        QTest::newRow("truncated pixels") << 0x803 << 2 << 2 << 7 << "truncated";
        QTest::newRow("count mismatch") << 0x803 << 2 << 3 << 12 << "3 labels";
        QTest::newRow("absurd count") << 0x803 << 0x7fffffff << 2 << 12 << "out of range";
    }

    void rejectsBadIdxFiles()
    {
        QFETCH(int, magic);
        QFETCH(int, images);
        QFETCH(int, labels);
        QFETCH(int, pixelBytes);
        QFETCH(QString, error);
        QTemporaryDir dir;
        writeIdx(dir.path(), std::uint32_t(magic), std::uint32_t(images), std::uint32_t(labels),
                 std::size_t(pixelBytes));
        try {
            io::readIdxDataset(dir.path().toStdString(), "train");
            QFAIL("a bad IDX file was accepted");
        } catch (const io::FormatError& e) {
            QVERIFY2(QString::fromUtf8(e.what()).contains(error), e.what());
        }
    }

    void missingFolderIsAnError()
    {
        QVERIFY_THROWS_EXCEPTION(io::FormatError, io::readIdxDataset("/nonexistent", "train"));
    }

    void lossFalls_data()
    {
        QTest::addColumn<QString>("arch");
        QTest::newRow("vit") << "vit";
        QTest::newRow("vit, conv stem") << "vit-convstem";
        QTest::newRow("cnn") << "cnn";
    }

    void lossFalls()
    {
        QFETCH(QString, arch);
        const auto fresh = arch == QLatin1String("vit")            ? engine::freshViT({}, 1)
                           : arch == QLatin1String("vit-convstem") ? engine::freshViT(convStemShape(), 1)
                                                                   : engine::freshResNet({}, 1);
        auto model = engine::buildClassifier(fresh.tensors, fresh.config);
        const auto [first, last] = lossTrend(*model, trainingSlice(1024), 4);
        // Untrained, the loss sits at ln(10) = 2.30 give or take noise; learning moves it well below.
        QVERIFY2(last < first - 0.15, qPrintable(QStringLiteral("epoch loss %1 -> %2").arg(first).arg(last)));
    }

    void savedModelReloadsIdentically()
    {
        auto fresh = engine::freshResNet({}, 2);
        auto model = engine::buildClassifier(fresh.tensors, fresh.config);
        lossTrend(*model, trainingSlice(256), 1);  // running statistics move away from 0/1
        QTemporaryDir dir;
        io::writeSafetensors((dir.path() + QStringLiteral("/model.safetensors")).toStdString(), model->stateDict());
        io::writeModelConfig((dir.path() + QStringLiteral("/config.json")).toStdString(), fresh.config);
        const auto reloaded = engine::loadClassifier(dir.path().toStdString());
        const auto test = engine::toImageSet(io::readIdxDataset(kFashionMnist, "t10k")).first(200);
        const auto a = engine::evaluate(*model, test);
        const auto b = engine::evaluate(*reloaded, test);
        QCOMPARE(a.confusion, b.confusion);
        // config.json's stem_stride 1 and stem_pool false: the stem keeps the resolution.
        const auto& stages = reloaded->spec().stages;
        QCOMPARE(stages.front(), std::string("conv1"));
        QCOMPARE(stages.at(1), std::string("layer1"));
        QCOMPARE(engine::receptiveFields(reloaded->spec()).front().jump, 1.0);
    }

    // A hybrid ViT's conv stem trains its batch norms as the CNN does: training moves the
    // running statistics, they are saved under timm's names, and the reloaded model
    // (eval mode) gives the same predictions.
    void convStemViTReloadsIdentically()
    {
        auto fresh = engine::freshViT(convStemShape(), 2);
        QVERIFY(fresh.tensors.count("patch_embed.backbone.1.conv.bias"));  // 28 px, patch 4: two layers
        QVERIFY(!fresh.tensors.count("patch_embed.backbone.2.conv.weight"));
        auto model = engine::buildClassifier(fresh.tensors, fresh.config);
        lossTrend(*model, trainingSlice(256), 1);
        const auto state = model->stateDict();
        const auto mean = engine::toTorch(state.at("patch_embed.backbone.0.bn.running_mean"));
        QVERIFY(mean.abs().max().item<double>() > 1e-3);
        for (const auto& [name, tensor] : model->namedParameters())  // statistics are not trained
            QVERIFY2(name.find("running") == std::string::npos, name.c_str());
        QTemporaryDir dir;
        io::writeSafetensors((dir.path() + QStringLiteral("/model.safetensors")).toStdString(), state);
        io::writeModelConfig((dir.path() + QStringLiteral("/config.json")).toStdString(), fresh.config);
        const auto reloaded = engine::loadClassifier(dir.path().toStdString());
        QCOMPARE(reloaded->spec().patchSize, 4);
        const auto test = engine::toImageSet(io::readIdxDataset(kFashionMnist, "t10k")).first(200);
        QCOMPARE(engine::evaluate(*model, test).confusion, engine::evaluate(*reloaded, test).confusion);
    }

    // The cancellation scope is asked between batches: a stop asked after the first
    // progress report (batch 20) ends the run before batch 21, returning false.
    void cancelStopsBetweenBatches()
    {
        const auto fresh = engine::freshViT({}, 3);
        auto model = engine::buildClassifier(fresh.tensors, fresh.config);
        bool cancel = false;
        engine::CancellationScope scope([&] { return cancel; });
        int reports = 0;
        engine::TrainCallbacks callbacks;
        callbacks.progress = [&](const engine::TrainProgress&) { ++reports, cancel = true; };
        bool epochSaved = false;
        callbacks.epochDone = [&](const engine::EpochSummary&) { epochSaved = true; };
        engine::TrainOptions options;
        options.batchSize = 16;
        QVERIFY(!engine::train(*model, trainingSlice(1024), options, callbacks));
        QCOMPARE(reports, 1);
        QVERIFY(!epochSaved);
    }

    // A stop that the model's forward sees within a batch (its blocks ask the scope too)
    // ends the run the same way: false, not an exception, and no epoch reported.
    void cancelWithinABatchReturnsFalse()
    {
        const auto fresh = engine::freshViT({}, 3);
        auto model = engine::buildClassifier(fresh.tensors, fresh.config);
        int asked = 0;
        // The 1st question is the trainer's before batch 1; the 3rd is a block's.
        engine::CancellationScope scope([&] { return ++asked >= 3; });
        bool epochSaved = false;
        engine::TrainCallbacks callbacks;
        callbacks.epochDone = [&](const engine::EpochSummary&) { epochSaved = true; };
        engine::TrainOptions options;
        options.batchSize = 16;
        options.epochs = 1;
        QVERIFY(!engine::train(*model, trainingSlice(64), options, callbacks));
        QCOMPARE(asked, 3);
        QVERIFY(!epochSaved);
    }

    // Without a scope nothing stops the run.
    void noScopeRunsToTheEnd()
    {
        const auto fresh = engine::freshViT({}, 3);
        auto model = engine::buildClassifier(fresh.tensors, fresh.config);
        engine::TrainOptions options;
        options.batchSize = 16;
        options.epochs = 1;
        QVERIFY(engine::train(*model, trainingSlice(32), options, {}));
    }
};

QTEST_APPLESS_MAIN(TestTraining)
#include "tst_training.moc"
