// Rendering: colormaps, mass threshold, overlays, montages and PNG text chunks,
// checked against OpenCV's own colormaps and decoders.
#include "core/imaging/colormap.h"
#include "core/imaging/imagedecoder.h"
#include "core/imaging/montage.h"
#include "core/imaging/overlay.h"
#include "core/imaging/pngwriter.h"
#include "core/io/pngtext.h"
#include "core/io/rawtensor.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <QtTest>

#include <limits>

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace attnviz;

namespace {

std::string readFile(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

cv::Vec3b colourOf(float value, imaging::Colormap colormap)
{
    return imaging::applyColormap(cv::Mat(1, 1, CV_32FC1, cv::Scalar(value)), colormap).at<cv::Vec3b>(0, 0);
}

cv::Mat gradientPicture()
{
    cv::Mat picture(40, 60, CV_8UC3);
    for (int y = 0; y < picture.rows; ++y)
        for (int x = 0; x < picture.cols; ++x)
            picture.at<cv::Vec3b>(y, x) = cv::Vec3b(uchar(x * 4), uchar(y * 6), 128);
    return picture;
}

bool equalImages(const cv::Mat& a, const cv::Mat& b)
{
    return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0;
}

}  // namespace

class TestRendering : public QObject {
    Q_OBJECT

    std::string m_dir = std::filesystem::temp_directory_path() / ("attnviz-rendering-" + std::to_string(::getpid()));

private slots:
    void initTestCase() { std::filesystem::create_directories(m_dir); }
    void cleanupTestCase() { std::filesystem::remove_all(m_dir); }

    void colormapEndsAreRgb()
    {
        // matplotlib's viridis runs from dark purple (68, 1, 84) to yellow (253, 231, 37).
        const auto low = colourOf(0.0f, imaging::Colormap::Viridis);
        const auto high = colourOf(1.0f, imaging::Colormap::Viridis);
        QVERIFY(std::abs(low[0] - 68) <= 2 && low[1] <= 4 && std::abs(low[2] - 84) <= 2);
        QVERIFY(std::abs(high[0] - 253) <= 2 && std::abs(high[1] - 231) <= 2 && std::abs(high[2] - 37) <= 2);
        QCOMPARE(colourOf(0.0f, imaging::Colormap::Gray), cv::Vec3b(0, 0, 0));
        QCOMPARE(colourOf(1.0f, imaging::Colormap::Gray), cv::Vec3b(255, 255, 255));
        QCOMPARE(colourOf(7.0f, imaging::Colormap::Gray), cv::Vec3b(255, 255, 255));  // clamped
        for (const char* name : {"viridis", "inferno", "magma", "plasma", "turbo", "jet", "gray"})
            QCOMPARE(imaging::colormapName(imaging::colormapFromName(name)), std::string(name));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, imaging::colormapFromName("rainbow"));
    }

    void colormapsMatchOpenCv()
    {
        const std::pair<imaging::Colormap, int> maps[] = {{imaging::Colormap::Viridis, cv::COLORMAP_VIRIDIS},
                                                          {imaging::Colormap::Inferno, cv::COLORMAP_INFERNO},
                                                          {imaging::Colormap::Magma, cv::COLORMAP_MAGMA},
                                                          {imaging::Colormap::Plasma, cv::COLORMAP_PLASMA},
                                                          {imaging::Colormap::Turbo, cv::COLORMAP_TURBO},
                                                          {imaging::Colormap::Jet, cv::COLORMAP_JET}};
        for (const auto& [colormap, openCv] : maps) {
            for (int level : {0, 255}) {
                cv::Mat bgr;
                cv::applyColorMap(cv::Mat(1, 1, CV_8UC1, cv::Scalar(level)), bgr, openCv);
                const auto expected = bgr.at<cv::Vec3b>(0, 0);
                const auto rgb = colourOf(float(level) / 255.0f, colormap);
                QCOMPARE(rgb, cv::Vec3b(expected[2], expected[1], expected[0]));
            }
        }
    }

    void keepMassKeepsTheHeaviestCells()
    {
        const auto map = torch::tensor({0.5f, 0.3f, 0.1f, 0.1f}).view({2, 2});
        QVERIFY(torch::equal(imaging::keepMass(map, 0.8), torch::tensor({0.5f, 0.3f, 0.0f, 0.0f}).view({2, 2})));
        QVERIFY(torch::equal(imaging::keepMass(map, 0.5), torch::tensor({0.5f, 0.0f, 0.0f, 0.0f}).view({2, 2})));
        QVERIFY(torch::equal(imaging::keepMass(map, 1.0), map));
        // A tie at the threshold keeps both cells, so the kept mass is never below the fraction.
        QVERIFY(torch::equal(imaging::keepMass(map, 0.85), map));
        torch::manual_seed(3);
        const auto random = torch::rand({9, 9});
        for (double fraction : {0.1, 0.37, 0.6, 0.95}) {
            const auto kept = imaging::keepMass(random, fraction);
            QVERIFY(kept.sum().item<double>() >= fraction * random.sum().item<double>() - 1e-5);
        }
        // A uniform map is all ties: it is kept whole.
        const auto uniform = torch::full({3, 3}, 0.25f);
        QVERIFY(torch::equal(imaging::keepMass(uniform, 0.3), uniform));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, imaging::keepMass(map, 0.0));
    }

    void rangesArePerMapOrJoint()
    {
        const auto a = torch::tensor({0.2f, 0.4f}), b = torch::tensor({-1.0f, 0.3f});
        QCOMPARE(imaging::rangeOf(a).lo, 0.2f);
        QCOMPARE(imaging::rangeOf(a).hi, 0.4f);
        const auto joint = imaging::rangeOf(std::vector<torch::Tensor>{a, b});
        QCOMPARE(joint.lo, -1.0f);
        QCOMPARE(joint.hi, 0.4f);
    }

    void overlayBlendsAndUpsamples()
    {
        const auto picture = gradientPicture();
        const auto map = torch::tensor({0.0f, 1.0f, 1.0f, 0.0f}).view({2, 2});
        imaging::OverlayOptions options;
        options.colorBar = false;
        options.alpha = 0.0;
        QVERIFY(equalImages(imaging::renderOverlay(picture, map, {0, 1}, options), picture));
        options.alpha = 1.0;
        const auto coloured = imaging::renderOverlay(picture, map, {0, 1}, options);
        // Nearest: each cell is a constant 20x30 block of the colormap's end colours.
        QCOMPARE(coloured.at<cv::Vec3b>(0, 0), colourOf(0.0f, options.colormap));
        QCOMPARE(coloured.at<cv::Vec3b>(19, 29), colourOf(0.0f, options.colormap));
        QCOMPARE(coloured.at<cv::Vec3b>(0, 30), colourOf(1.0f, options.colormap));
        QCOMPARE(coloured.at<cv::Vec3b>(39, 0), colourOf(1.0f, options.colormap));
        // Bilinear blends across the cell border.
        options.upsampling = imaging::Upsampling::Bilinear;
        const auto smooth = imaging::renderOverlay(picture, map, {0, 1}, options);
        QVERIFY(smooth.at<cv::Vec3b>(10, 29) != colourOf(0.0f, options.colormap));
        // A colour bar widens the image; a flat map is drawn, not NaN.
        options.colorBar = true;
        const auto flat = imaging::renderOverlay(picture, torch::full({2, 2}, 0.3f), {0.3f, 0.3f}, options);
        QVERIFY(flat.cols > picture.cols);
        QCOMPARE(flat.rows, picture.rows);
        QCOMPARE(flat.at<cv::Vec3b>(5, 5), colourOf(0.0f, options.colormap));
    }

    // A picture's own colours ([3, h, w] in [0, 1], the pca view's) are drawn as they are:
    // no colormap, no colour bar, nearest cells of the right colour.
    void anRgbMapIsDrawnInItsOwnColours()
    {
        const auto rgb = torch::rand({3, 4, 4});
        const cv::Mat grey(32, 32, CV_8UC3, cv::Scalar(128, 128, 128));
        imaging::OverlayOptions options;
        options.alpha = 1.0;
        const auto drawn = imaging::renderOverlay(grey, rgb, {}, options);
        QCOMPARE(drawn.cols, 32);  // no colour bar
        for (const auto& [row, col] : {std::pair{0, 0}, std::pair{3, 2}}) {
            const auto& pixel = drawn.at<cv::Vec3b>(row * 8 + 4, col * 8 + 4);  // the cell's centre
            for (int k = 0; k < 3; ++k)
                QCOMPARE(int(pixel[k]), int(std::lround(rgb[k][row][col].item<double>() * 255)));
        }
        options.alpha = 0.5;
        const auto half = imaging::renderOverlay(grey, torch::zeros({3, 4, 4}), {}, options);
        QCOMPARE(int(half.at<cv::Vec3b>(0, 0)[0]), 64);  // black over grey
    }

    void nearestUpsamplingKeepsBlocks()
    {
        const auto map = torch::tensor({0.0f, 0.25f, 0.5f, 1.0f}).view({2, 2});
        imaging::OverlayOptions options;
        const auto big = imaging::renderMap(map, {0, 1}, cv::Size(4, 4), options);
        QCOMPARE(big.size(), cv::Size(4, 4));
        for (int y = 0; y < 4; ++y)
            for (int x = 0; x < 4; ++x)
                QCOMPARE(big.at<cv::Vec3b>(y, x), colourOf(map[y / 2][x / 2].item<float>(), options.colormap));
    }

    void montageLaysOutRowsAndColumns()
    {
        std::vector<cv::Mat> tiles(5, cv::Mat(30, 40, CV_8UC3, cv::Scalar(10, 20, 30)));
        const auto grid = imaging::montage(tiles, 3, {"a", "b", "c", "d", "e"});
        QVERIFY(grid.cols >= 3 * 40 && grid.cols < 3 * 40 + 40);
        QVERIFY(grid.rows >= 2 * 30 && grid.rows < 2 * 30 + 80);
        const auto matrix = imaging::renderMatrix(torch::rand({4, 6}), {"r0", "r1", "r2", "r3"},
                                                  {"c0", "c1", "c2", "c3", "c4", "c5"}, "title", {0, 1},
                                                  imaging::Colormap::Viridis, 20);
        QVERIFY(matrix.rows > 4 * 20 && matrix.cols > 6 * 20);
    }

    void undefinedMatrixEntriesAreGrey()
    {
        // CKA of a constant layer is NaN: its cells are drawn grey, not as the lowest colour.
        const auto greyPixels = [](const torch::Tensor& m) {
            const auto image = imaging::renderMatrix(m, {"r0", "r1", "r2", "r3"}, {"c0", "c1", "c2", "c3", "c4", "c5"},
                                                     "title", {0, 1}, imaging::Colormap::Viridis, 20);
            cv::Mat mask;
            cv::inRange(image, cv::Scalar(200, 200, 200), cv::Scalar(200, 200, 200), mask);
            return cv::countNonZero(mask);
        };
        auto m = torch::rand({4, 6});
        const int labelPixels = greyPixels(m);  // anti-aliased text may hit the grey by chance
        m.select(1, 2).fill_(std::numeric_limits<float>::quiet_NaN());
        QCOMPARE(greyPixels(m) - labelPixels, 4 * 20 * 20);
    }

    void pngTextRoundTrips()
    {
        const auto path = m_dir + "/overlay.png";
        const auto picture = gradientPicture();
        const io::TextEntries text{{"attnviz:method", "rollout"}, {"attnviz:layer", "0,1,2"}, {"Comment", ""}};
        imaging::writePng(path, picture, text);
        QVERIFY(io::readPngText(readFile(path)) == text);
        // Pixels unchanged, read back by OpenCV's own decoder.
        QVERIFY(equalImages(imaging::decodeImageRgb(path), picture));
        cv::Mat rgb;
        cv::cvtColor(cv::imread(path, cv::IMREAD_COLOR), rgb, cv::COLOR_BGR2RGB);
        QVERIFY(equalImages(rgb, picture));
        QVERIFY(!std::filesystem::exists(path + ".partial"));
    }

    void malformedPngsAreRefused()
    {
        std::vector<uchar> encoded;
        cv::imencode(".png", gradientPicture(), encoded);
        const std::string png(encoded.begin(), encoded.end());
        QVERIFY_THROWS_EXCEPTION(io::FormatError, io::addPngText("GIF89a not a png", {{"a", "b"}}));
        QVERIFY_THROWS_EXCEPTION(io::FormatError, io::addPngText(png, {{" padded", "b"}}));
        QVERIFY_THROWS_EXCEPTION(io::FormatError, io::addPngText(png, {{std::string(80, 'k'), "b"}}));
        QVERIFY_THROWS_EXCEPTION(io::FormatError, io::addPngText(png, {{"key", std::string("a\0b", 3)}}));
        auto tagged = io::addPngText(png, {{"key", "value"}});
        auto corrupt = tagged;
        corrupt[8 + 25 + 12] ^= 0x20;  // a byte inside the tEXt chunk after IHDR
        QVERIFY_THROWS_EXCEPTION(io::FormatError, io::readPngText(corrupt));
        QVERIFY_THROWS_EXCEPTION(io::FormatError, io::readPngText(tagged.substr(0, tagged.size() - 7)));
    }

    void unwritablePathLeavesNothing()
    {
        const auto path = m_dir + "/missing/overlay.png";
        QVERIFY_THROWS_EXCEPTION(imaging::ImageError, imaging::writePng(path, gradientPicture(), {}));
        QVERIFY(!std::filesystem::exists(path));
        QVERIFY(!std::filesystem::exists(path + ".partial"));
    }
};

QTEST_GUILESS_MAIN(TestRendering)
#include "tst_rendering.moc"
