#include "core/io/pickle.h"
#include "core/io/torchcheckpoint.h"
#include "core/io/zipreader.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QStringList>
#include <QTest>

#include <cmath>
#include <cstring>

using namespace attnviz::io;

namespace {

QString casesDir()
{
    return QStringLiteral(ATTNVIZ_TEST_DATA "/checkpoint_cases");
}

std::string casePath(const QString& file)
{
    return (casesDir() + u'/' + file).toStdString();
}

// Written by tests/scripts/make_checkpoint_cases.py (the checkpoint_cases fixture).
QJsonObject manifest()
{
    QFile file(casesDir() + QStringLiteral("/manifest.json"));
    if (!file.open(QIODevice::ReadOnly))
        return {};
    return QJsonDocument::fromJson(file.readAll()).object();
}

double halfToDouble(std::uint16_t bits)
{
    const int exponent = (bits >> 10) & 0x1f;
    const int mantissa = bits & 0x3ff;
    const double sign = (bits & 0x8000) ? -1.0 : 1.0;
    if (exponent == 0)
        return sign * std::ldexp(mantissa, -24);
    if (exponent == 31)
        return mantissa ? NAN : sign * INFINITY;
    return sign * std::ldexp(mantissa + 1024, exponent - 25);
}

template <typename T>
T load(const RawTensor& tensor, std::size_t index)
{
    T value;
    std::memcpy(&value, tensor.bytes.data() + index * sizeof(T), sizeof(T));
    return value;
}

// Element `index` of a tensor, widened to double (exact for every dtype but the
// largest int64 values, which the integer comparison covers).
double valueAt(const RawTensor& tensor, std::size_t index)
{
    switch (tensor.dtype) {
    case DType::F64: return load<double>(tensor, index);
    case DType::F32: return load<float>(tensor, index);
    case DType::F16: return halfToDouble(load<std::uint16_t>(tensor, index));
    case DType::BF16: {
        const std::uint32_t bits = std::uint32_t(load<std::uint16_t>(tensor, index)) << 16;
        float value;
        std::memcpy(&value, &bits, sizeof value);
        return value;
    }
    case DType::I64: return double(load<std::int64_t>(tensor, index));
    case DType::I32: return load<std::int32_t>(tensor, index);
    case DType::I16: return load<std::int16_t>(tensor, index);
    case DType::I8: return load<std::int8_t>(tensor, index);
    case DType::U8: return load<std::uint8_t>(tensor, index);
    case DType::Bool: return load<std::uint8_t>(tensor, index);
    }
    return NAN;
}

bool isFloating(DType type)
{
    return type == DType::F64 || type == DType::F32 || type == DType::F16 || type == DType::BF16;
}

QStringList sortedNames(const TensorMap& tensors)
{
    QStringList names;
    for (const auto& [name, tensor] : tensors)
        names << QString::fromStdString(name);
    return names;
}

QString errorOf(const std::string& path)
{
    try {
        readTorchCheckpoint(path);
    } catch (const FormatError& error) {
        return QString::fromUtf8(error.what());
    }
    return {};
}

// A pickle written as a string literal, embedded NULs included.
template <std::size_t N>
QByteArray literal(const char (&text)[N])
{
    return QByteArray(text, N - 1);
}

QString unpickleError(const QByteArray& bytes)
{
    try {
        Unpickler unpickler("test.pkl");
        unpickler.load(reinterpret_cast<const std::uint8_t*>(bytes.constData()),
                       static_cast<std::size_t>(bytes.size()));
    } catch (const FormatError& error) {
        return QString::fromUtf8(error.what());
    }
    return {};
}

}  // namespace

class TestTorchCheckpoint : public QObject {
    Q_OBJECT

private slots:
    void goodCases_data();
    void goodCases();
    void badCases_data();
    void badCases();
    void missingFile();
    void zipReaderReadsZip64();
    void unpicklerBuildsValues();
    void unpicklerSurvivesCycles();
    void unpicklerKeepsMetadataInert();
    void unpicklerRejects_data();
    void unpicklerRejects();

private:
    void compareTensor(const RawTensor& tensor, const QJsonObject& expected);
};

void TestTorchCheckpoint::goodCases_data()
{
    QTest::addColumn<QString>("file");
    QTest::addColumn<QJsonArray>("tensors");
    const QJsonArray cases = manifest().value(QStringLiteral("good")).toArray();
    if (cases.isEmpty())
        QFAIL("no good cases: did the checkpoint_cases fixture run?");
    for (const QJsonValue& value : cases) {
        const QJsonObject c = value.toObject();
        QTest::newRow(qPrintable(c.value(QStringLiteral("name")).toString()))
            << c.value(QStringLiteral("file")).toString() << c.value(QStringLiteral("tensors")).toArray();
    }
}

void TestTorchCheckpoint::goodCases()
{
    QFETCH(QString, file);
    QFETCH(QJsonArray, tensors);
    const TensorMap loaded = readTorchCheckpoint(casePath(file));

    QStringList expectedNames;
    for (const QJsonValue& value : tensors)
        expectedNames << value.toObject().value(QStringLiteral("name")).toString();
    expectedNames.sort();
    QCOMPARE(sortedNames(loaded), expectedNames);

    for (const QJsonValue& value : tensors) {
        const QJsonObject expected = value.toObject();
        const std::string name = expected.value(QStringLiteral("name")).toString().toStdString();
        compareTensor(loaded.at(name), expected);
        if (QTest::currentTestFailed()) {
            qWarning("in tensor %s", name.c_str());
            return;
        }
    }
}

void TestTorchCheckpoint::compareTensor(const RawTensor& tensor, const QJsonObject& expected)
{
    QCOMPARE(QString::fromStdString(dtypeName(tensor.dtype)), expected.value(QStringLiteral("dtype")).toString());
    QList<qint64> shape;
    for (const QJsonValue& extent : expected.value(QStringLiteral("shape")).toArray())
        shape << extent.toInteger();
    QCOMPARE(QList<qint64>(tensor.shape.begin(), tensor.shape.end()), shape);
    const auto numel = static_cast<std::size_t>(expected.value(QStringLiteral("numel")).toInteger());
    QCOMPARE(tensor.bytes.size(), numel * dtypeSize(tensor.dtype));

    const QJsonArray first = expected.value(QStringLiteral("first")).toArray();
    for (qsizetype i = 0; i < first.size(); ++i) {
        if (isFloating(tensor.dtype))
            QCOMPARE(valueAt(tensor, i), first[i].toDouble());
        else if (tensor.dtype == DType::I64)
            QCOMPARE(load<std::int64_t>(tensor, i), first[i].toInteger());
        else
            QCOMPARE(qint64(valueAt(tensor, i)), first[i].toInteger());
    }

    double sum = 0.0;
    double magnitude = 0.0;
    for (std::size_t i = 0; i < numel; ++i) {
        sum += valueAt(tensor, i);
        magnitude += std::fabs(valueAt(tensor, i));
    }
    const double expectedSum = expected.value(QStringLiteral("sum")).toDouble();
    QVERIFY2(std::fabs(sum - expectedSum) <= 1e-12 * magnitude + 1e-300,
             qPrintable(QStringLiteral("sum %1, expected %2").arg(sum).arg(expectedSum)));
}

void TestTorchCheckpoint::badCases_data()
{
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("error");
    QTest::addColumn<QString>("marker");
    const QJsonArray cases = manifest().value(QStringLiteral("bad")).toArray();
    if (cases.isEmpty())
        QFAIL("no bad cases: did the checkpoint_cases fixture run?");
    for (const QJsonValue& value : cases) {
        const QJsonObject c = value.toObject();
        QTest::newRow(qPrintable(c.value(QStringLiteral("name")).toString()))
            << c.value(QStringLiteral("file")).toString() << c.value(QStringLiteral("error")).toString()
            << c.value(QStringLiteral("marker")).toString();
    }
}

void TestTorchCheckpoint::badCases()
{
    QFETCH(QString, file);
    QFETCH(QString, error);
    QFETCH(QString, marker);
    const QString message = errorOf(casePath(file));
    QVERIFY2(!message.isEmpty(), "no FormatError");
    QVERIFY2(message.contains(error), qPrintable(message));
    QVERIFY2(message.startsWith(casesDir()), qPrintable(message));
    QVERIFY(!message.contains(u'\n'));
    if (!marker.isEmpty())
        QVERIFY2(!QFile::exists(marker), "the hostile payload ran");
}

void TestTorchCheckpoint::missingFile()
{
    const QString message = errorOf(casePath(QStringLiteral("no_such_file.pth")));
    QVERIFY2(message.contains(QStringLiteral("cannot open")), qPrintable(message));
}

void TestTorchCheckpoint::zipReaderReadsZip64()
{
    ZipReader zip(casePath(QStringLiteral("zip64.pth")));
    QVERIFY(zip.entries().size() > 2);
    for (const ZipEntry& entry : zip.entries())
        QVERIFY(QString::fromStdString(entry.name).startsWith(QStringLiteral("renamed_top/")));
    const ZipEntry* pickle = zip.find("renamed_top/data.pkl");
    QVERIFY(pickle);
    const std::vector<std::uint8_t> whole = zip.read(*pickle);
    QCOMPARE(whole.size(), pickle->uncompressedSize);
    QCOMPARE(whole.front(), std::uint8_t(0x80));
    std::uint8_t tail[2] = {};
    zip.read(*pickle, whole.size() - 2, tail, 2);
    QCOMPARE(tail[1], std::uint8_t('.'));
    QVERIFY_THROWS_EXCEPTION(FormatError, zip.read(*pickle, whole.size() - 1, tail, 2));
}

void TestTorchCheckpoint::unpicklerBuildsValues()
{
    // pickle.dumps({'a': [1, -2, 3.5, True, None, 'x'], 'b': (2**40, 2**70, -300)}, 2)
    const QByteArray bytes = QByteArray::fromHex(
        "80027d71002858010000006171015d7102284b014afeffffff47400c000000000000884e58010000"
        "007871036558010000006271048a060000000000018a090000000000000000404ad4feffff877105"
        "752e");
    Unpickler unpickler("test.pkl");
    const PickleValue& root = unpickler.load(reinterpret_cast<const std::uint8_t*>(bytes.constData()),
                                             std::size_t(bytes.size()));
    QCOMPARE(root.kind, PickleValue::Kind::Dict);
    QCOMPARE(root.entries.size(), std::size_t(2));
    const PickleValue* list = root.find("a");
    QVERIFY(list && list->kind == PickleValue::Kind::List);
    QCOMPARE(list->items.size(), std::size_t(6));
    QCOMPARE(list->items[0]->integer, 1);
    QCOMPARE(list->items[1]->integer, -2);
    QCOMPARE(list->items[2]->real, 3.5);
    QVERIFY(list->items[3]->boolean);
    QCOMPARE(list->items[4]->kind, PickleValue::Kind::None);
    QCOMPARE(list->items[5]->text, std::string("x"));
    const PickleValue* tuple = root.find("b");
    QVERIFY(tuple && tuple->kind == PickleValue::Kind::Tuple);
    QCOMPARE(tuple->items[0]->integer, std::int64_t(1) << 40);
    QCOMPARE(tuple->items[1]->kind, PickleValue::Kind::BigInt);
    QCOMPARE(tuple->items[2]->integer, -300);
}

void TestTorchCheckpoint::unpicklerSurvivesCycles()
{
    // A list appended to itself through the memo: must load, not loop or leak.
    const QByteArray bytes = QByteArray::fromHex("80025d71006800612e");
    Unpickler unpickler("test.pkl");
    const PickleValue& root = unpickler.load(reinterpret_cast<const std::uint8_t*>(bytes.constData()),
                                             std::size_t(bytes.size()));
    QCOMPARE(root.items.size(), std::size_t(1));
    QCOMPARE(root.items[0], &root);
}

void TestTorchCheckpoint::unpicklerKeepsMetadataInert()
{
    auto load = [](Unpickler& unpickler, const QByteArray& bytes) -> const PickleValue& {
        return unpickler.load(reinterpret_cast<const std::uint8_t*>(bytes.constData()), std::size_t(bytes.size()));
    };
    // pickle.dumps({'args': argparse.Namespace(lr=0.1), 'acc': numpy.float64(0.7)}, 2)
    const QByteArray protocol2 = QByteArray::fromHex(
        "80027d71002858040000006172677371016361726770617273650a4e616d6573706163650a710229"
        "8171037d710458020000006c727105473fb999999999999a736258030000006163637106636e756d"
        "70792e636f72652e6d756c746961727261790a7363616c61720a7107636e756d70790a6474797065"
        "0a7108580200000066387109898887710a52710b284b0358010000003c710c4e4e4e4affffffff4a"
        "ffffffff4b0074710d62635f636f646563730a656e636f64650a710e5809000000666666666666c3"
        "a63f710f58060000006c6174696e317110867111527112867113527114752e");
    Unpickler unpickler("test.pkl");
    const PickleValue& root = load(unpickler, protocol2);
    QCOMPARE(root.kind, PickleValue::Kind::Dict);
    const PickleValue* args = root.find("args");
    QVERIFY(args && args->kind == PickleValue::Kind::Object);
    QCOMPARE(args->text, std::string("argparse.Namespace"));
    const PickleValue* accuracy = root.find("acc");
    QVERIFY(accuracy && accuracy->kind == PickleValue::Kind::Object);
    QCOMPARE(accuracy->text, std::string("numpy.core.multiarray.scalar"));

    // pickle.dumps(numpy.int64(-3), 4): the bytes come as SHORT_BINBYTES.
    const QByteArray protocol4 = QByteArray::fromHex(
        "80049569000000000000008c156e756d70792e636f72652e6d756c74696172726179948c06736361"
        "6c61729493948c056e756d7079948c0564747970659493948c02693894898887945294284b038c01"
        "3c944e4e4e4affffffff4affffffff4b007494624308fdffffffffffffff94869452942e");
    Unpickler unpickler4("test.pkl");
    QCOMPARE(load(unpickler4, protocol4).text, std::string("numpy.core.multiarray.scalar"));

    // What protocols 0 and 1 write for a Namespace, spelled with Python 3 names.
    Unpickler unpickler1("test.pkl");
    const PickleValue& reconstructed = load(
        unpickler1, literal("ccopyreg\n_reconstructor\ncargparse\nNamespace\ncbuiltins\nobject\nN\x87R"
                            "}X\x01\x00\x00\x00"
                            "aK\x01sb."));
    QCOMPARE(reconstructed.kind, PickleValue::Kind::Object);
    QCOMPARE(reconstructed.text, std::string("argparse.Namespace"));
}

void TestTorchCheckpoint::unpicklerRejects_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<QString>("error");
    auto hex = [](const char* text) { return QByteArray::fromHex(text); };
    QTest::newRow("unknown opcode") << QByteArray("\x80\x02I42\n.")
                                    << QStringLiteral("malformed pickle data at byte 2: unsupported opcode 0x49");
    QTest::newRow("stack underflow") << QByteArray("\x80\x02R.") << QStringLiteral("stack underflow");
    QTest::newRow("pop below mark") << QByteArray("\x80\x02N(\x85.") << QStringLiteral("stack underflow");
    QTest::newRow("tuple without mark") << QByteArray("\x80\x02t.") << QStringLiteral("no MARK");
    QTest::newRow("deep nesting") << QByteArray(5000, '(') << QStringLiteral("nested deeper than 1000 levels");
    QTest::newRow("empty") << QByteArray() << QStringLiteral("truncated");
    QTest::newRow("no stop") << QByteArray("\x80\x02N") << QStringLiteral("truncated");
    QTest::newRow("string past the end") << hex("800258ffffff7f616263") << QStringLiteral("truncated");
    QTest::newRow("memo miss") << QByteArray("\x80\x02h\x05.") << QStringLiteral("memo slot 5 is empty");
    QTest::newRow("huge memo index") << hex("80024e72ffffff7f2e") << QStringLiteral("too large");
    QTest::newRow("os.system") << QByteArray("\x80\x02"
                                             "cos\nsystem\nX\x02\x00\x00\x00ls\x85R.",
                                             23)
                               << QStringLiteral("refusing to load: the checkpoint references "
                                                 "the Python global 'os.system' (only tensors "
                                                 "and plain containers are allowed)");
    QTest::newRow("stack global") << hex("8c026f738c0673797374656d932e") << QStringLiteral("'os.system'");
    QTest::newRow("unterminated global") << QByteArray("\x80\x02"
                                                       "ctorch")
                                         << QStringLiteral("unterminated");
    QTest::newRow("call storage type") << QByteArray("ctorch\nFloatStorage\n)R.")
                                       << QStringLiteral("calling torch.FloatStorage");
    QTest::newRow("reduce non-global") << QByteArray("N)R.") << QStringLiteral("REDUCE needs a global");
    QTest::newRow("setitem on list") << QByteArray("]NNs.") << QStringLiteral("SETITEM(S) on a list");
    QTest::newRow("build on list") << QByteArray("]Nb.") << QStringLiteral("BUILD on a list");
    QTest::newRow("copyreg newobj") << QByteArray("ccopyreg\n__newobj__\n.")
                                    << QStringLiteral("global 'copyreg.__newobj__'");
    QTest::newRow("reconstruct ordered dict") << QByteArray("ccopyreg\n_reconstructor\nccollections\nOrderedDict\n"
                                                            "cbuiltins\nobject\nN\x87R.")
                                              << QStringLiteral("unexpected arguments to copyreg._reconstructor");
    QTest::newRow("newobj ordered dict") << QByteArray("ccollections\nOrderedDict\n)\x81.")
                                         << QStringLiteral("creating collections.OrderedDict");
    QTest::newRow("newobj namespace args")
        << QByteArray("cargparse\nNamespace\nN\x85\x81.") << QStringLiteral("arguments to argparse.Namespace");
    QTest::newRow("call object") << QByteArray("cbuiltins\nobject\n)R.")
                                 << QStringLiteral("calling builtins.object is not supported");
    QTest::newRow("call namespace") << QByteArray("cargparse\nNamespace\n)R.")
                                    << QStringLiteral("calling argparse.Namespace");
    QTest::newRow("call object instance")
        << QByteArray("cargparse\nNamespace\n)\x81)R.") << QStringLiteral("REDUCE needs a global");
    QTest::newRow("namespace from list") << QByteArray("cargparse\nNamespace\n)\x81]b.")
                                         << QStringLiteral("BUILD on argparse.Namespace with a list");
    QTest::newRow("build on numpy scalar") << literal("cnumpy.core.multiarray\nscalar\ncnumpy\ndtype\nX\x02\x00\x00\x00"
                                                      "f8"
                                                      "\x89\x88\x87RC\x01x\x86R}b.")
                                           << QStringLiteral("BUILD on numpy.core.multiarray.scalar with a dict");
    QTest::newRow("numpy scalar of text")
        << literal("cnumpy.core.multiarray\nscalar\nX\x00\x00\x00\x00X\x00\x00\x00\x00\x86R.")
        << QStringLiteral("unexpected arguments to numpy.core.multiarray.scalar");
    QTest::newRow("encode ints") << QByteArray("c_codecs\nencode\nK\x01K\x02\x86R.")
                                 << QStringLiteral("unexpected arguments to _codecs.encode");
    QTest::newRow("bytes past the end") << hex("800242ffffffff61") << QStringLiteral("truncated");
    QTest::newRow("bad persistent id") << QByteArray("NQ.") << QStringLiteral("persistent id");
    QTest::newRow("ordered dict args") << QByteArray("ccollections\nOrderedDict\n]\x85R.")
                                       << QStringLiteral("with arguments");
}

void TestTorchCheckpoint::unpicklerRejects()
{
    QFETCH(QByteArray, bytes);
    QFETCH(QString, error);
    const QString message = unpickleError(bytes);
    QVERIFY2(message.startsWith(QStringLiteral("test.pkl: ")), qPrintable(message));
    QVERIFY2(message.contains(error), qPrintable(message));
}

QTEST_APPLESS_MAIN(TestTorchCheckpoint)
#include "tst_torchcheckpoint.moc"
