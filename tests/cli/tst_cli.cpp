// attnviz-cli as a user or a script runs it: JSON on stdout, one-line errors, exit codes.
#include <QBuffer>
#include <QDirIterator>
#include <QElapsedTimer>
#include <QImage>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QtEndian>
#include <QtTest>

#include <csignal>

#include "core/io/safetensors.h"
#include "tests/cli/clirun.h"

namespace {

const QString kData = QStringLiteral(ATTNVIZ_TEST_DATA "/reference/");
const QString kVitFmnist = QStringLiteral(ATTNVIZ_SOURCE_DIR "/models/vit-fmnist");
const QString kCnnFmnist = QStringLiteral(ATTNVIZ_SOURCE_DIR "/models/cnn-fmnist");
const QString kSample = QStringLiteral(ATTNVIZ_SOURCE_DIR "/resources/samples/0000-ankle-boot.png");
const QString kSamples = QStringLiteral(ATTNVIZ_SOURCE_DIR "/resources/samples");
const QString kOddImages = QStringLiteral(ATTNVIZ_SOURCE_DIR "/tests/fixtures/images/");
const QString kText = QStringLiteral(ATTNVIZ_SOURCE_DIR "/tests/fixtures/text/");

// The non-empty lines of a JSON Lines file (none when it cannot be read).
QList<QByteArray> jsonLines(const QString& file)
{
    QFile f(file);
    auto lines = f.open(QIODevice::ReadOnly) ? f.readAll().split('\n') : QList<QByteArray>{};
    lines.removeAll(QByteArray());
    return lines;
}

// An open_clip fixture of tests/fixtures/text copied to `folder` with the CLIP tokenizer
// beside it (the fixtures keep it apart); false when a file could not be copied.
bool clipFolderWithTokenizer(const QString& fixture, const QString& folder)
{
    bool copied = QDir().mkpath(folder);
    for (const auto* name : {"open_clip_pytorch_model.bin", "open_clip_config.json"})
        copied = copied
                 && QFile::copy(kText + fixture + QLatin1Char('/') + QLatin1String(name),
                                folder + QLatin1Char('/') + QLatin1String(name));
    return copied
           && QFile::copy(kText + QStringLiteral("clip_bpe/bpe_simple_vocab_16e6.txt.gz"),
                          folder + QStringLiteral("/bpe_simple_vocab_16e6.txt.gz"));
}

// The files under dir whose names match pattern, recursively.
QStringList filesUnder(const QString& dir, const QString& pattern)
{
    QStringList files;
    QDirIterator it(dir, {pattern}, QDir::Files, QDirIterator::Subdirectories);
    while (it.hasNext())
        files << it.next();
    return files;
}

// corrupt.png (a PNG signature, then junk) and bomb.png (a valid 1x1 PNG whose header
// is patched to claim 100000 x 100000 pixels) in `dir`.
void writeBrokenImages(const QTemporaryDir& dir)
{
    QFile corrupt(dir.filePath(QStringLiteral("corrupt.png")));
    corrupt.open(QIODevice::WriteOnly);
    corrupt.write("\x89PNG\r\n\x1a\n this is not really a png");
    QImage tiny(1, 1, QImage::Format_Grayscale8);
    tiny.fill(0);
    QBuffer buffer;
    buffer.open(QIODevice::WriteOnly);
    tiny.save(&buffer, "PNG");
    QByteArray bytes = buffer.data();
    const char huge[8] = {0, 1, char(0x86), char(0xA0), 0, 1, char(0x86), char(0xA0)};
    bytes.replace(16, 8, QByteArray(huge, 8));
    QFile bomb(dir.filePath(QStringLiteral("bomb.png")));
    bomb.open(QIODevice::WriteOnly);
    bomb.write(bytes);
}

float firstFloat(const attnviz::io::RawTensor& t, std::size_t i)
{
    float v;
    std::memcpy(&v, t.bytes.data() + i * sizeof(float), sizeof(float));
    return v;
}

}  // namespace

class TestCli : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;

private:
    // A tree of images for export: good ones (a sample, 16-bit grayscale, RGBA, JPEG, CMYK
    // in subfolders), one that declares 100000 x 100000 pixels and one broken PNG.
    void makeExportTree(const QString& in)
    {
        QVERIFY(QDir().mkpath(in + QStringLiteral("/sub/deeper")));
        QVERIFY(QFile::copy(kSample, in + QStringLiteral("/boot.png")));
        QVERIFY(QFile::copy(kOddImages + QStringLiteral("cmyk.jpg"), in + QStringLiteral("/sub/cmyk.jpg")));
        QVERIFY(QFile::copy(kOddImages + QStringLiteral("huge-declared.png"), in + QStringLiteral("/huge.png")));
        QImage gray(QStringLiteral(ATTNVIZ_SOURCE_DIR "/resources/samples/0001-pullover.png"));
        QVERIFY(gray.convertToFormat(QImage::Format_Grayscale16).save(in + QStringLiteral("/sub/pullover16.png")));
        QVERIFY(
            gray.convertToFormat(QImage::Format_RGBA8888).save(in + QStringLiteral("/sub/deeper/pullover-rgba.png")));
        QVERIFY(gray.convertToFormat(QImage::Format_Grayscale8).save(in + QStringLiteral("/sub/deeper/pullover.jpg")));
        {
            QFile broken(in + QStringLiteral("/sub/broken.png"));
            QVERIFY(broken.open(QIODevice::WriteOnly));
            broken.write("\x89PNG\r\n\x1a\n not really");
        }
    }

    // One method's faithfulness in two exports of the same image (batch 1 and batch 3):
    // the same class and default layer, curves of 5 points with equal AUCs in [0, 1], and
    // where the class is the top-1, curve ends at the top-k's probability (counted).
    void compareFaithfulness(const QJsonObject& mx, const QJsonObject& my, const QJsonObject& top, int& checkedEnds)
    {
        QCOMPARE(mx[QStringLiteral("class")], my[QStringLiteral("class")]);
        QCOMPARE(mx[QStringLiteral("layer")],
                 my[QStringLiteral("layer")]);  // the default map, not the figure's
        for (const char* curve : {"deletion", "insertion"}) {
            const auto cx = mx[QLatin1String(curve)].toObject(), cy = my[QLatin1String(curve)].toObject();
            QCOMPARE(cx[QStringLiteral("probabilities")].toArray().size(), 5);
            const double auc = cx[QStringLiteral("auc")].toDouble();
            QVERIFY(auc >= 0.0 && auc <= 1.0);
            QVERIFY(std::abs(auc - cy[QStringLiteral("auc")].toDouble()) < 1e-4);
        }
        // Deletion starts from the image and insertion ends with it: the model's
        // probability of the class, as the top-k reports it.
        if (mx[QStringLiteral("class")] == top[QStringLiteral("index")]) {
            const double p = top[QStringLiteral("probability")].toDouble();
            QVERIFY(
                std::abs(
                    mx[QStringLiteral("deletion")].toObject()[QStringLiteral("probabilities")].toArray()[0].toDouble()
                    - p)
                < 1e-4);
            QVERIFY(
                std::abs(
                    mx[QStringLiteral("insertion")].toObject()[QStringLiteral("probabilities")].toArray()[4].toDouble()
                    - p)
                < 1e-4);
            ++checkedEnds;
        }
    }

private slots:
    void infoDescribesModels_data()
    {
        QTest::addColumn<QString>("model");
        QTest::addColumn<QString>("family");
        QTest::addColumn<QString>("naming");
        QTest::addColumn<int>("depth");
        QTest::addColumn<int>("heads");
        QTest::addColumn<int>("prefixTokens");
        QTest::addColumn<int>("numClasses");
        // clang-format off
        QTest::newRow("torchvision vit_b_16") << "tv_vit_b_16.pth" << "vit" << "torchvision" << 12 << 12 << 1 << 1000;
        QTest::newRow("timm vit folder") << "timm_vit" << "vit" << "timm" << 4 << 3 << 1 << 10;
        QTest::newRow("DeiT distilled") << "deit_distilled" << "vit" << "timm" << 4 << 3 << 2 << 10;
        QTest::newRow("HF vit") << "hf_vit" << "vit" << "hf" << 4 << 3 << 1 << 10;
        QTest::newRow("DINO teacher") << "dino_teacher.pth" << "vit" << "timm" << 4 << 3 << 1 << 0;
        QTest::newRow("torchvision resnet50") << "tv_resnet50.pth" << "cnn" << "torchvision" << 50 << -1 << 0 << 1000;
        // clang-format on
    }

    void infoDescribesModels()
    {
        QFETCH(QString, model);
        QFETCH(QString, family);
        QFETCH(QString, naming);
        QFETCH(int, depth);
        QFETCH(int, heads);
        QFETCH(int, prefixTokens);
        QFETCH(int, numClasses);
        const auto run = runCli({QStringLiteral("info"), kData + model});
        QVERIFY2(run.exitCode == 0, run.err.constData());
        const auto info = parseObject(run.out);
        QCOMPARE(info[QLatin1String("family")].toString(), family);
        QCOMPARE(info[QLatin1String("naming")].toString(), naming);
        QCOMPARE(info[QLatin1String("depth")].toInt(), depth);
        QCOMPARE(info[QLatin1String("heads")].toInt(-1), heads);
        QCOMPARE(info[QLatin1String("prefix_tokens")].toInt(), prefixTokens);
        QCOMPARE(info[QLatin1String("num_classes")].toInt(), numClasses);
        QCOMPARE(info[QLatin1String("input_size")].toArray().size(), 3);
        QVERIFY(info.contains(QLatin1String("embed_dim")) && info.contains(QLatin1String("patch_size")));
    }

    void headsOverride()
    {
        const auto run = runCli({QStringLiteral("info"), kData + QStringLiteral("timm_vit"), QStringLiteral("--heads"),
                                 QStringLiteral("4")});
        QCOMPARE(run.exitCode, 0);
        QCOMPARE(parseObject(run.out)[QLatin1String("heads")].toInt(), 4);
    }

    void rfListsLayers()
    {
        const auto run = runCli(
            {QStringLiteral("rf"), QStringLiteral("--cnn"), kData + QStringLiteral("tv_resnet50.pth")});
        QVERIFY2(run.exitCode == 0, run.err.constData());
        const auto layers = QJsonDocument::fromJson(run.out).array();
        QCOMPARE(layers.first().toObject()[QLatin1String("name")].toString(), QStringLiteral("conv1"));
        const auto last = layers.last().toObject();
        QCOMPARE(last[QLatin1String("name")].toString(), QStringLiteral("layer4"));
        QCOMPARE(last[QLatin1String("jump")].toDouble(), 32.0);
        QVERIFY(last.contains(QLatin1String("size")) && last.contains(QLatin1String("start")));
    }

    void madAveragesAFolder()
    {
        const auto run = runCli({QStringLiteral("mad"), QStringLiteral("--vit"),
                                 QStringLiteral(ATTNVIZ_SOURCE_DIR "/models/vit-fmnist"), QStringLiteral("--images"),
                                 QStringLiteral(ATTNVIZ_SOURCE_DIR "/resources/samples")});
        QVERIFY2(run.exitCode == 0, run.err.constData());
        const auto result = parseObject(run.out);
        QCOMPARE(result[QLatin1String("images")].toInt(), 12);
        const auto layers = result[QLatin1String("layers")].toArray();
        QCOMPARE(layers.size(), 6);
        for (const auto& layer : layers) {
            QCOMPARE(layer.toArray().size(), 4);
            for (const auto& d : layer.toArray())  // between 0 and the 7x7 grid's diagonal (4 px patches)
                QVERIFY(d.toDouble() >= 0.0 && d.toDouble() <= 6 * 4 * 1.5);
        }
    }

    // Without --vit and --cnn, analyze runs the models attnviz ships (the window's first
    // start), wherever the program is started from.
    void analyzeWithoutAModelRunsTheShippedOnes()
    {
        const auto run = runCli({QStringLiteral("analyze"), QStringLiteral("--image"), kSample}, m_dir.path());
        QVERIFY2(run.exitCode == 0, run.err.constData());
        const auto result = parseObject(run.out);
        const auto shipped = QDir(QStringLiteral(ATTNVIZ_SOURCE_DIR "/models")).canonicalPath();
        QCOMPARE(result[QLatin1String("vit")].toObject()[QLatin1String("model")].toString(),
                 shipped + QStringLiteral("/vit-shapes"));
        QCOMPARE(result[QLatin1String("cnn")].toObject()[QLatin1String("model")].toString(),
                 shipped + QStringLiteral("/cnn-shapes"));
        QCOMPARE(result[QLatin1String("vit")].toObject()[QLatin1String("top_k")].toArray().size(), 5);
    }

    // --version: the version, the commit, LibTorch and CUDA, on stdout; --help on stdout too.
    void versionAndHelpGoToStdout()
    {
        const auto version = runCli({QStringLiteral("--version")});
        QCOMPARE(version.exitCode, 0);
        const auto lines = QString::fromUtf8(version.out).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
        QCOMPARE(lines.size(), 4);
        QVERIFY2(lines[0].startsWith(QStringLiteral("attnviz-cli ")) && lines[0].count(QLatin1Char('.')) == 2,
                 qPrintable(lines[0]));
        QVERIFY(lines[1].startsWith(QStringLiteral("commit ")) && lines[1].size() > 7);
        QVERIFY(lines[2].startsWith(QStringLiteral("LibTorch ")));
        QVERIFY(lines[3].startsWith(QStringLiteral("CUDA: ")));
        const auto help = runCli({QStringLiteral("--help")});
        QCOMPARE(help.exitCode, 0);
        QVERIFY(help.out.startsWith("usage: attnviz-cli"));
        QVERIFY(help.err.isEmpty());
    }

    void analyzeDumpsTheTrace()
    {
        const QString dump = m_dir.filePath(QStringLiteral("dump.safetensors"));
        const auto run = runCli({QStringLiteral("analyze"), QStringLiteral("--vit"),
                                 kData + QStringLiteral("deit_distilled"), QStringLiteral("--tensor"),
                                 kData + QStringLiteral("deit_distilled.ref.safetensors"), QStringLiteral("--top-k"),
                                 QStringLiteral("3"), QStringLiteral("--dump"), dump});
        QVERIFY2(run.exitCode == 0, run.err.constData());
        const auto result = parseObject(run.out)[QLatin1String("vit")].toObject();
        const auto topK = result[QLatin1String("top_k")].toArray();
        QCOMPARE(topK.size(), 3);
        QVERIFY(topK[0].toObject()[QLatin1String("probability")].toDouble()
                >= topK[1].toObject()[QLatin1String("probability")].toDouble());
        QCOMPARE(topK[0].toObject()[QLatin1String("label")].toString(),
                 QStringLiteral("class %1").arg(topK[0].toObject()[QLatin1String("index")].toInt()));

        const auto dumped = attnviz::io::readSafetensors(dump.toStdString()).tensors;
        const auto ref = attnviz::io::readSafetensors(
                             (kData + QStringLiteral("deit_distilled.ref.safetensors")).toStdString())
                             .tensors;
        for (int l = 0; l < 4; ++l)
            QCOMPARE(dumped.at("vit.attn." + std::to_string(l)).shape, (std::vector<std::int64_t>{1, 3, 198, 198}));
        const auto& logits = dumped.at("vit.logits");
        const auto& expected = ref.at("vit.logits");
        QCOMPARE(logits.shape, expected.shape);
        for (std::size_t i = 0; i < std::size_t(logits.numel()); ++i)
            QVERIFY(std::abs(firstFloat(logits, i) - firstFloat(expected, i))
                    <= 1e-4f * (1.0f + std::abs(firstFloat(expected, i))));
    }

    // The logit lens's most probable class at every patch, in the JSON and the dump: every
    // block's 7 x 7 grid, its probability never below that of the class shown.
    void analyzeGivesTheLogitLensTopClasses()
    {
        const QString dump = m_dir.filePath(QStringLiteral("lens.safetensors"));
        const auto run = runCli({QStringLiteral("analyze"), QStringLiteral("--vit"), kVitFmnist,
                                 QStringLiteral("--image"), kSample, QStringLiteral("--method"),
                                 QStringLiteral("logit-lens"), QStringLiteral("--layer"), QStringLiteral("all"),
                                 QStringLiteral("--dump"), dump});
        QVERIFY2(run.exitCode == 0, run.err.constData());
        const auto lens = parseObject(
                              run.out)[QLatin1String("vit")][QLatin1String("view")][QLatin1String("patch_top_class")]
                              .toArray();
        QCOMPARE(lens.size(), 6);
        const auto last = lens.last().toObject();
        QCOMPARE(last[QLatin1String("classes")].toArray().size(), 7);
        QCOMPARE(last[QLatin1String("classes")].toArray()[0].toArray().size(), 7);
        QVERIFY(last[QLatin1String("most_patches")][QLatin1String("share")].toDouble() > 0);
        const auto dumped = attnviz::io::readSafetensors(dump.toStdString()).tensors;
        const auto& classes = dumped.at("vit.logit-lens.top_class");
        QCOMPARE(classes.shape, (std::vector<std::int64_t>{6, 7, 7}));
        const auto& top = dumped.at("vit.logit-lens.top_probability");
        const auto& shown = dumped.at("vit.logit-lens");  // [6, 1, 7, 7]: the top-1 class's probability
        for (std::size_t i = 0; i < std::size_t(top.numel()); ++i)
            QVERIFY(firstFloat(top, i) + 1e-6f >= firstFloat(shown, i));
        std::int64_t first = 0;
        std::memcpy(&first, classes.bytes.data(), sizeof first);
        QCOMPARE(first, std::int64_t(lens[0][QLatin1String("classes")][0][0].toInt()));
    }

    // export --methods pca over a folder: one PCA per model and layer fitted over the
    // folder's images (the summary says on how many), unless --pca-fit image; the colours
    // then differ.
    void exportFitsOnePcaOverTheFolder()
    {
        const QString folder = m_dir.filePath(QStringLiteral("pca-folder"));
        const QString alone = m_dir.filePath(QStringLiteral("pca-alone"));
        const auto exportPca = [&](const QString& out, const QString& fit) {
            return runCli({QStringLiteral("export"), QStringLiteral("--vit"), kVitFmnist, QStringLiteral("--cnn"),
                           kCnnFmnist, QStringLiteral("--images"), kSamples, QStringLiteral("--out"), out,
                           QStringLiteral("--methods"), QStringLiteral("pca"), QStringLiteral("--pca-fit"), fit});
        };
        const auto shared = exportPca(folder, QStringLiteral("folder"));
        QVERIFY2(shared.exitCode == 0, shared.err.constData());
        const auto fit = parseObject(shared.out)[QLatin1String("pca_fit")].toObject();
        QCOMPARE(fit[QLatin1String("vit")][QLatin1String("images")].toInt(), 12);
        QCOMPARE(fit[QLatin1String("vit")][QLatin1String("layers")].toArray(), QJsonArray{QStringLiteral("5")});
        QCOMPARE(fit[QLatin1String("cnn")][QLatin1String("images")].toInt(), 12);
        const auto single = exportPca(alone, QStringLiteral("image"));
        QVERIFY2(single.exitCode == 0, single.err.constData());
        QVERIFY(!parseObject(single.out).contains(QLatin1String("pca_fit")));
        const auto png = [](const QString& out) {
            QDirIterator it(out, {QStringLiteral("*-vit-pca.png")}, QDir::Files, QDirIterator::Subdirectories);
            return it.hasNext() ? QImage(it.next()) : QImage();
        };
        QVERIFY(!png(folder).isNull() && !png(alone).isNull());
        QVERIFY(png(folder) != png(alone));
        const auto notPca = runCli({QStringLiteral("export"), QStringLiteral("--vit"), kVitFmnist,
                                    QStringLiteral("--images"), kSamples, QStringLiteral("--out"), alone,
                                    QStringLiteral("--pca-fit"), QStringLiteral("folder")});
        QVERIFY2(notPca.exitCode == 2 && notPca.err.contains("--pca-fit only applies to --methods pca"),
                 notPca.err.constData());
    }

    // A CLIP model asked about prompts: the open_clip fixture with its tokenizer beside it,
    // against what open_clip computed (tests/scripts/make_text_tower_fixtures.py).
    void analyzeAsksAboutPrompts()
    {
        const QString model = m_dir.filePath(QStringLiteral("clip_with_tokenizer"));
        QVERIFY(clipFolderWithTokenizer(QStringLiteral("openclip_clip"), model));
        const auto ref = attnviz::io::readSafetensors(
                             (kText + QStringLiteral("openclip_clip.ref.safetensors")).toStdString())
                             .tensors;
        const QString tensor = m_dir.filePath(QStringLiteral("clip_input.safetensors"));
        attnviz::io::writeSafetensors(tensor.toStdString(), {{"input", ref.at("image.input")}});
        const QString dump = m_dir.filePath(QStringLiteral("clip_dump.safetensors"));
        const QStringList prompts{QStringLiteral("a photo of a cat"), QStringLiteral("a photo of a dog."),
                                  QStringLiteral("A Drawing Of A Goldfish!"), QStringLiteral("tench")};
        QStringList args{QStringLiteral("analyze"),
                         QStringLiteral("--vit"),
                         model,
                         QStringLiteral("--tensor"),
                         tensor,
                         QStringLiteral("--dump"),
                         dump};
        for (const auto& p : prompts)
            args << QStringLiteral("--text") << p;
        const auto run = runCli(args);
        QVERIFY2(run.exitCode == 0, run.err.constData());
        const auto vit = parseObject(run.out)[QLatin1String("vit")].toObject();
        const auto scores = vit[QLatin1String("prompts")].toObject()[QLatin1String("scores")].toArray();
        QCOMPARE(scores.size(), 4);
        const auto& expected = ref.at("text.scores");
        int best = 0;
        for (int i = 0; i < 4; ++i) {
            const auto row = scores[i].toObject();
            QCOMPARE(row[QLatin1String("label")].toString(), prompts[i]);
            QVERIFY(std::abs(row[QLatin1String("score")].toDouble() - firstFloat(expected, std::size_t(i))) <= 1e-4);
            best = firstFloat(expected, std::size_t(i)) > firstFloat(expected, std::size_t(best)) ? i : best;
        }
        QCOMPARE(vit[QLatin1String("top_k")].toArray()[0].toObject()[QLatin1String("label")].toString(), prompts[best]);
        const auto dumped = attnviz::io::readSafetensors(dump.toStdString()).tensors;
        QCOMPARE(dumped.at("vit.text.ids").shape, (std::vector<std::int64_t>{4, 77}));
        QVERIFY(dumped.at("vit.text.ids").bytes.size() == ref.at("text.ids").bytes.size()
                && std::memcmp(dumped.at("vit.text.ids").bytes.data(), ref.at("text.ids").bytes.data(),
                               ref.at("text.ids").bytes.size())
                       == 0);
        QCOMPARE(dumped.at("vit.text.embeds").shape, (std::vector<std::int64_t>{4, 32}));
        QCOMPARE(dumped.at("vit.text.scores").shape, (std::vector<std::int64_t>{4}));

        // info names the text tower and the tokenizer it would use, or why there is none
        const auto tower = parseObject(runCli({QStringLiteral("info"), model}).out)[QLatin1String("text_tower")]
                               .toObject();
        QCOMPARE(tower[QLatin1String("layout")].toString(), QStringLiteral("open_clip"));
        QCOMPARE(tower[QLatin1String("context_length")].toInt(), 77);
        QVERIFY(tower[QLatin1String("tokenizer")].toObject()[QLatin1String("file")].toString().endsWith(
            QLatin1String("bpe_simple_vocab_16e6.txt.gz")));
        const auto bare = parseObject(runCli({QStringLiteral("info"), kText + QStringLiteral("openclip_clip")}).out);
        QVERIFY(
            bare[QLatin1String("text_tower")][QLatin1String("tokenizer")][QLatin1String("missing")].toString().contains(
                QLatin1String("put tokenizer.json")));

        // one line each: an empty prompt, a model without a text tower, a folder without a tokenizer
        const auto empty = runCli({QStringLiteral("analyze"), QStringLiteral("--vit"), model,
                                   QStringLiteral("--tensor"), tensor, QStringLiteral("--text"), QStringLiteral(" ")});
        QVERIFY(empty.exitCode != 0 && empty.err.contains("an empty prompt asks for nothing")
                && empty.err.trimmed().count('\n') == 0);
        const auto noTower = runCli({QStringLiteral("analyze"), QStringLiteral("--vit"),
                                     kData + QStringLiteral("timm_vit"), QStringLiteral("--tensor"), tensor,
                                     QStringLiteral("--text"), QStringLiteral("a dog")});
        QVERIFY2(noTower.exitCode != 0 && noTower.err.contains("has no text tower"), noTower.err.constData());
        const auto noTokenizer = runCli({QStringLiteral("analyze"), QStringLiteral("--vit"),
                                         kText + QStringLiteral("openclip_clip"), QStringLiteral("--tensor"), tensor,
                                         QStringLiteral("--text"), QStringLiteral("a dog")});
        QVERIFY2(noTokenizer.exitCode != 0 && noTokenizer.err.contains("put tokenizer.json"),
                 noTokenizer.err.constData());
    }

    // export --list naming one file in four spellings (b.png, ./b.png, sub/../b.png and its
    // absolute path): one image, one record; the summary lists the repeats.
    void exportListNamesEachFileOnce()
    {
        const QDir folder(m_dir.filePath(QStringLiteral("listed")));
        QVERIFY(folder.mkpath(QStringLiteral("sub")));
        QVERIFY(QFile::copy(kSample, folder.filePath(QStringLiteral("b.png"))));
        QVERIFY(QFile::copy(kSample, folder.filePath(QStringLiteral("c.png"))));
        QFile list(folder.filePath(QStringLiteral("images.txt")));
        QVERIFY(list.open(QIODevice::WriteOnly));
        list.write(QStringLiteral("b.png\n./b.png\nsub/../b.png\n%1\nc.png\n")
                       .arg(folder.absoluteFilePath(QStringLiteral("b.png")))
                       .toUtf8());
        list.close();
        const QString out = m_dir.filePath(QStringLiteral("listed-out"));
        const auto run = runCli({QStringLiteral("export"), QStringLiteral("--vit"), kVitFmnist,
                                 QStringLiteral("--list"), list.fileName(), QStringLiteral("--out"), out});
        QVERIFY2(run.exitCode == 0, run.err.constData());
        const auto summary = parseObject(run.out);
        QCOMPARE(summary[QLatin1String("images")].toInt(), 2);
        QCOMPARE(summary[QLatin1String("repeated_in_list")].toArray().size(), 3);
        QCOMPARE(summary[QLatin1String("repeated_in_list")].toArray()[0].toString(), QStringLiteral("./b.png"));
        QFile results(out + QStringLiteral("/results.jsonl"));
        QVERIFY(results.open(QIODevice::ReadOnly));
        QCOMPARE(results.readAll().trimmed().split('\n').size(), 2);
    }

    // export --text: each class-specific view once per prompt, its file and score under
    // the prompt in the record, the prompt in the PNG's metadata; other views once.
    void exportMakesAViewPerPrompt()
    {
        const QString model = m_dir.filePath(QStringLiteral("legrad_clip_with_tokenizer"));
        QVERIFY(clipFolderWithTokenizer(QStringLiteral("legrad_clip"), model));
        const QString images = m_dir.filePath(QStringLiteral("prompt-images"));
        QVERIFY(QDir().mkpath(images));
        QVERIFY(QFile::copy(kSample, images + QStringLiteral("/boot.png")));
        const QString out = m_dir.filePath(QStringLiteral("prompt-export"));
        const QStringList prompts{QStringLiteral("a photo of a cat"), QStringLiteral("tench")};
        const auto run = runCli({QStringLiteral("export"), QStringLiteral("--vit"), model, QStringLiteral("--images"),
                                 images, QStringLiteral("--out"), out, QStringLiteral("--methods"),
                                 QStringLiteral("attention,legrad"), QStringLiteral("--text"), prompts[0],
                                 QStringLiteral("--text"), prompts[1], QStringLiteral("--faithfulness"),
                                 QStringLiteral("--faithfulness-steps"), QStringLiteral("4")});
        QVERIFY2(run.exitCode == 0, run.err.constData());
        const auto summary = parseObject(run.out);
        QCOMPARE(summary[QLatin1String("prompts")][QLatin1String("vit")][QLatin1String("texts")].toArray().size(), 2);
        QFile results(out + QStringLiteral("/results.jsonl"));
        QVERIFY(results.open(QIODevice::ReadOnly));
        const auto vit = parseObject(results.readLine())[QLatin1String("vit")].toObject();
        QVERIFY(vit[QLatin1String("views")].toObject().contains(QLatin1String("attention")));
        QVERIFY(!vit[QLatin1String("views")].toObject().contains(QLatin1String("legrad")));
        const auto perPrompt = vit[QLatin1String("prompts")].toArray();
        QCOMPARE(perPrompt.size(), 2);
        QByteArray previous;
        for (int p = 0; p < 2; ++p) {
            const auto entry = perPrompt[p].toObject();
            QCOMPARE(entry[QLatin1String("label")].toString(), prompts[p]);
            QVERIFY(entry.contains(QLatin1String("score")) && entry.contains(QLatin1String("probability")));
            // deletion and insertion of the prompt's own map, for its class
            QCOMPARE(entry[QLatin1String("faithfulness")][QLatin1String("legrad")][QLatin1String("class")].toInt(), p);
            const auto file = out + QLatin1Char('/')
                              + entry[QLatin1String("views")].toObject()[QLatin1String("legrad")].toString();
            QVERIFY2(file.endsWith(QStringLiteral("-vit-legrad-prompt%1.png").arg(p)), qPrintable(file));
            const QImage png(file);
            QVERIFY2(!png.isNull(), qPrintable(file));
            QCOMPARE(png.text(QStringLiteral("attnviz:prompt")), prompts[p]);
            QCOMPARE(png.text(QStringLiteral("attnviz:class")), QStringLiteral("%1 %2").arg(p).arg(prompts[p]));
            QFile bytes(file);
            QVERIFY(bytes.open(QIODevice::ReadOnly));
            const auto data = bytes.readAll();
            QVERIFY(data != previous);  // another prompt, another map
            previous = data;
        }
        // --text with a CNN only: the prompts need a ViT, said in one line
        const auto noVit = runCli({QStringLiteral("export"), QStringLiteral("--cnn"), kCnnFmnist,
                                   QStringLiteral("--images"), images, QStringLiteral("--out"), out,
                                   QStringLiteral("--text"), QStringLiteral("a dog")});
        QVERIFY2(noVit.exitCode == 2 && noVit.err.contains("--text needs --vit MODEL"), noVit.err.constData());
    }

    void analyzeReadsAnImage()
    {
        QImage image(96, 64, QImage::Format_RGB32);
        image.fill(QColor(200, 30, 90));
        const QString path = m_dir.filePath(QStringLiteral("red.png"));
        QVERIFY(image.save(path));
        const auto run = runCli({QStringLiteral("analyze"), QStringLiteral("--vit"), kData + QStringLiteral("timm_vit"),
                                 QStringLiteral("--cnn"), kData + QStringLiteral("tv_resnet50.pth"),
                                 QStringLiteral("--image"), path});
        QVERIFY2(run.exitCode == 0, run.err.constData());
        const auto result = parseObject(run.out);
        QCOMPARE(result[QLatin1String("vit")].toObject()[QLatin1String("top_k")].toArray().size(), 5);
        QCOMPARE(result[QLatin1String("cnn")].toObject()[QLatin1String("input_size")].toArray()[2].toInt(), 224);
    }

    void contradictionsNameTheKey_data()
    {
        QTest::addColumn<QString>("config");
        QTest::addColumn<QString>("extraKey");
        QTest::addColumn<QString>("message");
        // clang-format off
        QTest::newRow("num_classes contradicts head") << R"({"num_classes": 7})" << "" << "num_classes = 7 but the weights have 10";
        QTest::newRow("embed_dim contradicts") << R"({"model_args": {"embed_dim": 384}})" << "" << "embed_dim = 384";
        QTest::newRow("too few labels") << R"({"label_names": ["a", "b"]})" << "" << "names 2 labels";
        QTest::newRow("channels contradict") << R"({"pretrained_cfg": {"input_size": [1, 224, 224]}})" << "" << "input channels";
        QTest::newRow("unknown extra key") << "{}" << "blocks.0.attn.rel_pos" << "unexpected key 'blocks.0.attn.rel_pos'";
        QTest::newRow("broken config") << "{nope" << "" << "not valid JSON";
        // clang-format on
    }

    void contradictionsNameTheKey()
    {
        QFETCH(QString, config);
        QFETCH(QString, extraKey);
        QFETCH(QString, message);
        QTemporaryDir dir;
        auto tensors =
            attnviz::io::readSafetensors((kData + QStringLiteral("timm_vit/model.safetensors")).toStdString()).tensors;
        if (!extraKey.isEmpty())
            tensors[extraKey.toStdString()] = tensors.at("norm.bias");
        attnviz::io::writeSafetensors(dir.filePath(QStringLiteral("model.safetensors")).toStdString(), tensors);
        QFile file(dir.filePath(QStringLiteral("config.json")));
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write(config.toUtf8());
        file.close();
        const auto run = runCli({QStringLiteral("info"), dir.path()});
        QCOMPARE(run.exitCode, 1);
        QVERIFY2(QString::fromUtf8(run.err).contains(message), run.err.constData());
        QCOMPARE(run.err.count('\n'), 1);
    }

    void trainWritesALoadableModel()
    {
        const QString out = m_dir.filePath(QStringLiteral("trained"));
        const auto run = runCli({QStringLiteral("train"), QStringLiteral("--arch"), QStringLiteral("cnn"),
                                 QStringLiteral("--data"), QStringLiteral(ATTNVIZ_FMNIST_DIR), QStringLiteral("--out"),
                                 out, QStringLiteral("--epochs"), QStringLiteral("1"), QStringLiteral("--limit"),
                                 QStringLiteral("256"), QStringLiteral("--batch-size"), QStringLiteral("64"),
                                 QStringLiteral("--labels"), QStringLiteral("fashion-mnist")});
        QVERIFY2(run.exitCode == 0, run.err.constData());
        QVERIFY(run.err.contains("epoch 1 done"));
        const auto eval = runCli({QStringLiteral("evaluate"), QStringLiteral("--cnn"), out, QStringLiteral("--data"),
                                  QStringLiteral(ATTNVIZ_FMNIST_DIR), QStringLiteral("--limit"),
                                  QStringLiteral("100")});
        QVERIFY2(eval.exitCode == 0, eval.err.constData());
        const auto result = parseObject(eval.out);
        QCOMPARE(result[QLatin1String("count")].toInt(), 100);
        const auto cnn = result[QLatin1String("cnn")].toObject();
        QCOMPARE(cnn[QLatin1String("per_class")].toArray()[9].toObject()[QLatin1String("label")].toString(),
                 QStringLiteral("Ankle boot"));
        int total = 0;
        for (const auto& row : cnn[QLatin1String("confusion")].toArray())
            for (const auto& v : row.toArray())
                total += v.toInt();
        QCOMPARE(total, 100);
    }

    // The colour benchmark end to end: generated, trained on (its ImageFolder tree, the
    // class names from the folders, the pixel statistics from the images) and evaluated.
    void benchmarkTrainsAndEvaluates()
    {
        const QString bench = m_dir.filePath(QStringLiteral("bench"));
        const auto made = runCli({QStringLiteral("benchmark"), QStringLiteral("make"), QStringLiteral("--out"), bench,
                                  QStringLiteral("--count"), QStringLiteral("40"), QStringLiteral("--test-count"),
                                  QStringLiteral("20"), QStringLiteral("--seed"), QStringLiteral("3")});
        QVERIFY2(made.exitCode == 0, made.err.constData());
        QCOMPARE(parseObject(made.out)[QLatin1String("classes")].toArray().size(), 10);
        QVERIFY(QFile::exists(bench + QStringLiteral("/index.json")));
        QVERIFY(QFile::exists(bench + QStringLiteral("/masks/test/disc/00003.png")));

        const QString out = m_dir.filePath(QStringLiteral("bench-vit"));
        const auto trained = runCli({QStringLiteral("train"), QStringLiteral("--arch"), QStringLiteral("vit"),
                                     QStringLiteral("--data"), bench + QStringLiteral("/train"),
                                     QStringLiteral("--out"), out, QStringLiteral("--epochs"), QStringLiteral("1"),
                                     QStringLiteral("--batch-size"), QStringLiteral("20"), QStringLiteral("--width"),
                                     QStringLiteral("16"), QStringLiteral("--depth"), QStringLiteral("1"),
                                     QStringLiteral("--mlp-ratio"), QStringLiteral("4")});
        QVERIFY2(trained.exitCode == 0, trained.err.constData());
        // --mlp-ratio 4: the MLP's hidden layer is 4 x 16 wide (the safetensors header says).
        QFile weights(out + QStringLiteral("/model.safetensors"));
        QVERIFY(weights.open(QIODevice::ReadOnly));
        const auto headerSize = qFromLittleEndian<quint64>(weights.read(8).constData());
        const auto header = QJsonDocument::fromJson(weights.read(qint64(headerSize))).object();
        QCOMPARE(header[QLatin1String("blocks.0.mlp.fc1.weight")].toObject()[QLatin1String("shape")].toArray(),
                 (QJsonArray{64, 16}));
        const auto info = parseObject(runCli({QStringLiteral("info"), out}).out);
        QCOMPARE(info[QLatin1String("patch_size")].toInt(), 8);
        QCOMPARE(info[QLatin1String("input_size")].toArray()[0].toInt(), 3);

        const auto eval = runCli({QStringLiteral("evaluate"), QStringLiteral("--vit"), out, QStringLiteral("--data"),
                                  bench + QStringLiteral("/test"), QStringLiteral("--limit"), QStringLiteral("10")});
        QVERIFY2(eval.exitCode == 0, eval.err.constData());
        const auto result = parseObject(eval.out);
        QCOMPARE(result[QLatin1String("count")].toInt(), 10);
        const auto perClass = result[QLatin1String("vit")].toObject()[QLatin1String("per_class")].toArray();
        QCOMPARE(perClass[0].toObject()[QLatin1String("label")].toString(), QStringLiteral("checker"));
        QCOMPARE(perClass[9].toObject()[QLatin1String("label")].toString(), QStringLiteral("triangle"));
    }

    void interruptedTrainingKeepsLastCheckpoint()
    {
        const QString out = m_dir.filePath(QStringLiteral("interrupted"));
        QProcess process;
        process.start(QStringLiteral(ATTNVIZ_BIN_DIR "/attnviz-cli"),
                      {QStringLiteral("train"), QStringLiteral("--arch"), QStringLiteral("vit"),
                       QStringLiteral("--data"), QStringLiteral(ATTNVIZ_FMNIST_DIR), QStringLiteral("--out"), out,
                       QStringLiteral("--epochs"), QStringLiteral("1000"), QStringLiteral("--limit"),
                       QStringLiteral("256"), QStringLiteral("--batch-size"), QStringLiteral("64")});
        QByteArray err;
        QTRY_VERIFY_WITH_TIMEOUT((err += process.readAllStandardError()).contains("epoch 2 done"), 120000);
        ::kill(pid_t(process.processId()), SIGINT);
        QVERIFY(process.waitForFinished(60000));
        err += process.readAllStandardError();
        QCOMPARE(process.exitCode(), 130);
        QVERIFY2(err.contains("is intact"), err.constData());
        QVERIFY(!QFile::exists(out + QStringLiteral("/model.safetensors.partial")));
        const auto info = runCli({QStringLiteral("info"), out});
        QVERIFY2(info.exitCode == 0, info.err.constData());
        QCOMPARE(parseObject(info.out)[QLatin1String("depth")].toInt(), 6);
    }

    void analyzeWritesOverlaysAndMaps()
    {
        const QString dir = m_dir.filePath(QStringLiteral("overlays"));
        const QString dump = m_dir.filePath(QStringLiteral("gradcam.safetensors"));
        const auto run = runCli({QStringLiteral("analyze"), QStringLiteral("--vit"), kVitFmnist,
                                 QStringLiteral("--cnn"), kCnnFmnist, QStringLiteral("--image"), kSample,
                                 QStringLiteral("--method"), QStringLiteral("gradcam"), QStringLiteral("--out-dir"),
                                 dir, QStringLiteral("--dump"), dump, QStringLiteral("--colormap"),
                                 QStringLiteral("inferno")});
        QVERIFY2(run.exitCode == 0, run.err.constData());
        const auto result = parseObject(run.out);
        for (const char* role : {"vit", "cnn"}) {
            const auto view = result[QLatin1String(role)].toObject()[QLatin1String("view")].toObject();
            QCOMPARE(view[QLatin1String("class_name")].toString(), QStringLiteral("Ankle boot"));
            const QString file = view[QLatin1String("file")].toString();
            QCOMPARE(file, dir + QStringLiteral("/0000-ankle-boot-%1-gradcam.png").arg(QLatin1String(role)));
            QImage image(file);
            QVERIFY(image.width() > 224 && image.height() >= 224);  // 28 px input enlarged, plus a colour bar
            // Read back by Qt's own PNG reader: the text chunk names what was drawn.
            QCOMPARE(image.text(QStringLiteral("attnviz:method")), QStringLiteral("gradcam"));
            QCOMPARE(image.text(QStringLiteral("attnviz:colormap")), QStringLiteral("inferno"));
            QCOMPARE(image.text(QStringLiteral("attnviz:class")), QStringLiteral("9 Ankle boot"));
            QCOMPARE(image.text(QStringLiteral("attnviz:image")), kSample);
            // A ViT CAM says which tokens it read; a CNN's has nothing to choose.
            QCOMPARE(image.text(QStringLiteral("attnviz:cam_input")),
                     QString::fromLatin1(role == std::string("vit") ? "norm1" : ""));
        }
        const auto maps = attnviz::io::readSafetensors(dump.toStdString()).tensors;
        QCOMPARE(maps.at("vit.gradcam").shape, (std::vector<std::int64_t>{1, 1, 7, 7}));
        QCOMPARE(maps.at("cnn.gradcam").shape, (std::vector<std::int64_t>{1, 1, 7, 7}));
    }

    void analyzeOffersEveryMethod_data()
    {
        QTest::addColumn<QString>("method");
        QTest::addColumn<bool>("cnn");
        for (const char* m : {"grad-rollout", "generic-attention", "transformer-attribution"})
            // clang-format off
            QTest::newRow(m) << QString::fromLatin1(m) << false;
        for (const char* m : {"gradcam++", "xgradcam", "hirescam", "layercam", "eigencam", "scorecam", "ablationcam"})
            QTest::newRow(m) << QString::fromLatin1(m) << true;
        // clang-format on
    }

    void analyzeOffersEveryMethod()
    {
        QFETCH(QString, method);
        QFETCH(bool, cnn);
        const QString dump = m_dir.filePath(method + QStringLiteral(".safetensors"));
        QStringList args{QStringLiteral("analyze"),
                         QStringLiteral("--vit"),
                         kVitFmnist,
                         QStringLiteral("--image"),
                         kSample,
                         QStringLiteral("--method"),
                         method,
                         QStringLiteral("--dump"),
                         dump};
        if (cnn)
            args << QStringLiteral("--cnn") << kCnnFmnist << QStringLiteral("--cam-input")
                 << QStringLiteral("residual");
        const auto run = runCli(args);
        QVERIFY2(run.exitCode == 0, run.err.constData());
        const auto result = parseObject(run.out);
        const auto view = result[QLatin1String("vit")].toObject()[QLatin1String("view")].toObject();
        QCOMPARE(view[QLatin1String("method")].toString(), method);
        QCOMPARE(view[QLatin1String("class_name")].toString(), QStringLiteral("Ankle boot"));
        QCOMPARE(view[QLatin1String("cam_input")].toString(), cnn ? QStringLiteral("residual") : QString());
        const auto maps = attnviz::io::readSafetensors(dump.toStdString()).tensors;
        QCOMPARE(maps.at("vit." + method.toStdString()).shape, (std::vector<std::int64_t>{1, 1, 7, 7}));
        if (cnn)
            QCOMPARE(maps.at("cnn." + method.toStdString()).shape, (std::vector<std::int64_t>{1, 1, 7, 7}));
    }

    // A method's own settings reach it and its JSON: occlusion with 7-px windows every 7 px
    // on both models, its map over the input, and the settings in the view's record.
    void analyzeTakesAMethodsSettings()
    {
        const QString dump = m_dir.filePath(QStringLiteral("occlusion.safetensors"));
        const auto run = runCli({QStringLiteral("analyze"), QStringLiteral("--vit"), kVitFmnist,
                                 QStringLiteral("--cnn"), kCnnFmnist, QStringLiteral("--image"), kSample,
                                 QStringLiteral("--method"), QStringLiteral("occlusion"), QStringLiteral("--window"),
                                 QStringLiteral("7"), QStringLiteral("--stride"), QStringLiteral("7"),
                                 QStringLiteral("--dump"), dump});
        QVERIFY2(run.exitCode == 0, run.err.constData());
        const auto result = parseObject(run.out);
        const auto maps = attnviz::io::readSafetensors(dump.toStdString()).tensors;
        for (const auto* role : {"vit", "cnn"}) {
            const auto side = result[QLatin1String(role)].toObject();
            const auto view = side[QLatin1String("view")].toObject();
            const auto settings = view[QLatin1String("settings")].toObject();
            QCOMPARE(settings[QLatin1String("window")].toInt(), 7);
            QCOMPARE(settings[QLatin1String("stride")].toInt(), 7);
            const auto input = side[QLatin1String("input_size")].toArray();
            QCOMPARE(maps.at(std::string(role) + ".occlusion").shape,
                     (std::vector<std::int64_t>{1, 1, input[2].toInteger(), input[3].toInteger()}));
        }
    }

    void analyzeDrawsALayerByHeadMontage()
    {
        const QString dir = m_dir.filePath(QStringLiteral("montage"));
        const auto run = runCli({QStringLiteral("analyze"), QStringLiteral("--vit"), kVitFmnist,
                                 QStringLiteral("--image"), kSample, QStringLiteral("--method"),
                                 QStringLiteral("attention"), QStringLiteral("--layer"), QStringLiteral("all"),
                                 QStringLiteral("--head"), QStringLiteral("all"), QStringLiteral("--normalize"),
                                 QStringLiteral("layer"), QStringLiteral("--out-dir"), dir});
        QVERIFY2(run.exitCode == 0, run.err.constData());
        const auto view = parseObject(run.out)[QLatin1String("vit")].toObject()[QLatin1String("view")].toObject();
        QCOMPARE(view[QLatin1String("layers")].toArray().size(), 6);
        QCOMPARE(view[QLatin1String("heads")].toArray().size(), 4);
        QImage image(view[QLatin1String("file")].toString());
        QVERIFY(image.width() >= 4 * 224 && image.height() >= 6 * 224);
        QCOMPARE(image.text(QStringLiteral("attnviz:layer")), QStringLiteral("0,1,2,3,4,5"));
        QCOMPARE(image.text(QStringLiteral("attnviz:normalization")), QStringLiteral("layer"));
    }

    void erfStaysInsideTheTheoreticalBox()
    {
        const QString dump = m_dir.filePath(QStringLiteral("erf.safetensors"));
        const auto run = runCli({QStringLiteral("erf"), QStringLiteral("--cnn"), kCnnFmnist, QStringLiteral("--images"),
                                 QStringLiteral(ATTNVIZ_SOURCE_DIR "/resources/samples"), QStringLiteral("--layer"),
                                 QStringLiteral("layer2"), QStringLiteral("--at"), QStringLiteral("3,4"),
                                 QStringLiteral("--dump"), dump});
        QVERIFY2(run.exitCode == 0, run.err.constData());
        const auto result = parseObject(run.out);
        QCOMPARE(result[QLatin1String("images")].toInt(), 12);
        const auto support = result[QLatin1String("support_box")].toArray();
        const auto theory = result[QLatin1String("theoretical_box")].toArray();
        QCOMPARE(support.size(), 4);
        QCOMPARE(theory.size(), 4);
        QVERIFY(support[0].toInt() >= theory[0].toInt() && support[1].toInt() >= theory[1].toInt());
        QVERIFY(support[2].toInt() <= theory[2].toInt() && support[3].toInt() <= theory[3].toInt());
        QCOMPARE(attnviz::io::readSafetensors(dump.toStdString()).tensors.at("erf").shape,
                 (std::vector<std::int64_t>{28, 28}));
    }

    void ckaComparesBothModels()
    {
        const QString dir = m_dir.filePath(QStringLiteral("cka"));
        const auto run = runCli(
            {QStringLiteral("cka"), QStringLiteral("--vit"), kVitFmnist, QStringLiteral("--cnn"), kCnnFmnist,
             QStringLiteral("--images"), QStringLiteral(ATTNVIZ_SOURCE_DIR "/resources/samples"),
             QStringLiteral("--batch-size"), QStringLiteral("6"), QStringLiteral("--out-dir"), dir});
        QVERIFY2(run.exitCode == 0, run.err.constData());
        const auto result = parseObject(run.out);
        QCOMPARE(result[QLatin1String("images_used")].toInt(), 12);
        const auto matrices = result[QLatin1String("matrices")].toObject();
        const auto vitVit = matrices[QLatin1String("vit_vit")].toArray();
        QCOMPARE(vitVit.size(), 6);
        for (int i = 0; i < 6; ++i)
            QVERIFY(std::abs(vitVit[i].toArray()[i].toDouble() - 1.0) < 1e-3);
        QCOMPARE(matrices[QLatin1String("vit_cnn")].toArray()[0].toArray().size(),
                 result[QLatin1String("cnn_layers")].toArray().size());
        for (const char* name : {"vit_vit", "cnn_cnn", "vit_cnn"})
            QVERIFY(!QImage(result[QLatin1String("files")].toObject()[QLatin1String(name)].toString()).isNull());
    }

    // The study commands on the shipped models: one JSON document each, both families.
    void skipMeasuresEveryResidualAddition()
    {
        const auto run = runCli({QStringLiteral("skip"), QStringLiteral("--vit"), kVitFmnist, QStringLiteral("--cnn"),
                                 kCnnFmnist, QStringLiteral("--images"), kSamples});
        QVERIFY2(run.exitCode == 0, run.err.constData());
        const auto result = parseObject(run.out);
        QCOMPARE(result[QLatin1String("images")].toInt(), 12);
        const auto vit = result[QLatin1String("vit")].toObject()[QLatin1String("additions")].toArray();
        QCOMPARE(vit.size(), 12);  // 6 blocks x (attention, MLP)
        QCOMPARE(vit[1].toObject()[QLatin1String("branch")].toString(), QStringLiteral("mlp"));
        QVERIFY(vit[0].toObject()[QLatin1String("cls")].toObject()[QLatin1String("ratio")].toDouble() > 0);
        const auto cnn = result[QLatin1String("cnn")].toObject()[QLatin1String("additions")].toArray();
        QVERIFY(!cnn.isEmpty());
        QVERIFY(!cnn[0].toObject().contains(QLatin1String("cls")));
        QVERIFY(cnn[0].toObject()[QLatin1String("spatial")].toObject()[QLatin1String("ratio")].toDouble() > 0);
    }

    void probeReadsIdxFilesAndImageFolders()
    {
        const auto idx = runCli({QStringLiteral("probe"), QStringLiteral("--vit"), kVitFmnist, QStringLiteral("--cnn"),
                                 kCnnFmnist, QStringLiteral("--data"), QStringLiteral(ATTNVIZ_FMNIST_DIR),
                                 QStringLiteral("--limit"), QStringLiteral("600"), QStringLiteral("--test-limit"),
                                 QStringLiteral("300")});
        QVERIFY2(idx.exitCode == 0, idx.err.constData());
        auto result = parseObject(idx.out);
        QCOMPARE(result[QLatin1String("classes")].toInt(), 10);
        QCOMPARE(result[QLatin1String("test_images")].toInt(), 300);
        const auto layers = result[QLatin1String("vit")].toObject()[QLatin1String("layers")].toArray();
        QCOMPARE(layers.size(), 12);  // 6 blocks x (CLS, patch mean)
        // The trained ViT's last block separates Fashion-MNIST far above chance (0.1).
        QVERIFY(layers.last().toObject()[QLatin1String("test_accuracy")].toDouble() > 0.6);
        QCOMPARE(result[QLatin1String("cnn")]
                     .toObject()[QLatin1String("layers")]
                     .toArray()[0]
                     .toObject()[QLatin1String("pooling")]
                     .toString(),
                 QStringLiteral("gap"));

        // An ImageFolder tree: two classes of six images, half of each held out.
        const QString root = m_dir.filePath(QStringLiteral("imagefolder"));
        const auto samples = QDir(kSamples).entryList({QStringLiteral("*.png")}, QDir::Files, QDir::Name);
        for (int i = 0; i < 12; ++i) {
            const QString dir = root + (i < 6 ? QStringLiteral("/a") : QStringLiteral("/b"));
            QVERIFY(QDir().mkpath(dir));
            QVERIFY(QFile::copy(kSamples + QLatin1Char('/') + samples[i], dir + QLatin1Char('/') + samples[i]));
        }
        const auto folder = runCli({QStringLiteral("probe"), QStringLiteral("--cnn"), kCnnFmnist,
                                    QStringLiteral("--data"), root, QStringLiteral("--held-out"),
                                    QStringLiteral("0.5")});
        QVERIFY2(folder.exitCode == 0, folder.err.constData());
        result = parseObject(folder.out);
        QCOMPARE(result[QLatin1String("classes")].toInt(), 2);
        QCOMPARE(result[QLatin1String("train_images")].toInt(), 6);
        QCOMPARE(result[QLatin1String("test_images")].toInt(), 6);
    }

    void probeStopsOnInterruptWithoutOutput()
    {
        QProcess process;
        process.start(QStringLiteral(ATTNVIZ_BIN_DIR "/attnviz-cli"),
                      {QStringLiteral("probe"), QStringLiteral("--vit"), kVitFmnist, QStringLiteral("--data"),
                       QStringLiteral(ATTNVIZ_FMNIST_DIR), QStringLiteral("--batch-size"), QStringLiteral("50")});
        QByteArray err;
        QTRY_VERIFY_WITH_TIMEOUT((err += process.readAllStandardError()).contains("probe vit: 100/"), 120000);
        ::kill(pid_t(process.processId()), SIGINT);
        QVERIFY(process.waitForFinished(60000));
        err += process.readAllStandardError();
        QCOMPARE(process.exitCode(), 1);
        QVERIFY2(err.trimmed().endsWith("attnviz-cli probe: cancelled"), err.constData());
        QVERIFY(process.readAllStandardOutput().isEmpty());
    }

    void localizeComparesEveryPosition()
    {
        const auto run = runCli({QStringLiteral("localize"), QStringLiteral("--vit"), kVitFmnist,
                                 QStringLiteral("--cnn"), kCnnFmnist, QStringLiteral("--images"), kSamples,
                                 QStringLiteral("--batch-size"), QStringLiteral("6")});
        QVERIFY2(run.exitCode == 0, run.err.constData());
        const auto result = parseObject(run.out);
        QCOMPARE(result[QLatin1String("images_used")].toInt(), 12);
        for (const char* role : {"vit", "cnn"}) {
            const auto model = result[QLatin1String(role)].toObject();
            const int positions = model[QLatin1String("positions")].toInt();
            QCOMPARE(model[QLatin1String("similarity")].toArray().size(), positions);
            QCOMPARE(model[QLatin1String("similarity")].toArray()[0].toArray().size(), positions);
            QVERIFY(model[QLatin1String("diagonal_hits")].toInt() <= positions);
        }
    }

    void tokensWriteTheHeadTable()
    {
        const QString csv = m_dir.filePath(QStringLiteral("heads.csv"));
        const auto run = runCli({QStringLiteral("tokens"), QStringLiteral("--vit"), kVitFmnist,
                                 QStringLiteral("--images"), kSamples, QStringLiteral("--csv"), csv});
        QVERIFY2(run.exitCode == 0, run.err.constData());
        const auto result = parseObject(run.out);
        QCOMPARE(result[QLatin1String("per_image")].toArray().size(), 12);
        QVERIFY(!result[QLatin1String("per_image")].toArray()[0].toObject().contains(QLatin1String("maps")));
        const auto table = result[QLatin1String("head_table")].toArray();
        QFile file(csv);
        QVERIFY(file.open(QIODevice::ReadOnly));
        const auto lines = file.readAll().trimmed().split('\n');
        QCOMPARE(lines.size(), table.size() + 1);
        QVERIFY(lines[0].startsWith("layer,head,distance_px,entropy_nats"));

        const auto one = runCli(
            {QStringLiteral("tokens"), QStringLiteral("--vit"), kVitFmnist, QStringLiteral("--image"), kSample});
        QVERIFY2(one.exitCode == 0, one.err.constData());
        const auto maps =
            parseObject(one.out)[QLatin1String("per_image")].toArray()[0].toObject()[QLatin1String("maps")].toObject();
        QCOMPARE(maps[QLatin1String("token_norms")].toArray().size(), 6);  // a 7 x 7 map per block
        QCOMPARE(maps[QLatin1String("token_norms")].toArray()[0].toArray().size(), 7);
    }

    // --test-time-register on the ViT with a planted artifact (tests/fixtures/registers): the
    // planted unit is found, the artifact's CLS mass goes to the register, the classes stay.
    // tst_testtimeregisters holds the numbers to the authors' code.
    void tokensWithATestTimeRegister()
    {
        const QString images = m_dir.filePath(QStringLiteral("noise"));
        QVERIFY(QDir().mkpath(images));
        QRandomGenerator random(27);
        for (int i = 0; i < 3; ++i) {
            QImage image(64, 64, QImage::Format_RGB888);
            for (int y = 0; y < 64; ++y)
                for (int x = 0; x < 64; ++x)
                    image.setPixel(x, y, random.generate() & 0xffffff);
            QVERIFY(image.save(images + QStringLiteral("/%1.png").arg(i)));
        }
        const auto run = runCli({QStringLiteral("tokens"), QStringLiteral("--vit"),
                                 QStringLiteral(ATTNVIZ_SOURCE_DIR "/tests/fixtures/registers/planted_vit"),
                                 QStringLiteral("--images"), images, QStringLiteral("--test-time-register"),
                                 QStringLiteral("--register-norm"), QStringLiteral("30"),
                                 QStringLiteral("--register-highest"), QStringLiteral("1"),
                                 QStringLiteral("--register-top-k"), QStringLiteral("1")});
        QVERIFY2(run.exitCode == 0, run.err.constData());
        const auto registers = parseObject(run.out)[QLatin1String("test_time_register")].toObject();
        const auto neurons = registers[QLatin1String("neurons")].toArray();
        QCOMPARE(neurons.size(), 1);
        QCOMPARE(neurons[0][QLatin1String("block")].toInt(), 0);
        QCOMPARE(neurons[0][QLatin1String("units")].toArray(), QJsonArray{5});
        const auto effect = registers[QLatin1String("effect")].toObject();
        QCOMPARE(effect[QLatin1String("images_with_artifacts")].toInt(), 3);
        const double before = effect[QLatin1String("cls_on_artifacts_without")].toArray().last().toDouble();
        const double after = effect[QLatin1String("cls_on_artifacts_with")].toArray().last().toDouble();
        QVERIFY2(before > 0.4 && after < 0.2 * before, qPrintable(QStringLiteral("%1 -> %2").arg(before).arg(after)));
        QVERIFY(effect[QLatin1String("cls_on_register")].toArray().last().toDouble() > 0.4);
        QCOMPARE(effect[QLatin1String("logits")][QLatin1String("top1_agreement")].toDouble(), 1.0);
    }

    void badInputsGiveOneLineErrors_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<int>("exitCode");
        QTest::addColumn<QString>("message");
        const QString vit = kData + QStringLiteral("timm_vit");
        const QString ref = kData + QStringLiteral("timm_vit.ref.safetensors");
        writeBrokenImages(m_dir);
        const QString corruptPng = m_dir.filePath(QStringLiteral("corrupt.png"));
        // clang-format off
        QTest::newRow("no command") << QStringList() << 2 << "usage";
        QTest::newRow("unknown command") << QStringList{QStringLiteral("explode")} << 2 << "unknown command";
        QTest::newRow("info without model") << QStringList{QStringLiteral("info")} << 2 << "exactly one MODEL";
        QTest::newRow("missing model") << QStringList{QStringLiteral("info"), QStringLiteral("/nonexistent/model.pth")} << 1 << "does not exist";
        QTest::newRow("not a model") << QStringList{QStringLiteral("info"), corruptPng} << 1 << "not a valid safetensors file";
        QTest::newRow("bad heads") << QStringList{QStringLiteral("info"), vit, QStringLiteral("--heads"), QStringLiteral("5")} << 1 << "not divisible";
        QTest::newRow("heads not a number") << QStringList{QStringLiteral("info"), vit, QStringLiteral("--heads"), QStringLiteral("x")} << 2 << "--heads";
        QTest::newRow("unknown option") << QStringList{QStringLiteral("info"), vit, QStringLiteral("--hedas"), QStringLiteral("3")} << 2 << "unknown option --hedas";
        QTest::newRow("no input") << QStringList{QStringLiteral("analyze"), QStringLiteral("--vit"), vit} << 2 << "exactly one of --image";
        QTest::newRow("cnn given as vit") << QStringList{QStringLiteral("analyze"), QStringLiteral("--vit"), kData + QStringLiteral("tv_resnet50.pth"), QStringLiteral("--tensor"), ref} << 2 << "not a ViT";
        QTest::newRow("unknown device") << QStringList{QStringLiteral("analyze"), QStringLiteral("--vit"), vit, QStringLiteral("--tensor"), ref, QStringLiteral("--device"), QStringLiteral("tpu")} << 1 << "unknown device 'tpu'";
        QTest::newRow("missing gpu") << QStringList{QStringLiteral("analyze"), QStringLiteral("--vit"), vit, QStringLiteral("--tensor"), ref, QStringLiteral("--device"), QStringLiteral("cuda:99")} << 1 << "cuda:99";
        QTest::newRow("top-k zero") << QStringList{QStringLiteral("analyze"), QStringLiteral("--vit"), vit, QStringLiteral("--tensor"), ref, QStringLiteral("--top-k"), QStringLiteral("0")} << 2 << "--top-k";
        QTest::newRow("tensor file lacks input") << QStringList{QStringLiteral("analyze"), QStringLiteral("--cnn"), kData + QStringLiteral("tv_resnet50.pth"), QStringLiteral("--tensor"), ref} << 1 << "neither 'cnn.input' nor 'input'";
        QTest::newRow("corrupt image") << QStringList{QStringLiteral("analyze"), QStringLiteral("--vit"), vit, QStringLiteral("--image"), corruptPng} << 1 << "cannot decode image";
        QTest::newRow("no data folder") << QStringList{QStringLiteral("evaluate"), QStringLiteral("--vit"), vit, QStringLiteral("--data"), QStringLiteral("/nonexistent")} << 1 << "cannot read the folder";
        QTest::newRow("benchmark without make") << QStringList{QStringLiteral("benchmark"), QStringLiteral("--out"), m_dir.filePath(QStringLiteral("b")), QStringLiteral("--count"), QStringLiteral("10")} << 2 << "benchmark make --out DIR";
        QTest::newRow("benchmark into a full folder") << QStringList{QStringLiteral("benchmark"), QStringLiteral("make"), QStringLiteral("--out"), kSamples, QStringLiteral("--count"), QStringLiteral("10")} << 1 << "exists and is not an empty folder";
        QTest::newRow("train on a flat folder") << QStringList{QStringLiteral("train"), QStringLiteral("--arch"), QStringLiteral("vit"), QStringLiteral("--data"), kSamples, QStringLiteral("--out"), m_dir.filePath(QStringLiteral("x"))} << 1 << "has no class subfolders";
        QTest::newRow("unknown arch") << QStringList{QStringLiteral("train"), QStringLiteral("--arch"), QStringLiteral("rnn"), QStringLiteral("--data"), QStringLiteral("/x"), QStringLiteral("--out"), m_dir.filePath(QStringLiteral("x"))} << 2 << "--arch must be vit or cnn";
        QTest::newRow("decompression bomb") << QStringList{QStringLiteral("analyze"), QStringLiteral("--vit"), vit, QStringLiteral("--image"), m_dir.filePath(QStringLiteral("bomb.png"))} << 1 << "claims 100000x100000 pixels";
        QTest::newRow("bad learning rate") << QStringList{QStringLiteral("train"), QStringLiteral("--arch"), QStringLiteral("vit"), QStringLiteral("--data"), QStringLiteral("/x"), QStringLiteral("--out"), m_dir.filePath(QStringLiteral("x")), QStringLiteral("--lr"), QStringLiteral("nan")} << 2 << "--lr";
        QTest::newRow("rf of a vit") << QStringList{QStringLiteral("rf"), QStringLiteral("--cnn"), vit} << 1 << "global after the first block";
        QTest::newRow("mad of a cnn") << QStringList{QStringLiteral("mad"), QStringLiteral("--vit"), kData + QStringLiteral("tv_resnet50.pth"), QStringLiteral("--tensor"), ref} << 2 << "mad needs a ViT";
        QTest::newRow("mad of an empty folder") << QStringList{QStringLiteral("mad"), QStringLiteral("--vit"), vit, QStringLiteral("--images"), m_dir.path() + QStringLiteral("/nothing")} << 1 << "cannot read the folder";
        QTest::newRow("view option without method") << QStringList{QStringLiteral("analyze"), QStringLiteral("--vit"), vit, QStringLiteral("--tensor"), ref, QStringLiteral("--layer"), QStringLiteral("2")} << 2 << "--layer needs --method";
        QTest::newRow("attention of a cnn") << QStringList{QStringLiteral("analyze"), QStringLiteral("--cnn"), kCnnFmnist, QStringLiteral("--image"), kSample, QStringLiteral("--method"), QStringLiteral("attention")} << 1 << "needs a ViT";
        QTest::newRow("export shard") << QStringList{QStringLiteral("export"), QStringLiteral("--vit"), kVitFmnist, QStringLiteral("--images"), QStringLiteral(ATTNVIZ_SOURCE_DIR "/resources/samples"), QStringLiteral("--out"), m_dir.filePath(QStringLiteral("export-bad")), QStringLiteral("--shard"), QStringLiteral("2/2")} << 2 << "--shard takes I/N";
        QTest::newRow("export method nobody offers") << QStringList{QStringLiteral("export"), QStringLiteral("--cnn"), kCnnFmnist, QStringLiteral("--images"), QStringLiteral(ATTNVIZ_SOURCE_DIR "/resources/samples"), QStringLiteral("--out"), m_dir.filePath(QStringLiteral("export-bad")), QStringLiteral("--methods"), QStringLiteral("rollout")} << 2 << "no model given offers the method 'rollout'";
        QTest::newRow("export block the ViT lacks") << QStringList{QStringLiteral("export"), QStringLiteral("--vit"), kVitFmnist, QStringLiteral("--images"), QStringLiteral(ATTNVIZ_SOURCE_DIR "/resources/samples"), QStringLiteral("--out"), m_dir.filePath(QStringLiteral("export-bad")), QStringLiteral("--layers"), QStringLiteral("99")} << 2 << "--layers 99: the ViT has blocks 0..5";
        QTest::newRow("export range backwards") << QStringList{QStringLiteral("export"), QStringLiteral("--vit"), kVitFmnist, QStringLiteral("--images"), QStringLiteral(ATTNVIZ_SOURCE_DIR "/resources/samples"), QStringLiteral("--out"), m_dir.filePath(QStringLiteral("export-bad")), QStringLiteral("--layers"), QStringLiteral("3-1")} << 2 << "--layers range '3-1' runs backwards";
        QTest::newRow("export pool without one") << QStringList{QStringLiteral("export"), QStringLiteral("--vit"), kVitFmnist, QStringLiteral("--images"), QStringLiteral(ATTNVIZ_SOURCE_DIR "/resources/samples"), QStringLiteral("--out"), m_dir.filePath(QStringLiteral("export-bad")), QStringLiteral("--layers"), QStringLiteral("pool")} << 2 << "--layers pool: the ViT has no attention-pooling head";
        QTest::newRow("export CNN layer without a CNN") << QStringList{QStringLiteral("export"), QStringLiteral("--vit"), kVitFmnist, QStringLiteral("--images"), QStringLiteral(ATTNVIZ_SOURCE_DIR "/resources/samples"), QStringLiteral("--out"), m_dir.filePath(QStringLiteral("export-bad")), QStringLiteral("--layers"), QStringLiteral("layer3")} << 2 << "--layers layer3 is a CNN layer, and no CNN is given";
        QTest::newRow("export CNN layer the model lacks") << QStringList{QStringLiteral("export"), QStringLiteral("--cnn"), kCnnFmnist, QStringLiteral("--images"), QStringLiteral(ATTNVIZ_SOURCE_DIR "/resources/samples"), QStringLiteral("--out"), m_dir.filePath(QStringLiteral("export-bad")), QStringLiteral("--layers"), QStringLiteral("layer9")} << 2 << "--layers: ";
        QTest::newRow("method setting without method") << QStringList{QStringLiteral("analyze"), QStringLiteral("--vit"), vit, QStringLiteral("--tensor"), ref, QStringLiteral("--steps"), QStringLiteral("5")} << 2 << "--steps needs --method";
        QTest::newRow("another method's setting") << QStringList{QStringLiteral("analyze"), QStringLiteral("--vit"), vit, QStringLiteral("--tensor"), ref, QStringLiteral("--method"), QStringLiteral("gradcam"), QStringLiteral("--noise"), QStringLiteral("0.2")} << 1 << "noise only applies to smoothgrad";
        QTest::newRow("setting out of range") << QStringList{QStringLiteral("analyze"), QStringLiteral("--vit"), vit, QStringLiteral("--tensor"), ref, QStringLiteral("--method"), QStringLiteral("smoothgrad"), QStringLiteral("--noise"), QStringLiteral("2")} << 2 << "--noise takes 0 to 1, not 2";
        QTest::newRow("setting not a number") << QStringList{QStringLiteral("analyze"), QStringLiteral("--vit"), vit, QStringLiteral("--tensor"), ref, QStringLiteral("--method"), QStringLiteral("integrated-gradients"), QStringLiteral("--steps"), QStringLiteral("many")} << 2 << "--steps takes a number";
        QTest::newRow("occlusion window too large") << QStringList{QStringLiteral("analyze"), QStringLiteral("--cnn"), kCnnFmnist, QStringLiteral("--image"), kSample, QStringLiteral("--method"), QStringLiteral("occlusion"), QStringLiteral("--window"), QStringLiteral("999")} << 1 << "occlusion window of 999 px is larger than";
        QTest::newRow("export setting no method takes") << QStringList{QStringLiteral("export"), QStringLiteral("--cnn"), kCnnFmnist, QStringLiteral("--images"), QStringLiteral(ATTNVIZ_SOURCE_DIR "/resources/samples"), QStringLiteral("--out"), m_dir.filePath(QStringLiteral("export-bad")), QStringLiteral("--methods"), QStringLiteral("gradcam"), QStringLiteral("--samples"), QStringLiteral("4")} << 2 << "--samples only applies to smoothgrad";
        QTest::newRow("unknown method") << QStringList{QStringLiteral("analyze"), QStringLiteral("--vit"), vit, QStringLiteral("--tensor"), ref, QStringLiteral("--method"), QStringLiteral("no-such-method")} << 1 << "unknown method 'no-such-method'";
        QTest::newRow("bad query") << QStringList{QStringLiteral("analyze"), QStringLiteral("--vit"), vit, QStringLiteral("--tensor"), ref, QStringLiteral("--method"), QStringLiteral("attention"), QStringLiteral("--query"), QStringLiteral("3")} << 2 << "--query needs ROW,COL";
        QTest::newRow("query outside grid") << QStringList{QStringLiteral("analyze"), QStringLiteral("--vit"), vit, QStringLiteral("--tensor"), ref, QStringLiteral("--method"), QStringLiteral("attention"), QStringLiteral("--query"), QStringLiteral("3,14")} << 1 << "outside the 14x14 grid";
        QTest::newRow("grad-rollout of a cnn") << QStringList{QStringLiteral("analyze"), QStringLiteral("--cnn"), kCnnFmnist, QStringLiteral("--image"), kSample, QStringLiteral("--method"), QStringLiteral("grad-rollout")} << 1 << "needs a ViT";
        QTest::newRow("unknown cam input") << QStringList{QStringLiteral("analyze"), QStringLiteral("--vit"), vit, QStringLiteral("--tensor"), ref, QStringLiteral("--method"), QStringLiteral("gradcam"), QStringLiteral("--cam-input"), QStringLiteral("norm2")} << 1 << "unknown ViT CAM input 'norm2'";
        QTest::newRow("class outside head") << QStringList{QStringLiteral("analyze"), QStringLiteral("--vit"), vit, QStringLiteral("--tensor"), ref, QStringLiteral("--method"), QStringLiteral("gradcam"), QStringLiteral("--class"), QStringLiteral("10")} << 1 << "class 10 outside 0..9";
        QTest::newRow("unknown colormap") << QStringList{QStringLiteral("analyze"), QStringLiteral("--vit"), vit, QStringLiteral("--tensor"), ref, QStringLiteral("--method"), QStringLiteral("attention"), QStringLiteral("--out-dir"), m_dir.filePath(QStringLiteral("o")), QStringLiteral("--colormap"), QStringLiteral("rainbow")} << 2 << "unknown colormap 'rainbow'";
        QTest::newRow("out-dir is a file") << QStringList{QStringLiteral("analyze"), QStringLiteral("--vit"), vit, QStringLiteral("--tensor"), ref, QStringLiteral("--method"), QStringLiteral("attention"), QStringLiteral("--out-dir"), corruptPng} << 1 << "as the output folder";
        QTest::newRow("erf without unit") << QStringList{QStringLiteral("erf"), QStringLiteral("--cnn"), kCnnFmnist, QStringLiteral("--image"), kSample, QStringLiteral("--layer"), QStringLiteral("layer2")} << 2 << "--at ROW,COL";
        QTest::newRow("erf unit outside") << QStringList{QStringLiteral("erf"), QStringLiteral("--cnn"), kCnnFmnist, QStringLiteral("--image"), kSample, QStringLiteral("--layer"), QStringLiteral("layer3"), QStringLiteral("--at"), QStringLiteral("7,0")} << 1 << "outside layer 'layer3' grid of 7x7";
        QTest::newRow("cka without images") << QStringList{QStringLiteral("cka"), QStringLiteral("--vit"), vit} << 2 << "--images DIR";
        QTest::newRow("localize of one image") << QStringList{QStringLiteral("localize"), QStringLiteral("--vit"), kVitFmnist, QStringLiteral("--image"), kSample} << 2 << "give --images DIR";
        QTest::newRow("tokens of a cnn") << QStringList{QStringLiteral("tokens"), QStringLiteral("--vit"), kCnnFmnist, QStringLiteral("--image"), kSample} << 2 << "not a ViT";
        QTest::newRow("register option alone") << QStringList{QStringLiteral("tokens"), QStringLiteral("--vit"), kVitFmnist, QStringLiteral("--image"), kSample, QStringLiteral("--register-top-k"), QStringLiteral("3")} << 2 << "only applies with --test-time-register";
        QTest::newRow("register neurons garbled") << QStringList{QStringLiteral("tokens"), QStringLiteral("--vit"), kVitFmnist, QStringLiteral("--image"), kSample, QStringLiteral("--test-time-register"), QStringLiteral("--register-neurons"), QStringLiteral("1-2")} << 2 << "BLOCK:UNIT pairs";
        QTest::newRow("register neuron outside") << QStringList{QStringLiteral("tokens"), QStringLiteral("--vit"), kVitFmnist, QStringLiteral("--image"), kSample, QStringLiteral("--test-time-register"), QStringLiteral("--register-neurons"), QStringLiteral("0:100000")} << 1 << "no MLP unit 100000";
        QTest::newRow("tokens with a cnn") << QStringList{QStringLiteral("tokens"), QStringLiteral("--vit"), kVitFmnist, QStringLiteral("--cnn"), kCnnFmnist, QStringLiteral("--image"), kSample} << 2 << "unknown option --cnn";
        QTest::newRow("probe without data") << QStringList{QStringLiteral("probe"), QStringLiteral("--vit"), kVitFmnist, QStringLiteral("--data"), QStringLiteral("/nonexistent")} << 1 << "cannot read the folder";
        QTest::newRow("probe on a flat folder") << QStringList{QStringLiteral("probe"), QStringLiteral("--vit"), kVitFmnist, QStringLiteral("--data"), kSamples} << 1 << "neither IDX files (train-labels-idx1-ubyte[.gz]) nor class subfolders";
        QTest::newRow("skip without a model") << QStringList{QStringLiteral("skip"), QStringLiteral("--image"), kSample} << 2 << "give --vit MODEL, --cnn MODEL or both";
        QTest::newRow("missing image") << QStringList{QStringLiteral("analyze"), QStringLiteral("--vit"), vit, QStringLiteral("--image"), QStringLiteral("/nonexistent.png")} << 1 << "no such file";
        // clang-format on
    }

    // export over a tree with good, broken and odd images (grayscale, RGBA, 16-bit, CMYK,
    // one that declares 100000 x 100000 pixels): every good one gets its PNGs and one JSON
    // line, the unreadable ones are listed with their reasons and the exit status is 3;
    // shards cover the set without overlap; a run resumed after some outputs went missing
    // gives the same results.
    void exportWritesEveryImageAndSkipsTheBroken()
    {
        const QString in = m_dir.filePath(QStringLiteral("export-in"));
        makeExportTree(in);
        if (QTest::currentTestFailed())
            return;
        const auto exportTo = [&](const QString& out, const QStringList& extra) {
            return runCli(QStringList{QStringLiteral("export"), QStringLiteral("--vit"), kVitFmnist,
                                      QStringLiteral("--cnn"), kCnnFmnist, QStringLiteral("--images"), in,
                                      QStringLiteral("--out"), out, QStringLiteral("--methods"),
                                      QStringLiteral("attention,gradcam")}
                          + extra);
        };
        const QString whole = m_dir.filePath(QStringLiteral("export-whole"));
        const auto run = exportTo(whole, {QStringLiteral("--batch"), QStringLiteral("1")});
        QCOMPARE(run.exitCode, 3);
        const auto summary = parseObject(run.out);
        QCOMPARE(summary[QStringLiteral("images")].toInt(), 7);
        QCOMPARE(summary[QStringLiteral("computed")].toInt(), 5);
        const auto skipped = summary[QStringLiteral("skipped")].toArray();
        QCOMPARE(skipped.size(), 2);
        QCOMPARE(skipped[0].toObject()[QStringLiteral("image")].toString(), QStringLiteral("huge.png"));
        QVERIFY2(skipped[0].toObject()[QStringLiteral("reason")].toString().contains(QStringLiteral("100000x100000")),
                 run.out.constData());
        QCOMPARE(skipped[1].toObject()[QStringLiteral("image")].toString(), QStringLiteral("sub/broken.png"));
        QVERIFY(!skipped[1].toObject()[QStringLiteral("reason")].toString().isEmpty());
        // The stable order, with each image's outputs under its relative path.
        const auto records = jsonLines(whole + QStringLiteral("/results.jsonl"));
        QCOMPARE(records.size(), 5);
        QStringList order;
        for (const auto& line : records) {
            const auto record = parseObject(line);
            order << record[QStringLiteral("image")].toString();
            QCOMPARE(record[QStringLiteral("vit")].toObject()[QStringLiteral("top_k")].toArray().size(), 5);
            for (const char* side : {"vit", "cnn"})
                for (const auto& file : record[QLatin1String(side)].toObject()[QStringLiteral("views")].toObject())
                    QVERIFY2(QFileInfo::exists(whole + QLatin1Char('/') + file.toString()),
                             qPrintable(file.toString()));
        }
        QCOMPARE(order, (QStringList{QStringLiteral("boot.png"), QStringLiteral("sub/cmyk.jpg"),
                                     QStringLiteral("sub/deeper/pullover-rgba.png"),
                                     QStringLiteral("sub/deeper/pullover.jpg"), QStringLiteral("sub/pullover16.png")}));
        QVERIFY(QFileInfo::exists(whole + QStringLiteral("/sub/deeper/pullover.jpg-vit-attention.png")));
        QVERIFY(QFileInfo::exists(whole + QStringLiteral("/sub/deeper/pullover.jpg-cnn-gradcam.png")));
        QVERIFY(
            !QFileInfo::exists(whole + QStringLiteral("/sub/deeper/pullover.jpg-cnn-attention.png")));  // not a CNN's

        // Two shards: no overlap, and together the unsharded records.
        // Batches of one image make every number independent of which images share a batch
        // (float32 sums differ in their last bits otherwise: exportFiguresFaithfulnessAndBatches).
        const QString sharded = m_dir.filePath(QStringLiteral("export-shards"));
        QList<QByteArray> union_;
        for (int i = 0; i < 2; ++i) {
            const auto shard = exportTo(sharded, {QStringLiteral("--shard"), QStringLiteral("%1/2").arg(i),
                                                  QStringLiteral("--batch"), QStringLiteral("1")});
            QVERIFY(shard.exitCode == 0 || shard.exitCode == 3);
            union_ += jsonLines(sharded + QStringLiteral("/results-%1-of-2.jsonl").arg(i));
        }
        std::sort(union_.begin(), union_.end());
        auto sortedWhole = records;
        std::sort(sortedWhole.begin(), sortedWhole.end());
        QCOMPARE(union_, sortedWhole);

        // Resume after a kill: an image whose record is missing is computed again, the
        // others are taken as done, and the results are those of the whole run.
        QVERIFY(QFile::remove(whole + QStringLiteral("/sub/pullover16.png.json")));
        QVERIFY(QFile::remove(whole + QStringLiteral("/sub/pullover16.png-vit-attention.png")));
        const auto resumed = exportTo(whole,
                                      {QStringLiteral("--resume"), QStringLiteral("--batch"), QStringLiteral("1")});
        QCOMPARE(resumed.exitCode, 3);  // the broken image is tried again, and skipped again
        const auto again = parseObject(resumed.out);
        QCOMPARE(again[QStringLiteral("computed")].toInt(), 1);
        QCOMPARE(again[QStringLiteral("resumed")].toInt(), 4);
        QCOMPARE(jsonLines(whole + QStringLiteral("/results.jsonl")), records);
        QVERIFY(QFileInfo::exists(whole + QStringLiteral("/sub/pullover16.png-vit-attention.png")));
        QVERIFY(filesUnder(whole, QStringLiteral("*.partial")).isEmpty());  // nothing half-written
    }

    // --layers and --heads shape each method's figure; --faithfulness adds, per model and
    // method, the deletion and insertion curves of the method's default map for the class
    // it explains (else the predicted one); the batch size changes no result.
    void exportFiguresFaithfulnessAndBatches()
    {
        const auto exportTo = [&](const QString& out, const QStringList& extra) {
            return runCli(QStringList{QStringLiteral("export"), QStringLiteral("--vit"), kVitFmnist,
                                      QStringLiteral("--cnn"), kCnnFmnist, QStringLiteral("--images"), kSamples,
                                      QStringLiteral("--out"), out, QStringLiteral("--methods"),
                                      QStringLiteral("attention,rollout,gradcam"), QStringLiteral("--faithfulness"),
                                      QStringLiteral("--faithfulness-steps"), QStringLiteral("4")}
                          + extra);
        };
        const QString single = m_dir.filePath(QStringLiteral("export-batch1"));
        const QString grid = m_dir.filePath(QStringLiteral("export-batch3"));
        const auto a = exportTo(single, {QStringLiteral("--batch"), QStringLiteral("1")});
        QVERIFY2(a.exitCode == 0, a.err.constData());
        const auto b = exportTo(grid, {QStringLiteral("--batch"), QStringLiteral("3"), QStringLiteral("--layers"),
                                       QStringLiteral("0-1"), QStringLiteral("--heads"), QStringLiteral("0,mean")});
        QVERIFY2(b.exitCode == 0, b.err.constData());
        const auto ra = jsonLines(single + QStringLiteral("/results.jsonl"));
        const auto rb = jsonLines(grid + QStringLiteral("/results.jsonl"));
        QCOMPARE(ra.size(), QDir(kSamples).entryList({QStringLiteral("*.png")}, QDir::Files).size());
        QCOMPARE(rb.size(), ra.size());
        int checkedEnds = 0;
        for (qsizetype i = 0; i < ra.size(); ++i) {
            const auto x = parseObject(ra[i]), y = parseObject(rb[i]);
            QCOMPARE(x[QStringLiteral("image")], y[QStringLiteral("image")]);
            for (const char* role : {"vit", "cnn"}) {
                const auto sx = x[QLatin1String(role)].toObject(), sy = y[QLatin1String(role)].toObject();
                const auto top = sx[QStringLiteral("top_k")].toArray()[0].toObject();
                const auto topY = sy[QStringLiteral("top_k")].toArray()[0].toObject();
                QCOMPARE(top[QStringLiteral("index")], topY[QStringLiteral("index")]);
                QVERIFY(std::abs(top[QStringLiteral("probability")].toDouble()
                                 - topY[QStringLiteral("probability")].toDouble())
                        < 1e-6);
                const auto fx = sx[QStringLiteral("faithfulness")].toObject(),
                           fy = sy[QStringLiteral("faithfulness")].toObject();
                QCOMPARE(fx.keys(), QString::fromLatin1(role) == QStringLiteral("vit")
                                        ? (QStringList{QStringLiteral("attention"), QStringLiteral("gradcam"),
                                                       QStringLiteral("rollout")})
                                        : QStringList{QStringLiteral("gradcam")});
                for (const auto& method : fx.keys()) {
                    compareFaithfulness(fx[method].toObject(), fy[method].toObject(), top, checkedEnds);
                    if (QTest::currentTestFailed())
                        return;
                }
            }
        }
        QVERIFY(checkedEnds >= ra.size() * 3);
        // The ViT's attention figure is 2 blocks x 2 heads; the CNN has no block 0-1 and
        // keeps its default figure.
        const QString boot = QStringLiteral("/0000-ankle-boot.png-");
        const QImage oneMap(single + boot + QStringLiteral("vit-attention.png")),
            fourMaps(grid + boot + QStringLiteral("vit-attention.png"));
        QVERIFY(fourMaps.width() > oneMap.width() && fourMaps.height() > oneMap.height());
        QCOMPARE(QImage(grid + boot + QStringLiteral("cnn-gradcam.png")).size(),
                 QImage(single + boot + QStringLiteral("cnn-gradcam.png")).size());
    }

    // A run killed part-way (SIGKILL, as a cluster's time limit does) leaves only complete
    // files under their final names; resumed, it gives the results of one whole run.
    void exportKilledAndResumedMatchesOneRun()
    {
        const QString in = m_dir.filePath(QStringLiteral("export-many"));
        for (const char* part : {"a", "b", "c", "d", "e", "f"}) {
            QVERIFY(QDir().mkpath(in + QLatin1Char('/') + QLatin1String(part)));
            for (const auto& name : QDir(kSamples).entryList({QStringLiteral("*.png")}, QDir::Files))
                QVERIFY(QFile::copy(kSamples + QLatin1Char('/') + name,
                                    in + QLatin1Char('/') + QLatin1String(part) + QLatin1Char('/') + name));
        }
        const QStringList args{QStringLiteral("export"),
                               QStringLiteral("--vit"),
                               kVitFmnist,
                               QStringLiteral("--cnn"),
                               kCnnFmnist,
                               QStringLiteral("--images"),
                               in,
                               QStringLiteral("--methods"),
                               QStringLiteral("attention,gradcam"),
                               QStringLiteral("--batch"),
                               QStringLiteral("1")};
        const QString killed = m_dir.filePath(QStringLiteral("export-killed"));
        QProcess process;
        process.start(QStringLiteral(ATTNVIZ_BIN_DIR "/attnviz-cli"),
                      args + QStringList{QStringLiteral("--out"), killed});
        QElapsedTimer clock;
        clock.start();
        while (filesUnder(killed, QStringLiteral("*.png.json")).size() < 4 && clock.elapsed() < 120000
               && process.state() != QProcess::NotRunning)
            QTest::qWait(5);
        QVERIFY2(process.state() == QProcess::Running, "the run ended before it could be killed");
        ::kill(pid_t(process.processId()), SIGKILL);
        QVERIFY(process.waitForFinished(10000));
        QCOMPARE(process.exitStatus(), QProcess::CrashExit);
        QVERIFY(!QFileInfo::exists(killed + QStringLiteral("/results.jsonl")));
        const auto records = filesUnder(killed, QStringLiteral("*.png.json"));
        const int all = 6 * int(QDir(kSamples).entryList({QStringLiteral("*.png")}, QDir::Files).size());
        QVERIFY(records.size() >= 4 && records.size() < all);
        for (const auto& file : records) {
            QFile f(file);
            QVERIFY(f.open(QIODevice::ReadOnly));
            QVERIFY2(!parseObject(f.readAll()).isEmpty(), qPrintable(file));
        }
        for (const auto& file : filesUnder(killed, QStringLiteral("*.png")))
            QVERIFY2(!QImage(file).isNull(), qPrintable(file));

        const auto resumed = runCli(args + QStringList{QStringLiteral("--out"), killed, QStringLiteral("--resume")});
        QVERIFY2(resumed.exitCode == 0, resumed.err.constData());
        QCOMPARE(parseObject(resumed.out)[QStringLiteral("resumed")].toInt(), records.size());
        const QString whole = m_dir.filePath(QStringLiteral("export-uninterrupted"));
        QCOMPARE(runCli(args + QStringList{QStringLiteral("--out"), whole}).exitCode, 0);
        const auto expected = jsonLines(whole + QStringLiteral("/results.jsonl"));
        QCOMPARE(expected.size(), all);
        QCOMPARE(jsonLines(killed + QStringLiteral("/results.jsonl")), expected);
        QVERIFY(filesUnder(killed, QStringLiteral("*.partial")).isEmpty());
    }

    void badInputsGiveOneLineErrors()
    {
        QFETCH(QStringList, args);
        QFETCH(int, exitCode);
        QFETCH(QString, message);
        const auto run = runCli(args);
        QCOMPARE(run.exitCode, exitCode);
        QVERIFY2(QString::fromUtf8(run.err).contains(message), run.err.constData());
        if (exitCode != 2 || !args.isEmpty()) {
            QVERIFY2(run.err.count('\n') == 1, run.err.constData());
            QVERIFY(run.out.isEmpty());
        }
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
