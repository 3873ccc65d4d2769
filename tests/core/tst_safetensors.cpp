#include "core/io/safetensors.h"

#include <QTemporaryDir>
#include <QtTest>

#include <cstring>
#include <fstream>
#include <random>

using namespace attnviz::io;

namespace {

RawTensor randomTensor(DType type, std::vector<std::int64_t> shape, unsigned seed)
{
    RawTensor t;
    t.dtype = type;
    t.shape = std::move(shape);
    t.bytes = ByteBuffer(std::size_t(t.numel()) * dtypeSize(type));
    std::mt19937 rng(seed);
    for (auto& b : t.bytes)
        b = static_cast<std::uint8_t>(rng());
    if (type == DType::Bool)
        for (auto& b : t.bytes)
            b &= 1;
    return t;
}

// A file made of an 8-byte length, the given header text and `data` bytes.
std::string rawFile(const std::string& header, std::size_t dataBytes, std::uint64_t declaredLength)
{
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i)
        out[std::size_t(i)] = char((declaredLength >> (8 * i)) & 0xff);
    return out + header + std::string(dataBytes, '\x01');
}

std::string rawFile(const std::string& header, std::size_t dataBytes)
{
    return rawFile(header, dataBytes, header.size());
}

}  // namespace

class TestSafetensors : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    std::string path(const char* name) const { return m_dir.filePath(QString::fromLatin1(name)).toStdString(); }
    void writeBytes(const std::string& file, const std::string& bytes) const
    {
        std::ofstream(file, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
    }

private slots:
    void roundTripsEveryDtype_data()
    {
        QTest::addColumn<int>("dtype");
        for (auto name : {"F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL"})
            QTest::newRow(name) << int(*dtypeFromName(name));
    }

    void roundTripsEveryDtype()
    {
        QFETCH(int, dtype);
        TensorMap tensors;
        tensors["a.weight"] = randomTensor(DType(dtype), {3, 5, 2}, 1);
        tensors["b"] = randomTensor(DType(dtype), {7}, 2);
        tensors["scalar"] = randomTensor(DType(dtype), {}, 3);
        tensors["empty"] = randomTensor(DType(dtype), {0, 4}, 4);
        const StringMap metadata{{"format", "pt"}, {"note", "ünïcode"}};
        writeSafetensors(path("roundtrip.safetensors"), tensors, metadata);
        const auto file = readSafetensors(path("roundtrip.safetensors"));
        QCOMPARE(file.metadata, metadata);
        QCOMPARE(file.tensors.size(), tensors.size());
        for (const auto& [name, t] : tensors) {
            const auto& back = file.tensors.at(name);
            QCOMPARE(int(back.dtype), dtype);
            QCOMPARE(back.shape, t.shape);
            QVERIFY(back.bytes == t.bytes);
        }
    }

    void readsUnalignedData()
    {
        // Header of odd length: tensor data starts at an unaligned offset.
        const std::string header = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} )";
        std::string bytes = rawFile(header, 0);
        const float values[2] = {1.5f, -2.25f};
        bytes.append(reinterpret_cast<const char*>(values), sizeof(values));
        QVERIFY((8 + header.size()) % 4 != 0);
        writeBytes(path("unaligned.safetensors"), bytes);
        const auto file = readSafetensors(path("unaligned.safetensors"));
        float back[2];
        std::memcpy(back, file.tensors.at("x").bytes.data(), sizeof(back));
        QCOMPARE(back[0], 1.5f);
        QCOMPARE(back[1], -2.25f);
    }

    void rejectsMalformedFiles_data()
    {
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<QString>("expectedError");
        auto row = [](const char* name, const std::string& bytes, const char* error) {
            QTest::newRow(name) << QByteArray(bytes.data(), int(bytes.size())) << QString::fromUtf8(error);
        };
        const std::string ok = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
        row("too short", std::string("\x05\x00\x00", 3), "shorter than its 8-byte header length");
        row("header over 100 MB", rawFile("{}", 0, 200'000'000), "exceeds the 100 MB limit");
        row("header past end", rawFile(ok, 8, 4096), "runs past the end of the file");
        row("not an object start", rawFile(R"([1,2])", 0), "not with the 8-byte header length and the '{'");
        // Another file named .safetensors: what it starts with, not a header length of 10^18 bytes.
        row("a text file", "Hello, world: not tensors at all\n", "starts with text (\"Hello, w…\")");
        row("a zip archive", std::string("PK\x03\x04\x14\x00\x00\x00\x08\x00", 10),
            "a zip archive (a torch.save file? name it .pth)");
        row("other bytes",
            std::string("\x7f"
                        "ELF\x02\x01\x01\x00\x00",
                        9),
            "the bytes 7f 45 4c 46 02 01 01 00");
        row("not json", rawFile(R"({"x": nope})", 0), "not valid UTF-8 JSON");
        row("invalid utf-8", rawFile("{\"\xff\xfe\":{}}", 0), "not valid UTF-8 JSON");
        row("unknown dtype", rawFile(R"({"x":{"dtype":"F8","shape":[2],"data_offsets":[0,2]}})", 2), "unknown dtype");
        row("missing field", rawFile(R"({"x":{"dtype":"F32","shape":[2]}})", 8), "needs dtype, shape and data_offsets");
        row("negative dimension", rawFile(R"({"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8),
            "negative number in its shape");
        row("bytes do not match shape", rawFile(R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8),
            "does not match");
        row("shape overflows",
            rawFile(R"({"x":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", 0),
            "does not match");
        row("reversed offsets", rawFile(R"({"x":{"dtype":"U8","shape":[0],"data_offsets":[8,0]}})", 8), "ends before");
        row("hole", rawFile(R"({"x":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}})", 4), "hole or overlap");
        row("overlap",
            rawFile(
                R"({"x":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"y":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}})",
                6),
            "hole or overlap");
        row("trailing bytes", rawFile(ok, 12), "data buffer holds 12 bytes");
        row("truncated data", rawFile(ok, 5), "data buffer holds 5 bytes");
        row("metadata not strings", rawFile(R"({"__metadata__":{"a":1}})", 0), "__metadata__");
        // Hostile headers (issue 14): answered from the stream of parse events, so no
        // recursion over the value and no document bigger than what is kept.
        const std::string deep = std::string(200'000, '[') + std::string(200'000, ']');
        row("dtype nested 200000 deep",
            rawFile(R"({"x":{"dtype":)" + deep + R"(,"shape":[2],"data_offsets":[0,8]}})", 8),
            "has a dtype that is not a string");
        row("junk nested 200000 deep",
            rawFile(R"({"x":{"junk":)" + deep + R"(,"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8),
            "more than 128 levels deep");
        row("a tensor twice",
            rawFile(
                R"({"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"x":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
                2),
            "'x' appears twice in the header");
        row("a field twice", rawFile(R"({"x":{"dtype":"U8","dtype":"F32","shape":[1],"data_offsets":[0,1]}})", 1),
            "gives 'dtype' twice");
        row("metadata twice", rawFile(R"({"__metadata__":{},"__metadata__":{}})", 0), "appears twice");
        row("nested shape", rawFile(R"({"x":{"dtype":"U8","shape":[[1]],"data_offsets":[0,1]}})", 1),
            "nested list in its shape");
        row("three offsets", rawFile(R"({"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1,2]}})", 1),
            "needs data_offsets [begin, end]");
        row("one offset", rawFile(R"({"x":{"dtype":"U8","shape":[1],"data_offsets":[0]}})", 1),
            "needs data_offsets [begin, end]");
        row("fractional dimension", rawFile(R"({"x":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}})", 1),
            "fraction in its shape");
        std::string manyDims = R"({"x":{"dtype":"U8","shape":[1)";
        for (int i = 0; i < 64; ++i)
            manyDims += ",1";
        row("65 dimensions", rawFile(manyDims + R"(],"data_offsets":[0,1]}})", 1), "more than 64 dimensions");
        row("entry not an object", rawFile(R"({"x":[1,2]})", 0), "'x' is an array, not an object");
        std::string manyTensors = "{";
        for (int i = 0; i <= 100'000; ++i)
            manyTensors += (i ? ",\"t" : "\"t") + std::to_string(i)
                           + "\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}";
        row("100001 tensors", rawFile(manyTensors + "}", 0), "more than 100000 tensors");
        row("entry a number", rawFile(R"({"x":7})", 0), "'x' is a number, not an object");
    }

    // Fields the format does not define are skipped, as the reference reader (serde)
    // skips them, however they nest.
    void unknownFieldsAreSkipped()
    {
        writeBytes(
            path("extra.safetensors"),
            rawFile(
                R"({"x":{"note":{"a":[1,{"b":[null,true,2.5,"s"]}]},"dtype":"U8","shape":[2],"data_offsets":[0,2],"z":-1}})",
                2));
        const auto file = readSafetensors(path("extra.safetensors"));
        QCOMPARE(int(file.tensors.size()), 1);
        QCOMPARE(file.tensors.at("x").shapeString(), std::string("[2]"));
    }

    void rejectsMalformedFiles()
    {
        QFETCH(QByteArray, bytes);
        QFETCH(QString, expectedError);
        writeBytes(path("bad.safetensors"), bytes.toStdString());
        try {
            readSafetensors(path("bad.safetensors"));
            QFAIL("a malformed file was accepted");
        } catch (const FormatError& e) {
            const QString message = QString::fromUtf8(e.what());
            QVERIFY2(message.contains(expectedError), qPrintable(message));
            QVERIFY(!message.contains(QLatin1Char('\n')));
        }
    }

    // Every tensor read gets an aligned buffer of its own (the engine adopts it as is),
    // and copying a tensor copies its bytes, as the vector it replaced did.
    void readBuffersAreAlignedAndCopiesDeep()
    {
        TensorMap tensors;
        tensors["a"] = randomTensor(DType::U8, {3}, 1);  // leaves "b" at an odd offset in the file
        tensors["b"] = randomTensor(DType::F32, {5}, 2);
        writeSafetensors(path("aligned.safetensors"), tensors);
        auto back = readSafetensors(path("aligned.safetensors")).tensors;
        for (const auto& [name, tensor] : back)
            QCOMPARE(reinterpret_cast<std::uintptr_t>(tensor.bytes.data()) % 64, std::uintptr_t(0));
        RawTensor copy = back.at("b");
        QVERIFY(copy.bytes == back.at("b").bytes);
        QVERIFY(copy.bytes.data() != back.at("b").bytes.data());
        copy.bytes.data()[0] ^= 0xff;
        QVERIFY(!(copy.bytes == back.at("b").bytes));
        QVERIFY(back.at("b").bytes == tensors.at("b").bytes);
    }

    void failedWriteLeavesOldFileAlone()
    {
        TensorMap good;
        good["x"] = randomTensor(DType::F32, {4}, 5);
        writeSafetensors(path("keep.safetensors"), good);
        TensorMap bad;
        bad["y"] = randomTensor(DType::F32, {4}, 6);
        bad["y"].bytes = ByteBuffer(bad["y"].bytes.data(), 15);  // inconsistent: refused before anything is renamed
        QVERIFY_THROWS_EXCEPTION(FormatError, writeSafetensors(path("keep.safetensors"), bad));
        QVERIFY(readSafetensors(path("keep.safetensors")).tensors.at("x").bytes == good["x"].bytes);
        QVERIFY(!QFile::exists(QString::fromStdString(path("keep.safetensors.partial"))));
        QVERIFY_THROWS_EXCEPTION(FormatError, writeSafetensors(path("no/such/dir/x.safetensors"), good));
    }
};

QTEST_APPLESS_MAIN(TestSafetensors)
#include "tst_safetensors.moc"
