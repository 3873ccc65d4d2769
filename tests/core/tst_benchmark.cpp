// The generated colour-shapes benchmark: deterministic files, masks that are exactly the
// drawn object, areas that match each shape's geometry, and a tree that ImageFolder
// readers number as the index does.
#include "core/imaging/benchmark/benchmarkwriter.h"
#include "core/imaging/benchmark/scene.h"
#include "core/imaging/imagefolderset.h"
#include "core/io/imagefolder.h"

#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

using namespace attnviz;
using namespace attnviz::imaging::benchmark;
namespace fs = std::filesystem;

namespace {

std::string readFile(const fs::path& path)
{
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// Every regular file below `root`, by relative path, with its bytes.
std::map<std::string, std::string> filesBelow(const fs::path& root)
{
    std::map<std::string, std::string> files;
    for (const auto& entry : fs::recursive_directory_iterator(root))
        if (entry.is_regular_file())
            files[fs::relative(entry.path(), root).generic_string()] = readFile(entry.path());
    return files;
}

std::string under(const QTemporaryDir& dir, const char* name)
{
    return dir.path().toStdString() + "/" + name;
}

bool write(const std::string& dir, std::uint64_t seed, std::size_t train, std::size_t test)
{
    return writeBenchmark({dir, seed, train, test}, {});
}

int labelOf(const std::string& name)
{
    const auto& names = classNames();
    return int(std::find(names.begin(), names.end(), name) - names.begin());
}

// The first scene index of class `name` at or after `from`.
std::uint64_t sceneOfClass(const std::string& name, std::uint64_t from = 0)
{
    const auto classes = std::uint64_t(classNames().size());
    return from + (std::uint64_t(labelOf(name)) + classes - from % classes) % classes;
}

}  // namespace

class TestBenchmark : public QObject {
    Q_OBJECT

private slots:
    void tenClassesSortedAsImageFolderNumbersThem()
    {
        const auto& names = classNames();
        QVERIFY(names.size() >= 10);
        QVERIFY(std::is_sorted(names.begin(), names.end()));
        for (std::uint64_t i = 0; i < 30; ++i)
            QCOMPARE(makeScene(7, 0, i).label, int(i % names.size()));
    }

    void theSameSeedWritesTheSameBytes()
    {
        QTemporaryDir a, b, c;
        QVERIFY(write(under(a, "bm"), 5, 30, 10));
        QVERIFY(write(under(b, "bm"), 5, 30, 10));
        const auto first = filesBelow(under(a, "bm"));
        QCOMPARE(first.size(), std::size_t(2 * 40 + 1));  // scenes, masks, index
        QVERIFY(first == filesBelow(under(b, "bm")));

        // A scene depends on (seed, split, index) only, not on how many were asked for;
        // another seed draws other scenes.
        QVERIFY(write(under(c, "fewer"), 5, 12, 3));
        for (const auto& [path, bytes] : filesBelow(under(c, "fewer")))
            if (path != "index.json")
                QVERIFY2(first.at(path) == bytes, path.c_str());
        QVERIFY(write(under(c, "other"), 6, 12, 3));
        QVERIFY(readFile(under(c, "other/train/checker/00000.png")) != first.at("train/checker/00000.png"));
    }

    void theMaskIsExactlyTheDrawnObject()
    {
        // On a flat background, the pixels that differ from it are the mask, and inside the
        // mask every pixel has the object's colour, in the plain render and the full scene.
        for (std::uint64_t i = 0; i < 60; ++i) {
            const auto scene = makeScene(3, 1, i);
            QVERIFY(cv::countNonZero(scene.mask) > 0);
            for (const std::array<int, 3> flat : {std::array<int, 3>{0, 0, 0}, std::array<int, 3>{255, 255, 255}}) {
                const auto plain = makeScene(3, 1, i, {true, flat});
                if (plain.object.colour == flat)
                    continue;
                cv::Mat differs;
                cv::inRange(plain.image, cv::Scalar(flat[0], flat[1], flat[2]), cv::Scalar(flat[0], flat[1], flat[2]),
                            differs);
                cv::bitwise_not(differs, differs);
                QCOMPARE(cv::countNonZero(differs != scene.mask), 0);
            }
            const auto& c = scene.object.colour;
            cv::Mat objectColoured;
            cv::inRange(scene.image, cv::Scalar(c[0], c[1], c[2]), cv::Scalar(c[0], c[1], c[2]), objectColoured);
            QCOMPARE(cv::countNonZero(scene.mask & ~objectColoured), 0);
            const auto box = cv::boundingRect(scene.mask);
            QCOMPARE(scene.object.box, (std::array<int, 4>{box.x, box.y, box.width, box.height}));
            QVERIFY(box.x >= 0 && box.y >= 0 && box.x + box.width <= kSceneSize && box.y + box.height <= kSceneSize);
        }
    }

    void maskAreasMatchTheShapes_data()
    {
        // Each shape's area and perimeter at radius 1 (its corners on the unit circle).
        QTest::addColumn<QString>("shape");
        QTest::addColumn<double>("area");
        QTest::addColumn<double>("perimeter");
        const double root3 = std::sqrt(3.0);
        QTest::newRow("disc") << QStringLiteral("disc") << M_PI << 2 * M_PI;
        QTest::newRow("square") << QStringLiteral("square") << 2.0 << 4 * std::sqrt(2.0);
        QTest::newRow("triangle") << QStringLiteral("triangle") << 3 * root3 / 4 << 3 * root3;
        // the hole is cut with its outline, so its perimeter counts against
        QTest::newRow("ring, hole 0.55") << QStringLiteral("ring") << M_PI * (1 - 0.55 * 0.55) << 2 * M_PI * 0.45;
        QTest::newRow("cross, arms 0.6 wide")
            << QStringLiteral("cross") << 2 * 2 * 0.6 - 0.6 * 0.6 << 8 * 0.7 + 4 * 0.6;
        const double starEdge = std::sqrt(1 + 0.42 * 0.42 - 2 * 0.42 * std::cos(M_PI / 5));
        QTest::newRow("star, inner corners at 0.42")
            << QStringLiteral("star") << 5 * 0.42 * std::sin(M_PI / 5) << 10 * starEdge;
    }

    void maskAreasMatchTheShapes()
    {
        // The rasterised area against the geometry over scenes of every size and turn.
        // OpenCV fills a polygon with its outline pixels, which adds about half a pixel
        // along the whole perimeter: expected = area r^2 + perimeter r / 2, within 10 % (sharp corners add a
        // little more at small sizes).
        QFETCH(QString, shape);
        QFETCH(double, area);
        QFETCH(double, perimeter);
        for (std::uint64_t i = sceneOfClass(shape.toStdString()); i < 400; i += classNames().size()) {
            const auto scene = makeScene(11, 0, i);
            QCOMPARE(scene.object.kind, shape.toStdString());
            const double r = scene.object.radius;
            const double expected = area * r * r + perimeter * r / 2;
            const double drawn = cv::countNonZero(scene.mask);
            QVERIFY2(std::abs(drawn - expected) < 0.10 * expected,
                     qPrintable(QStringLiteral("scene %1: %2 px drawn, %3 expected").arg(i).arg(drawn).arg(expected)));
        }
    }

    void roundShapesAreWhereTheirCirclesAre()
    {
        // Disc, ring and crescent checked pixel by pixel against their circles: a pixel
        // whose centre is a pixel or more inside is drawn, one a pixel or more outside is not.
        for (const std::string name : {"disc", "ring", "crescent"})
            for (std::uint64_t i = sceneOfClass(name); i < 300; i += classNames().size()) {
                const auto scene = makeScene(13, 0, i);
                const auto& o = scene.object;
                const double turn = o.rotationDegrees * M_PI / 180;
                // The circle cut out, if any: the ring's hole, the crescent's bite.
                const double cutRadius = name == "ring" ? 0.55 : name == "crescent" ? 0.82 : 0.0;
                const double cutX = o.centreX + (name == "crescent" ? 0.42 * o.radius * std::cos(turn) : 0.0);
                const double cutY = o.centreY + (name == "crescent" ? 0.42 * o.radius * std::sin(turn) : 0.0);
                for (int y = 0; y < kSceneSize; ++y)
                    for (int x = 0; x < kSceneSize; ++x) {
                        const double outer = std::hypot(x - o.centreX, y - o.centreY) - o.radius;
                        const double cut = cutRadius * o.radius - std::hypot(x - cutX, y - cutY);
                        const double inside = std::min(-outer, -cut);  // > 0 inside the shape
                        const bool drawn = scene.mask.at<std::uint8_t>(y, x) != 0;
                        if (inside >= 1.0 && !drawn)
                            QFAIL(qPrintable(QStringLiteral("%1 %2: pixel (%3, %4) inside is not drawn")
                                                 .arg(QString::fromStdString(name))
                                                 .arg(i)
                                                 .arg(x)
                                                 .arg(y)));
                        if (inside <= -1.0 && drawn)
                            QFAIL(qPrintable(QStringLiteral("%1 %2: pixel (%3, %4) outside is drawn")
                                                 .arg(QString::fromStdString(name))
                                                 .arg(i)
                                                 .arg(x)
                                                 .arg(y)));
                    }
            }
    }

    void stripesAreThreeBars()
    {
        for (std::uint64_t i = sceneOfClass("stripes"); i < 300; i += classNames().size()) {
            cv::Mat labels;
            QCOMPARE(cv::connectedComponents(makeScene(13, 0, i).mask, labels, 4) - 1, 3);
        }
    }

    void distractorsStayOffTheObject()
    {
        for (std::uint64_t i = 0; i < 100; ++i) {
            const auto scene = makeScene(2, 0, i);
            QVERIFY(scene.distractors.size() >= 1);
            for (const auto& d : scene.distractors) {
                QVERIFY(d.kind == "blob" || d.kind == "scribble");
                QVERIFY(std::hypot(d.centreX - scene.object.centreX, d.centreY - scene.object.centreY)
                        >= d.radius + scene.object.radius + 2);
            }
        }
    }

    // An easy scene (a curriculum's start) is the same object on the scene's own gradient:
    // no distractors, and off the object neighbouring pixels differ by the gradient's
    // small steps only, where the full scene's hatching and noise make larger ones.
    void easyScenesKeepTheObjectAndDropTheClutter()
    {
        const auto largestStepOffObject = [](const Scene& scene) {
            int largest = 0;
            for (int y = 0; y < kSceneSize; ++y)
                for (int x = 0; x + 1 < kSceneSize; ++x) {
                    if (scene.mask.at<std::uint8_t>(y, x) != 0 || scene.mask.at<std::uint8_t>(y, x + 1) != 0)
                        continue;
                    const auto a = scene.image.at<cv::Vec3b>(y, x), b = scene.image.at<cv::Vec3b>(y, x + 1);
                    for (int k = 0; k < 3; ++k)
                        largest = std::max(largest, std::abs(int(a[k]) - int(b[k])));
                }
            return largest;
        };
        SceneOptions easy;
        easy.easy = true;
        for (std::uint64_t i = 0; i < 40; ++i) {
            const auto full = makeScene(5, 0, i);
            const auto simple = makeScene(5, 0, i, easy);
            QCOMPARE(simple.label, full.label);
            QCOMPARE(cv::countNonZero(simple.mask != full.mask), 0);
            QCOMPARE(simple.object.colour, full.object.colour);
            QVERIFY(simple.distractors.empty());
            QVERIFY2(largestStepOffObject(simple) <= 8, std::to_string(largestStepOffObject(simple)).c_str());
            QVERIFY(largestStepOffObject(full) > 8);
        }
    }

    void theTreeReadsBackAsTheIndexSays()
    {
        QTemporaryDir dir;
        const auto root = under(dir, "bm");
        QVERIFY(write(root, 9, 20, 10));
        const auto index = nlohmann::json::parse(readFile(fs::path(root) / "index.json"));
        const auto folder = io::readImageFolder(root + "/test");
        QCOMPARE(folder.classes, classNames());
        const auto set = imaging::readImageFolderSet(folder);
        QCOMPARE(set.images.sizes().vec(), (std::vector<int64_t>{10, 3, kSceneSize, kSceneSize}));
        for (const auto& entry : index["test"]) {
            const auto path = root + "/" + entry["image"].get<std::string>();
            const auto at = std::find(folder.paths.begin(), folder.paths.end(), path) - folder.paths.begin();
            QVERIFY(at < int64_t(folder.paths.size()));
            QCOMPARE(set.labels[at].item<int64_t>(), entry["label"].get<int64_t>());
            QVERIFY(fs::exists(fs::path(root) / entry["mask"].get<std::string>()));
        }
    }

    void refusesAFolderThatHoldsSomething()
    {
        QTemporaryDir dir;
        std::ofstream(under(dir, "keep.txt")) << "mine";
        QVERIFY_THROWS_EXCEPTION(std::runtime_error, write(dir.path().toStdString(), 1, 10, 10));
        QCOMPARE(readFile(under(dir, "keep.txt")), std::string("mine"));
    }
};

QTEST_GUILESS_MAIN(TestBenchmark)
#include "tst_benchmark.moc"
