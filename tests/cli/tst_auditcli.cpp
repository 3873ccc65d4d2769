// attnviz-cli audit end to end, on a generated benchmark and a model trained on it for a
// moment: its scores agree with what the test computes itself from the maps that
// `analyze --dump` writes and the mask PNGs (read with Qt), and bad masks are one line
// each, left out of the mask scores, counted, and end with exit status 3.
#include "core/io/safetensors.h"
#include "tests/cli/clirun.h"

#include <QDir>
#include <QFile>
#include <QImage>
#include <QJsonArray>
#include <QJsonDocument>
#include <QProcess>
#include <QSet>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <csignal>
#include <cstring>

namespace {

// The mask PNG as a bool grid, read with Qt's decoder.
std::vector<std::vector<bool>> readMask(const QString& path)
{
    const QImage image(path);
    std::vector<std::vector<bool>> mask(std::size_t(image.height()), std::vector<bool>(std::size_t(image.width())));
    for (int y = 0; y < image.height(); ++y)
        for (int x = 0; x < image.width(); ++x)
            mask[std::size_t(y)][std::size_t(x)] = qGray(image.pixel(x, y)) != 0;
    return mask;
}

// Map (0, 0) of a dumped view [layers, heads, h, w], row-major.
std::vector<float> dumpedMap(const QString& dump, const std::string& key, int& h, int& w)
{
    const auto file = attnviz::io::readSafetensors(dump.toStdString());
    const auto& t = file.tensors.at(key);
    h = int(t.shape[2]);
    w = int(t.shape[3]);
    std::vector<float> map(std::size_t(h * w));
    std::memcpy(map.data(), t.bytes.data(), map.size() * sizeof(float));
    return map;
}

// The energy inside the mask of a map at the mask's own resolution.
double energy(const std::vector<float>& map, const std::vector<std::vector<bool>>& mask)
{
    double inside = 0, total = 0;
    const auto w = mask[0].size();
    for (std::size_t i = 0; i < map.size(); ++i) {
        const double v = std::max(0.0f, map[i]);
        total += v;
        inside += mask[i / w][i % w] ? v : 0.0;
    }
    return total > 0 ? inside / total : 0.0;
}

// The top-k cells' IoU at an h x w grid: a cell is the mask's when at least half its
// pixels are (else the most covered cell); k = the mask's cells; ties: first index.
double cellIoU(const std::vector<float>& map, int h, int w, const std::vector<std::vector<bool>>& mask)
{
    const int cellH = int(mask.size()) / h, cellW = int(mask[0].size()) / w;
    std::vector<double> coverage(std::size_t(h) * std::size_t(w), 0.0);
    for (int y = 0; y < int(mask.size()); ++y)
        for (int x = 0; x < int(mask[0].size()); ++x) {
            const auto cell = std::size_t(y / cellH) * std::size_t(w) + std::size_t(x / cellW);
            coverage[cell] += mask[std::size_t(y)][std::size_t(x)] ? 1.0 : 0.0;
        }
    std::vector<bool> cells(coverage.size());
    int k = 0;
    for (std::size_t i = 0; i < coverage.size(); ++i)
        k += (cells[i] = coverage[i] >= 0.5 * cellH * cellW) ? 1 : 0;
    if (k == 0) {
        const auto most = std::max_element(coverage.begin(), coverage.end()) - coverage.begin();
        for (std::size_t i = 0; i < coverage.size(); ++i)
            k += (cells[i] = coverage[i] == coverage[std::size_t(most)]) ? 1 : 0;
    }
    std::vector<int> order(map.size());
    for (std::size_t i = 0; i < order.size(); ++i)
        order[i] = int(i);
    std::stable_sort(order.begin(), order.end(),
                     [&](int a, int b) { return map[std::size_t(a)] > map[std::size_t(b)]; });
    double both = 0, either = 0;
    std::vector<bool> top(map.size());
    for (int i = 0; i < k; ++i)
        top[std::size_t(order[std::size_t(i)])] = true;
    for (std::size_t i = 0; i < map.size(); ++i) {
        both += top[i] && cells[i];
        either += top[i] || cells[i];
    }
    return both / either;
}

}  // namespace

class TestAuditCli : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    QString m_bench;
    QString m_model;

    QString csvField(const QByteArray& line, int column) const
    {
        // image,model,method,pointing_hit,energy,iou,deletion_auc,insertion_auc; the image is quoted
        const auto close = line.indexOf("\",");
        return QString::fromUtf8(line.mid(close + 2)).split(QLatin1Char(',')).value(column - 2);
    }

private slots:
    void initTestCase()
    {
        m_bench = m_dir.filePath(QStringLiteral("bench"));
        const auto made = runCli({QStringLiteral("benchmark"), QStringLiteral("make"), QStringLiteral("--out"), m_bench,
                                  QStringLiteral("--count"), QStringLiteral("40"), QStringLiteral("--test-count"),
                                  QStringLiteral("10"), QStringLiteral("--seed"), QStringLiteral("8")});
        QVERIFY2(made.exitCode == 0, made.err.constData());
        m_model = m_dir.filePath(QStringLiteral("vit"));
        const auto trained = runCli({QStringLiteral("train"), QStringLiteral("--arch"), QStringLiteral("vit"),
                                     QStringLiteral("--data"), m_bench + QStringLiteral("/train"),
                                     QStringLiteral("--out"), m_model, QStringLiteral("--epochs"), QStringLiteral("1"),
                                     QStringLiteral("--batch-size"), QStringLiteral("20"), QStringLiteral("--width"),
                                     QStringLiteral("16"), QStringLiteral("--depth"), QStringLiteral("2")});
        QVERIFY2(trained.exitCode == 0, trained.err.constData());
    }

    void scoresAgreeWithTheDumpedMaps()
    {
        const QString csv = m_dir.filePath(QStringLiteral("audit.csv"));
        const auto run = runCli({QStringLiteral("audit"), QStringLiteral("--vit"), m_model,
                                 QStringLiteral("--benchmark"), m_bench, QStringLiteral("--methods"),
                                 QStringLiteral("saliency,attention,edges"), QStringLiteral("--limit"),
                                 QStringLiteral("4"), QStringLiteral("--csv"), csv,
                                 QStringLiteral("--randomisation-images"), QStringLiteral("2")});
        QVERIFY2(run.exitCode == 0, run.err.constData());
        const auto result = parseObject(run.out);
        QCOMPARE(result[QLatin1String("images")].toInt(), 4);
        QCOMPARE(result[QLatin1String("with_masks")].toInt(), 4);
        const auto methods = result[QLatin1String("vit")].toObject()[QLatin1String("methods")].toObject();
        QCOMPARE(methods.keys().size(), 3);
        // The edge map looks at no model: it fails the randomisation check, with a rank
        // correlation of 1 after every step.
        const auto edges = methods[QLatin1String("edges")].toObject()[QLatin1String("randomisation")].toObject();
        QCOMPARE(edges[QLatin1String("passes")].toBool(), false);
        for (const auto& rho : edges[QLatin1String("spearman")].toArray())
            QCOMPARE(rho.toDouble(), 1.0);
        QVERIFY(run.err.contains("edges"));  // the table

        QFile file(csv);
        QVERIFY(file.open(QIODevice::ReadOnly));
        auto lines = file.readAll().split('\n');
        lines.removeAll(QByteArray());
        QCOMPARE(lines.size(), 1 + 4 * 3);
        int checked = 0;
        for (const auto& line : lines.mid(1)) {
            const auto image = QString::fromUtf8(line.mid(1, line.indexOf("\",") - 1));
            const auto method = csvField(line, 3);
            // The audit explains the true class (the image's folder, numbered as sorted).
            const auto classes = QDir(m_bench + QStringLiteral("/test"))
                                     .entryList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::Name);
            const auto label = classes.indexOf(image.section(QLatin1Char('/'), 0, 0));
            QVERIFY(label >= 0);
            const QString dump = m_dir.filePath(QStringLiteral("dump.safetensors"));
            QStringList analyze{QStringLiteral("analyze"),
                                QStringLiteral("--vit"),
                                m_model,
                                QStringLiteral("--image"),
                                m_bench + QStringLiteral("/test/") + image,
                                QStringLiteral("--method"),
                                method,
                                QStringLiteral("--dump"),
                                dump};
            if (method == QLatin1String("saliency"))
                analyze << QStringLiteral("--class") << QString::number(label);
            const auto analyzed = runCli(analyze);
            QVERIFY2(analyzed.exitCode == 0, analyzed.err.constData());
            int h = 0, w = 0;
            const auto map = dumpedMap(dump, "vit." + method.toStdString(), h, w);
            const auto mask = readMask(m_bench + QStringLiteral("/masks/test/") + image);
            if (h == int(mask.size()))  // saliency, edges: a map at the mask's pixels
                QVERIFY(std::abs(csvField(line, 5).toDouble() - energy(map, mask)) < 1e-5);
            // The CSV has 6 significant digits.
            QVERIFY2(std::abs(csvField(line, 6).toDouble() - cellIoU(map, h, w, mask)) < 1e-5, line.constData());
            ++checked;
        }
        QCOMPARE(checked, 12);
    }

    void masksBesideTheirImagesAreFound()
    {
        // Without --masks, NAME.mask.png beside NAME.png is its mask, and not an image.
        const QString images = m_dir.filePath(QStringLiteral("beside"));
        QDir().mkpath(images);
        QVERIFY(QFile::copy(m_bench + QStringLiteral("/test/ring/00005.png"), images + QStringLiteral("/a.png")));
        QVERIFY(QFile::copy(m_bench + QStringLiteral("/masks/test/ring/00005.png"),
                            images + QStringLiteral("/a.mask.png")));
        QVERIFY(QFile::copy(m_bench + QStringLiteral("/test/star/00007.png"), images + QStringLiteral("/b.png")));
        const auto run = runCli({QStringLiteral("audit"), QStringLiteral("--vit"), m_model, QStringLiteral("--images"),
                                 images, QStringLiteral("--methods"), QStringLiteral("attention"),
                                 QStringLiteral("--randomisation-images"), QStringLiteral("0")});
        QVERIFY2(run.exitCode == 0, run.err.constData());
        const auto result = parseObject(run.out);
        QCOMPARE(result[QLatin1String("images")].toInt(), 2);
        QCOMPARE(result[QLatin1String("with_masks")].toInt(), 1);
    }

    // --methods quick: the audit's methods with at most one pass of their own per image;
    // none that `methods` says runs many.
    void quickMethodsLeaveOutTheManyPassOnes()
    {
        const auto listed = runCli({QStringLiteral("methods")});
        QVERIFY2(listed.exitCode == 0, listed.err.constData());
        QSet<QString> many;
        for (const auto& m : QJsonDocument::fromJson(listed.out).array())
            if (m[QLatin1String("many_passes")].toBool())
                many.insert(m[QLatin1String("name")].toString());
        QVERIFY(many.contains(QStringLiteral("occlusion")) && many.contains(QStringLiteral("scorecam")));
        QVERIFY(!many.contains(QStringLiteral("gradcam")));
        const auto run = runCli(
            {QStringLiteral("audit"), QStringLiteral("--vit"), m_model, QStringLiteral("--benchmark"), m_bench,
             QStringLiteral("--methods"), QStringLiteral("quick"), QStringLiteral("--limit"), QStringLiteral("1"),
             QStringLiteral("--randomisation-images"), QStringLiteral("0"), QStringLiteral("--no-causal")});
        QVERIFY2(run.exitCode == 0, run.err.constData());
        const auto audited =
            parseObject(run.out)[QLatin1String("vit")].toObject()[QLatin1String("methods")].toObject().keys();
        for (const auto& name : {"attention", "rollout", "legrad", "gradcam", "saliency", "centre", "edges"})
            QVERIFY2(audited.contains(QLatin1String(name)), name);
        for (const auto& name : audited)
            QVERIFY2(!many.contains(name), qPrintable(name));
    }

    // --methods that the given model does not offer for the audit (erf explains no class):
    // one usage line, not every method audited instead.
    void methodsNoModelOffersAreAUsageError()
    {
        const auto run = runCli({QStringLiteral("audit"), QStringLiteral("--vit"), m_model,
                                 QStringLiteral("--benchmark"), m_bench, QStringLiteral("--methods"),
                                 QStringLiteral("erf")});
        QCOMPARE(run.exitCode, 2);
        QVERIFY2(run.err.contains("no model given offers a method of --methods erf"), run.err.constData());
        QVERIFY(run.out.isEmpty());
    }

    void interruptWritesNothing()
    {
        const QString csv = m_dir.filePath(QStringLiteral("interrupted.csv"));
        QProcess process;
        process.start(QStringLiteral(ATTNVIZ_BIN_DIR "/attnviz-cli"),
                      {QStringLiteral("audit"), QStringLiteral("--vit"), m_model, QStringLiteral("--benchmark"),
                       m_bench, QStringLiteral("--csv"), csv});
        QVERIFY(process.waitForStarted());
        // Interrupted once the process catches SIGINT (the kernel's SigCgt mask), so that a
        // slow start on a loaded machine does not meet the signal before the handler.
        const auto catchesInterrupt = [&process] {
            QFile status(QStringLiteral("/proc/%1/status").arg(process.processId()));
            if (!status.open(QIODevice::ReadOnly))
                return false;
            for (const auto& line : status.readAll().split('\n'))
                if (line.startsWith("SigCgt:"))
                    return (line.mid(7).trimmed().toULongLong(nullptr, 16) & (1ULL << (SIGINT - 1))) != 0;
            return false;
        };
        QTRY_VERIFY_WITH_TIMEOUT(catchesInterrupt(), 60000);
        ::kill(pid_t(process.processId()), SIGINT);
        QVERIFY(process.waitForFinished(60000));
        QCOMPARE(process.exitStatus(), QProcess::NormalExit);
        QCOMPARE(process.exitCode(), 1);
        QVERIFY2(process.readAllStandardError().trimmed().endsWith("attnviz-cli audit: cancelled"),
                 "the last line says it was cancelled");
        QVERIFY(process.readAllStandardOutput().isEmpty());
        QVERIFY(!QFile::exists(csv));
    }

    void badMasksAreLeftOutAndCounted()
    {
        // Four images of the benchmark with masks: one right, one of the wrong size, one
        // empty, one not a PNG, one missing.
        const QString images = m_dir.filePath(QStringLiteral("images"));
        const QString masks = m_dir.filePath(QStringLiteral("masks"));
        QDir().mkpath(images);
        QDir().mkpath(masks);
        const QStringList names{QStringLiteral("good"), QStringLiteral("small"), QStringLiteral("empty"),
                                QStringLiteral("text"), QStringLiteral("missing")};
        for (const auto& name : names)
            QVERIFY(QFile::copy(m_bench + QStringLiteral("/test/disc/00003.png"),
                                images + QLatin1Char('/') + name + QStringLiteral(".png")));
        QVERIFY(
            QFile::copy(m_bench + QStringLiteral("/masks/test/disc/00003.png"), masks + QStringLiteral("/good.png")));
        QImage(10, 10, QImage::Format_Grayscale8).save(masks + QStringLiteral("/small.png"));
        QImage blank(64, 64, QImage::Format_Grayscale8);
        blank.fill(0);
        blank.save(masks + QStringLiteral("/empty.png"));
        QFile text(masks + QStringLiteral("/text.png"));
        QVERIFY(text.open(QIODevice::WriteOnly));
        text.write("not a png");
        text.close();

        const auto run = runCli({QStringLiteral("audit"), QStringLiteral("--vit"), m_model, QStringLiteral("--images"),
                                 images, QStringLiteral("--masks"), masks, QStringLiteral("--methods"),
                                 QStringLiteral("attention"), QStringLiteral("--randomisation-images"),
                                 QStringLiteral("0")});
        QCOMPARE(run.exitCode, 3);
        const auto result = parseObject(run.out);
        QCOMPARE(result[QLatin1String("images")].toInt(), 5);
        QCOMPARE(result[QLatin1String("with_masks")].toInt(), 1);
        QCOMPARE(result[QLatin1String("skipped")].toArray().size(), 4);
        for (const char* reason : {"small.png' is 10x10 px but its image is 64x64", "empty.png' is empty",
                                   "text.png' is not a PNG", "missing.png' is missing"})
            QVERIFY2(run.err.contains(reason), reason);
        const auto attention = result[QLatin1String("vit")]
                                   .toObject()[QLatin1String("methods")]
                                   .toObject()[QLatin1String("attention")]
                                   .toObject();
        QCOMPARE(attention[QLatin1String("pointing_game")].toObject()[QLatin1String("n")].toInt(), 1);
        QCOMPARE(attention[QLatin1String("deletion_auc")].toObject()[QLatin1String("n")].toInt(), 5);
    }
};

QTEST_GUILESS_MAIN(TestAuditCli)
#include "tst_auditcli.moc"
