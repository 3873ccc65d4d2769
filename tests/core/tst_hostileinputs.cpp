// Hostile and malformed inputs, reader by reader (issue 14): each gives a one-line
// error instead of a crash, a wrapped-around number or an allocation of what a header
// claims, and what is ambiguous is refused rather than resolved silently. The same
// inputs end to end, with exit codes and peak memory: tests/scripts/check_hostile_inputs.py.
// Safetensors headers: tst_safetensors; zip archives: tst_torchcheckpoint.
#include "core/engine/model/classifier.h"
#include "core/imaging/imagedecoder.h"
#include "core/imaging/imageheader.h"
#include "core/imaging/preprocess.h"
#include "core/io/checkpointfile.h"
#include "core/io/idxdataset.h"
#include "core/io/modelconfig.h"
#include "core/io/safetensors.h"

#include <QtTest>

#include <zlib.h>

#include <array>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

using namespace attnviz;
namespace fs = std::filesystem;

namespace {

const std::string kImages = ATTNVIZ_SOURCE_DIR "/tests/fixtures/hostile/images/";
const std::string kShippedCnn = ATTNVIZ_SOURCE_DIR "/models/cnn-fmnist";

void writeText(const std::string& path, const std::string& text)
{
    std::ofstream(path, std::ios::binary).write(text.data(), std::streamsize(text.size()));
}

std::string bigEndian32(std::uint32_t v)
{
    return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
}

template <typename F>
QString errorOf(F&& action)
{
    try {
        action();
    } catch (const std::exception& e) {
        return QString::fromUtf8(e.what());
    }
    return {};
}

io::RawTensor floats(io::DType dtype, const std::vector<std::uint8_t>& bytes)
{
    io::RawTensor t;
    t.dtype = dtype;
    t.shape = {std::int64_t(bytes.size() / io::dtypeSize(dtype))};
    t.bytes = io::ByteBuffer(bytes.data(), bytes.size());
    return t;
}

}  // namespace

class TestHostileInputs : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    std::string path(const std::string& name) const
    {
        return m_dir.filePath(QString::fromStdString(name)).toStdString();
    }

private slots:
    void configNumbersAreRangeChecked_data()
    {
        QTest::addColumn<QByteArray>("json");
        QTest::addColumn<QString>("error");
        const auto row = [](const char* name, const std::string& json, const char* error) {
            QTest::newRow(name) << QByteArray::fromStdString(json) << QString::fromUtf8(error);
        };
        row("classes past 2^32", R"({"num_classes": 4294967306})",
            "'num_classes' is 4294967306, expected an integer in 0..1000000");
        row("classes 1e10", R"({"num_classes": 1e10})", "'num_classes' is 10000000000.0");
        row("fractional classes", R"({"num_classes": 2.5})", "expected an integer");
        row("classes a list", R"({"num_classes": [[[1]]]})", "'num_classes' is an array of 1");
        row("classes nested 200000 deep",
            R"({"num_classes": )" + std::string(200'000, '[') + std::string(200'000, ']') + "}",
            "more than 64 levels deep");
        row("input 60000 square", R"({"input_size": [3, 60000, 60000]})", "'input_size' is 60000");
        row("input without width", R"({"input_size": [3, 224]})", "input_size must be [C, H, W]");
        row("input 100 channels", R"({"input_size": [100, 224, 224]})", "input_size must be [C, H, W]");
        row("std zero", R"({"std": [0, 0.2, 0.2]})", "'std' is 0");
        row("mean infinite", R"({"mean": [1e999, 0, 0]})", "number overflow parsing '1e999'");
        row("crop 1e-300", R"({"crop_pct": 1e-300})", "'crop_pct' is");
        row("crop negative (timm pretrained_cfg)", R"({"pretrained_cfg": {"crop_pct": -1}})", "'crop_pct' is -1");
        row("open_clip head width 0", R"({"model_cfg": {"vision_cfg": {"width": 768, "head_width": 0}}})",
            "'head_width' is 0");
        row("CLIP width 1e10", R"({"vision_config": {"hidden_size": 1e10}})", "'hidden_size' is");
        row("negative label index", R"({"id2label": {"-1": "cat"}})", "id2label entry '-1'");
        row("label not a name", R"({"id2label": {"0": 5}})", "id2label entry '0'");
        row("architecture a number", R"({"architectures": [5]})", "'architectures' is 5");
        row("eps zero", R"({"layer_norm_eps": 0})", "'layer_norm_eps' is 0");
        row("stem stride huge", R"({"model_args": {"stem_stride": 100000}})", "'stem_stride' is 100000");
    }

    void configNumbersAreRangeChecked()
    {
        QFETCH(QByteArray, json);
        QFETCH(QString, error);
        writeText(path("config.json"), json.toStdString());
        const QString message = errorOf([&] { io::parseModelConfig(path("config.json")); });
        QVERIFY2(message.contains(error), qPrintable(message.left(300)));
        QVERIFY(!message.contains(u'\n'));
        QVERIFY(message.size() < 400);
    }

    void preprocessorAndLimitsOfConfigFiles()
    {
        writeText(path("config.json"), "{}");
        writeText(path("preprocessor_config.json"), R"({"size": {"height": 100000, "width": 3}})");
        QVERIFY(errorOf([&] {
                    io::parseModelConfig(path("config.json"), path("preprocessor_config.json"));
                }).contains(QStringLiteral("'height' is 100000")));
        writeText(path("preprocessor_config.json"), R"({"size": 224, "resample": 99})");
        QVERIFY(errorOf([&] {
                    io::parseModelConfig(path("config.json"), path("preprocessor_config.json"));
                }).contains(QStringLiteral("'resample' is 99")));
        // A config.json of 17 MB (real ones, ImageNet-21k labels included, are under 1 MB).
        writeText(path("config.json"), "{\"labels\": [\"" + std::string(17u << 20, 'a') + "\"]}");
        QVERIFY(errorOf([&] { io::parseModelConfig(path("config.json")); }).contains(QStringLiteral("-byte limit")));
        // What real configs hold still reads.
        // (moc misreads a raw string literal that spans lines: one line each)
        writeText(path("config.json"),
                  R"({"num_classes": 0, "image_size": 224.0, "pretrained_cfg": {"input_size": [3, 224, 224], )"
                  R"("crop_pct": 0.875, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}})");
        const auto config = io::parseModelConfig(path("config.json"));
        QCOMPARE(*config.numClasses, 0);
        QCOMPARE((*config.preprocess.inputSize)[1], 224);
    }

    void jsonValueCountIsBounded()
    {
        std::string many = "{\"labels\": [0";
        for (int i = 0; i < 1'000'000; ++i)
            many += ",0";
        writeText(path("config.json"), many + "]}");
        const QString message = errorOf([&] { io::parseModelConfig(path("config.json")); });
        QVERIFY2(message.contains(QStringLiteral("holds more than 1000000 values")), qPrintable(message));
        writeText(path("config.json"), "{}");
        writeText(path("preprocessor_config.json"), R"({"size": {"height": null, "width": 224}})");
        QVERIFY(errorOf([&] {
                    io::parseModelConfig(path("config.json"), path("preprocessor_config.json"));
                }).contains(QStringLiteral("'size.height' is null")));
    }

    void movedFromBuffersAreEmpty()
    {
        io::ByteBuffer a(std::size_t(16));
        io::ByteBuffer b(std::move(a));
        QVERIFY(a.empty() && a.size() == 0 && b.size() == 16);  // NOLINT(bugprone-use-after-move): the point
        io::ByteBuffer c;
        c = std::move(b);
        QVERIFY(b.empty() && c.size() == 16);  // NOLINT(bugprone-use-after-move)
        QVERIFY(io::ByteBuffer(a) == io::ByteBuffer());
    }

    // A pair of IDX files of 16 + 8 bytes that declares 65536 images of 256 x 256 (4 GiB):
    // refused from the file sizes before anything of that size is allocated; also gzipped.
    void idxSizesAreCheckedAgainstTheFiles()
    {
        const std::string images = bigEndian32(0x803) + bigEndian32(65536) + bigEndian32(256) + bigEndian32(256);
        const std::string labels = bigEndian32(0x801) + bigEndian32(65536);
        fs::create_directories(path("idx"));
        writeText(path("idx/t10k-images-idx3-ubyte"), images);
        writeText(path("idx/t10k-labels-idx1-ubyte"), labels);
        QString message = errorOf([&] { io::readIdxDataset(path("idx"), "t10k"); });
        QVERIFY2(message.contains(QStringLiteral("too small to hold them")), qPrintable(message));
        fs::remove(path("idx/t10k-images-idx3-ubyte"));
        gzFile gz = gzopen(path("idx/t10k-images-idx3-ubyte.gz").c_str(), "wb");
        gzwrite(gz, images.data(), unsigned(images.size()));
        gzclose(gz);
        message = errorOf([&] { io::readIdxDataset(path("idx"), "t10k"); });
        QVERIFY2(message.contains(QStringLiteral("too small to hold them")), qPrintable(message));
    }

    void wrapperPrefixesMayNotCollide()
    {
        io::TensorMap tensors;
        tensors["w"] = floats(io::DType::F32, std::vector<std::uint8_t>(8, 0));
        tensors["module.w"] = floats(io::DType::F32, std::vector<std::uint8_t>(8, 1));
        const QString message = errorOf([&] { io::stripWrapperPrefixes(tensors); });
        QVERIFY2(message.contains(QStringLiteral("'module.w' and 'w' both name the tensor 'w'")), qPrintable(message));
        io::writeSafetensors(path("collide.safetensors"), tensors);
        const QString loaded = errorOf([&] { io::loadCheckpoint(path("collide.safetensors")); });
        QVERIFY2(loaded.startsWith(QString::fromStdString(path("collide.safetensors"))), qPrintable(loaded));
    }

    void nonFiniteValuesAreFoundInEveryFloatType()
    {
        const auto f32 = [](float v) {
            std::vector<std::uint8_t> b(12, 0);
            std::memcpy(b.data() + 4, &v, 4);
            return b;
        };
        QVERIFY(!io::holdsNonFinite(floats(io::DType::F32, f32(std::numeric_limits<float>::max()))));
        QVERIFY(io::holdsNonFinite(floats(io::DType::F32, f32(std::nanf("")))));
        QVERIFY(io::holdsNonFinite(floats(io::DType::F32, f32(-INFINITY))));
        QVERIFY(io::holdsNonFinite(floats(io::DType::F16, {0x00, 0x3c, 0x00, 0x7c})));   // 1.0, +inf
        QVERIFY(!io::holdsNonFinite(floats(io::DType::F16, {0xff, 0x7b, 0xff, 0xfb})));  // ±65504
        QVERIFY(io::holdsNonFinite(floats(io::DType::BF16, {0xc0, 0xff})));              // NaN
        QVERIFY(!io::holdsNonFinite(floats(io::DType::BF16, {0x7f, 0x7f})));             // the largest
        const double nan = std::nan("");
        std::vector<std::uint8_t> d(8);
        std::memcpy(d.data(), &nan, 8);
        QVERIFY(io::holdsNonFinite(floats(io::DType::F64, d)));
        QVERIFY(!io::holdsNonFinite(floats(io::DType::I32, {0xff, 0xff, 0x80, 0x7f})));  // not a float
    }

    // The model loads, and says which weights are broken: the CLI prints it, the window
    // shows it in the pane (tst_mainwindow would need a broken model of its own).
    void nanWeightsAreReportedByName()
    {
        QVERIFY(engine::loadClassifier(kShippedCnn)->spec().warnings.empty());
        auto file = io::readSafetensors(kShippedCnn + "/model.safetensors");
        const auto poison = [&](const std::string& key, float value) {
            auto& bytes = file.tensors.at(key).bytes;
            std::memcpy(bytes.data() + 4, &value, sizeof value);
        };
        poison("fc.weight", std::nanf(""));
        poison("conv1.weight", INFINITY);
        fs::create_directories(path("broken"));
        fs::copy_file(kShippedCnn + "/config.json", path("broken/config.json"), fs::copy_options::overwrite_existing);
        io::writeSafetensors(path("broken/model.safetensors"), file.tensors, file.metadata);
        const auto warnings = engine::loadClassifier(path("broken"))->spec().warnings;
        QCOMPARE(int(warnings.size()), 1);
        QCOMPARE(QString::fromStdString(warnings[0]),
                 QStringLiteral("2 tensors hold NaN or infinite values: conv1.weight, fc.weight"));
    }

    void imageHeadersGiveFormatAndSize_data()
    {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("format");
        QTest::addColumn<long long>("width");
        QTest::addColumn<long long>("height");
        const auto row = [](const char* file, const char* format, long long w, long long h) {
            QTest::newRow(file) << QString::fromLatin1(file) << QString::fromLatin1(format) << w << h;
        };
        row("png-named.jpg", "PNG", 64, 48);  // the signature decides, not the name
        row("tiny-1x1.jpg", "JPEG", 1, 1);
        row("cmyk.jpg", "JPEG", 40, 30);
        row("exif-rotated.jpg", "JPEG", 40, 30);  // as stored; the decoder rotates it
        row("jpeg-stray-bytes.jpg", "JPEG", 64, 48);
        row("jpeg-rst-before-sof.jpg", "JPEG", 64, 48);
        row("truncated.jpg", "JPEG", 64, 48);
        row("gray.bmp", "BMP", 40, 30);
        row("rgb.bmp", "BMP", 40, 30);
        row("rgb.tif", "TIFF", 40, 30);
        row("cmyk.tif", "TIFF", 40, 30);
        row("rgba.webp", "WebP", 40, 30);
        row("animated.webp", "WebP", 32, 32);
        row("rgb16.png", "PNG", 40, 30);
        row("huge-declared.png", "PNG", 100000, 100000);
        row("huge-declared.jpg", "JPEG", 65000, 65000);
        row("huge-declared.bmp", "BMP", 100000, 100000);
        row("huge-declared.tif", "TIFF", 100000, 100000);
        row("huge-declared.webp", "WebP", 16384, 16384);
        row("bomb.tif", "TIFF", 16000, 16000);
        row("bomb.webp", "WebP", 16000, 16000);
    }

    void imageHeadersGiveFormatAndSize()
    {
        QFETCH(QString, file);
        QFETCH(QString, format);
        QFETCH(long long, width);
        QFETCH(long long, height);
        std::ifstream in(kImages + file.toStdString(), std::ios::binary);
        const std::vector<unsigned char> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
        const auto header = imaging::readImageHeader(bytes);
        QCOMPARE(QString::fromStdString(header.format), format);
        QVERIFY(header.width && header.height);
        QCOMPARE(*header.width, width);
        QCOMPARE(*header.height, height);
    }

    // 16000 x 1 pixels pass the pixel limit, but scaling the short side to 256 for a
    // 224 model would allocate 4096000 x 256 x 3 bytes.
    void elongatedImagesAreRefusedBeforeResizing()
    {
        const cv::Mat strip(1, 16000, CV_8UC3, cv::Scalar(1, 2, 3));
        const QString message = errorOf([&] { imaging::preprocessImage(strip, engine::Preprocessing{}); });
        QVERIFY2(message.contains(QStringLiteral("16000x1 pixels is too elongated")), qPrintable(message));
        const cv::Mat wide(224, 4000, CV_8UC3, cv::Scalar(1, 2, 3));  // a panorama of 18:1 is fine
        QCOMPARE(imaging::preprocessImage(wide, engine::Preprocessing{}).tensor.size(3), 224);
    }

    // A TIFF that gives its size twice is sized as libtiff sizes it, by the first entry;
    // one whose size entry has a type the decoder would read differently has no size.
    void tiffSizesAreReadAsLibtiffReadsThem()
    {
        const auto tiff = [](std::vector<std::array<std::uint32_t, 3>> entries) {  // tag, type, value
            std::vector<unsigned char> b{'I', 'I', 42, 0, 8, 0, 0, 0, std::uint8_t(entries.size()), 0};
            for (const auto& [tag, type, value] : entries) {
                const std::uint32_t fields[] = {tag | (type << 16), 1, value};
                for (std::uint32_t f : fields)
                    for (int i = 0; i < 4; ++i)
                        b.push_back(std::uint8_t(f >> (8 * i)));
            }
            return imaging::readImageHeader(b);
        };
        const auto twice = tiff({{256, 4, 30000}, {257, 4, 30000}, {256, 4, 1}, {257, 4, 1}});
        QVERIFY(twice.width && *twice.width == 30000 && *twice.height == 30000);
        QVERIFY(!tiff({{256, 5, 30000}, {257, 4, 1}, {256, 4, 1}}).width);               // RATIONAL first: unknown
        QVERIFY(!tiff({{256, 16, 30000}, {257, 4, 1}}).width);                           // LONG8 outside BigTIFF
        QVERIFY(!tiff({{256, 4, 10}, {257, 4, 10}, {322, 5, 16}, {323, 4, 16}}).width);  // unreadable tiles
        QCOMPARE(tiff({{256, 4, 10}, {257, 4, 10}, {322, 4, 65536}, {323, 4, 65536}}).tilePixels, 65536LL * 65536LL);
    }

    // Sides near 2^32 in a PNG: the pixel check may not overflow into a small product.
    void sidesNear4GiBAreRefused()
    {
        std::ifstream in(kImages + "huge-declared.png", std::ios::binary);
        std::vector<char> png{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
        std::memset(png.data() + 16, 0xff, 8);  // width and height 0xffffffff (the CRC does not matter here)
        writeText(path("sides.png"), std::string(png.begin(), png.end()));
        const QString message = errorOf([&] { imaging::decodeImageRgb(path("sides.png")); });
        QVERIFY2(message.contains(QStringLiteral("claims 4294967295x4294967295 pixels")), qPrintable(message));
    }

    // Every prefix of a real file, and bytes that are nothing: a header is read or not,
    // never past the end (ASan would tell), and a damaged JPEG has no size rather than a wrong one.
    void damagedHeadersHaveNoSize()
    {
        for (const char* name : {"tiny-1x1.jpg", "rgb.tif", "rgb.bmp", "rgba.webp", "tiny-1x1.png"}) {
            std::ifstream in(kImages + name, std::ios::binary);
            const std::vector<unsigned char> whole{std::istreambuf_iterator<char>(in),
                                                   std::istreambuf_iterator<char>()};
            for (std::size_t n = 0; n < std::min<std::size_t>(whole.size(), 400); ++n) {
                const auto header = imaging::readImageHeader({whole.begin(), whole.begin() + std::ptrdiff_t(n)});
                if (header.width)
                    QVERIFY2(*header.width >= 1 && *header.width <= 64, name);
            }
        }
        const std::vector<unsigned char> sosFirst{0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x08, 0xFF, 0xC0,
                                                  0x00, 0x11, 0x08, 0x00, 0x10, 0x00, 0x10};
        QVERIFY(!imaging::readImageHeader(sosFirst).width);  // scan data before any frame
        QCOMPARE(imaging::readImageHeader({'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0}).unsupported, std::string("GIF"));
        QVERIFY(imaging::readImageHeader({'P', '6', '\n'}).format.empty());  // PPM: OpenCV reads it, we do not
    }
};

QTEST_GUILESS_MAIN(TestHostileInputs)
#include "tst_hostileinputs.moc"
