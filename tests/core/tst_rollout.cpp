// Attention rollout against a plain-PyTorch reference written from Abnar & Zuidema's
// definition (tests/scripts/rollout_reference.py), on non-symmetric attention: random
// rows with CLS + 2 register tokens, random rows without prefix tokens, and the real
// attention of a small torchvision ViT. Uniform attention cannot tell a row
// normalisation from a column one, or R·Â from Â·R; these cases can.
#include "core/engine/methods/rollout.h"
#include "core/engine/model/classifier.h"
#include "core/engine/tensorconvert.h"
#include "core/io/safetensors.h"

#include <QtTest>

#include <cmath>
#include <map>
#include <stdexcept>

using namespace attnviz;

namespace {

const std::string kData = ATTNVIZ_TEST_DATA "/rollout/";

struct Cases {
    std::map<std::string, torch::Tensor> tensors;

    const torch::Tensor& at(const std::string& name) const
    {
        const auto it = tensors.find(name);
        if (it == tensors.end())
            throw std::runtime_error("no '" + name + "' in rollout_cases.safetensors");
        return it->second;
    }
    std::vector<torch::Tensor> attentions(const std::string& set) const
    {
        std::vector<torch::Tensor> out;
        while (tensors.count(set + ".attn." + std::to_string(out.size())))
            out.push_back(at(set + ".attn." + std::to_string(out.size())));
        return out;
    }
};

const Cases& cases()
{
    static const Cases loaded = [] {
        Cases c;
        for (const auto& [name, raw] : io::readSafetensors(kData + "rollout_cases.safetensors").tensors)
            c.tensors[name] = engine::toTorch(raw);
        return c;
    }();
    return loaded;
}

engine::TokenLayout layout(bool cls, int registers, int gh, int gw, int patch)
{
    engine::TokenLayout l;
    l.hasCls = cls;
    l.regTokens = registers;
    l.gridH = gh;
    l.gridW = gw;
    l.patchSize = patch;
    return l;
}

engine::RolloutOptions options(const std::string& fusion, double discard, int start)
{
    engine::RolloutOptions o;
    o.fusion = engine::headFusionFromName(fusion);
    o.discardRatio = discard;
    o.startLayer = start;
    return o;
}

// The reference map's name, as the script writes it.
std::string caseName(const std::string& set, const std::string& fusion, double discard, int start)
{
    return set + "." + fusion + ".d" + std::to_string(int(std::lround(discard * 100))) + ".s" + std::to_string(start);
}

// float32 output against a float64 reference computed from the same attention.
void compareMaps(const torch::Tensor& got, const torch::Tensor& expected, double rtol, const std::string& what)
{
    QCOMPARE(got.sizes(), expected.sizes());
    const auto g = got.to(torch::kFloat64);
    const double error = ((g - expected).abs() / expected.abs().clamp_min(1e-12)).max().item<double>();
    QVERIFY2(error <= rtol,
             qPrintable(QStringLiteral("%1: largest relative error %2").arg(QString::fromStdString(what)).arg(error)));
}

void addRows(const char* set)
{
    for (const char* fusion : {"mean", "max", "min"})
        for (double discard : {0.0, 0.5})
            for (int start : {0, 2}) {
                const auto name = caseName(set, fusion, discard, start);
                QTest::newRow(name.c_str()) << QString::fromLatin1(fusion) << discard << start;
            }
}

}  // namespace

class TestRollout : public QObject {
    Q_OBJECT

private slots:
    void randomAttentionWithRegisters_data()
    {
        QTest::addColumn<QString>("fusion");
        QTest::addColumn<double>("discard");
        QTest::addColumn<int>("start");
        addRows("random");
    }

    void randomAttentionWithRegisters()
    {
        QFETCH(QString, fusion);
        QFETCH(double, discard);
        QFETCH(int, start);
        const auto attentions = cases().attentions("random");
        QCOMPARE(attentions.size(), std::size_t(4));
        const auto l = layout(true, 2, 3, 5, 16);
        const auto name = caseName("random", fusion.toStdString(), discard, start);
        const auto map = engine::attentionRollout(attentions, l, options(fusion.toStdString(), discard, start));
        compareMaps(map, cases().at(name), 1e-6, name);
    }

    void randomAttentionWithoutCls_data()
    {
        QTest::addColumn<double>("discard");
        QTest::newRow("discard 0") << 0.0;
        QTest::newRow("discard 0.5") << 0.5;
    }

    void randomAttentionWithoutCls()
    {
        QFETCH(double, discard);
        const auto attentions = cases().attentions("random_nocls");
        QCOMPARE(attentions.size(), std::size_t(3));
        const auto name = caseName("random_nocls", "mean", discard, 0);
        const auto map = engine::attentionRollout(attentions, layout(false, 0, 3, 5, 16), options("mean", discard, 0));
        compareMaps(map, cases().at(name), 1e-6, name);
    }

    void torchvisionVitAttention_data()
    {
        QTest::addColumn<QString>("fusion");
        QTest::addColumn<double>("discard");
        QTest::addColumn<int>("start");
        addRows("vit");
    }

    void torchvisionVitAttention()
    {
        QFETCH(QString, fusion);
        QFETCH(double, discard);
        QFETCH(int, start);
        const auto name = caseName("vit", fusion.toStdString(), discard, start);
        const auto opts = options(fusion.toStdString(), discard, start);
        // On the attention PyTorch recorded: the same inputs as the reference.
        const auto recorded = cases().attentions("vit");
        QCOMPARE(recorded.size(), std::size_t(4));
        const auto l = layout(true, 0, 8, 8, 8);
        compareMaps(engine::attentionRollout(recorded, l, opts), cases().at(name), 1e-6, name);
        // On attnviz's own forward pass of the same checkpoint and input: the attention
        // agrees to float32 rounding (maps within ~1e-6 here; 1e-4 leaves room for other
        // BLAS libraries and devices).
        static const auto trace = engine::loadClassifier(kData + "tv_vit_small.pth")->forward(cases().at("vit.input"));
        QCOMPARE(trace.tokens.prefixTokens(), 1);
        QCOMPARE(trace.tokens.gridH, 8);
        for (std::size_t b = 0; b < recorded.size(); ++b)
            QVERIFY(torch::allclose(trace.attention.matrix(int(b)), recorded[b], 1e-4, 1e-6));
        compareMaps(engine::attentionRollout(trace.attention, trace.tokens, opts), cases().at(name), 1e-4,
                    name + " (own forward)");
    }
};

QTEST_APPLESS_MAIN(TestRollout)
#include "tst_rollout.moc"
