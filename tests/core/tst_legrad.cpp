// LeGrad against the authors' own code (tests/fixtures/text/legrad_clip and legrad_siglip,
// made by tests/scripts/make_legrad_fixture.py and make_legrad_siglip_fixture.py running
// WalBouss/LeGrad's compute_legrad_clip on a small open_clip CLIP and compute_legrad_siglip
// on a small open_clip SigLIP with a timm trunk): the map of each prompt, with the last two
// blocks summed (the authors' default) and with every block; then the method through the
// method table.
#include "referencedata.h"

#include "core/engine/engineerror.h"
#include "core/engine/methods/legrad.h"
#include "core/engine/methods/methodtable.h"
#include "core/engine/model/classifier.h"
#include "core/engine/vit/vit.h"

#include <QtTest>

#include <filesystem>

using namespace attnviz;
using testing::loadReference;

namespace {

const std::string kText = ATTNVIZ_TEXT_FIXTURES;
const std::vector<std::string> kPrompts{"a photo of a cat", "a drawing of a dog", "tench"};

// A fixture's CLIP or SigLIP, its prompts (the reference's text embeddings) as its classes.
std::unique_ptr<engine::Classifier> promptedClip(const std::map<std::string, torch::Tensor>& ref,
                                                 const std::string& folder = "legrad_clip")
{
    auto model = engine::loadClassifier(kText + folder);
    dynamic_cast<engine::VisionTransformer&>(*model).setPromptClasses(ref.at("text.embeds"), kPrompts);
    return model;
}

double maxDiff(const torch::Tensor& a, const torch::Tensor& b)
{
    return (a - b).abs().max().item<double>();
}

}  // namespace

class TestLeGrad : public QObject {
    Q_OBJECT

private slots:
    void matchesTheAuthorsCode_data()
    {
        QTest::addColumn<QString>("folder");
        QTest::addColumn<int>("start");
        QTest::addColumn<QString>("key");
        QTest::newRow("CLIP, last two blocks (default)") << "legrad_clip" << -1 << "legrad.last2";
        QTest::newRow("CLIP, every block") << "legrad_clip" << 0 << "legrad.all";
        // the attention pool's attention, the blocks' outputs read without the final norm
        QTest::newRow("SigLIP, last two blocks (default)") << "legrad_siglip" << -1 << "legrad.last2";
        QTest::newRow("SigLIP, every block") << "legrad_siglip" << 0 << "legrad.all";
    }

    void matchesTheAuthorsCode()
    {
        QFETCH(QString, folder);
        QFETCH(int, start);
        QFETCH(QString, key);
        const auto ref = loadReference(kText + folder.toStdString() + ".ref.safetensors");
        const auto model = promptedClip(ref, folder.toStdString());
        const auto expected = ref.at(key.toStdString());  // [P, 8, 8]
        for (int p = 0; p < int(kPrompts.size()); ++p) {
            const auto ours = engine::legrad(*model, ref.at("image.input"), p, start);
            QCOMPARE(ours.classIndex, p);
            const double diff = maxDiff(ours.maps[0], expected[p]);
            QVERIFY2(diff <= 1e-5, qPrintable(QStringLiteral("prompt %1 differs by %2").arg(p).arg(diff)));
        }
        // not a map any prompt would give: the prompts' maps differ
        QVERIFY(maxDiff(expected[0], expected[1]) > 0.05);
    }

    // The authors' default for SigLIP: the cells where "a photo of a" maps above 0.8 are
    // zeroed. A SigLIP whose tokenizer is beside it carries that prompt's embedding from the
    // moment it loads (the reference's to 1e-5), whoever gives it prompts later, and LeGrad
    // corrects with it; without the tokenizer (the fixture's own folder) it carries none.
    void correctsASiglipWithTheNeutralPrompt()
    {
        const auto ref = loadReference(kText + "legrad_siglip.ref.safetensors");
        QTemporaryDir dir;
        const std::filesystem::path folder = dir.path().toStdString();
        std::filesystem::copy(kText + "legrad_siglip", folder);
        std::filesystem::copy_file(kText + "siglip_spm/spiece.model", folder / "spiece.model");
        auto model = engine::loadClassifier(folder.string());
        auto& vit = dynamic_cast<engine::VisionTransformer&>(*model);
        const auto neutral = vit.neutralPrompt();
        QVERIFY(neutral.defined());
        QVERIFY(maxDiff(neutral / neutral.norm(), ref.at("text.neutral")[0]) <= 1e-5);
        QVERIFY(!dynamic_cast<const engine::VisionTransformer&>(*promptedClip(ref, "legrad_siglip"))
                     .neutralPrompt()
                     .defined());
        vit.setPromptClasses(ref.at("text.embeds"), kPrompts);
        const auto expected = ref.at("legrad.corrected");
        for (int p = 0; p < int(kPrompts.size()); ++p) {
            const auto ours = engine::legrad(*model, ref.at("image.input"), p);
            const double diff = maxDiff(ours.maps[0], expected[p]);
            QVERIFY2(diff <= 1e-5, qPrintable(QStringLiteral("prompt %1 differs by %2").arg(p).arg(diff)));
            QVERIFY(ours.maps[0].eq(0).sum().item<int64_t>() > 1);  // cells were zeroed, not only the minimum
        }
    }

    // Through the method table as the CLI and the window ask: the default is the last two
    // blocks, labelled by the first; the class is the trace's top-1 unless one is asked for.
    void isAViewOfThePromptAsked()
    {
        const auto ref = loadReference(kText + "legrad_clip.ref.safetensors");
        const auto model = promptedClip(ref);
        torch::NoGradGuard noGrad;
        const auto trace = model->forward(ref.at("image.input"));
        engine::ViewRequest request;
        request.method = engine::viewMethodFromName("legrad");
        request.classIndex = 1;
        const auto view = engine::computeView(*model, trace, request);
        QCOMPARE(view.layers, std::vector<std::string>{"from 1"});
        QCOMPARE(*view.classIndex, 1);
        QVERIFY(maxDiff(view.maps[0][0], ref.at("legrad.last2")[1]) <= 1e-5);
        request.classIndex = -1;
        const auto top = engine::computeView(*model, trace, request);
        QCOMPARE(int64_t(*top.classIndex), trace.logits.argmax().item<int64_t>());
        request.layer = engine::LayerSelector::block(0);
        QVERIFY(maxDiff(engine::computeView(*model, trace, request).maps[0][0], ref.at("legrad.all")[*top.classIndex])
                <= 1e-5);
    }

    void refusesWhatItCannotExplain()
    {
        const auto ref = loadReference(kText + "legrad_clip.ref.safetensors");
        const auto bare = engine::loadClassifier(kText + "legrad_clip");  // no prompts: no class
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::legrad(*bare, ref.at("image.input"), 0));
        const auto model = promptedClip(ref);
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::legrad(*model, ref.at("image.input"), 3));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::legrad(*model, ref.at("image.input"), 0, 3));
        // a SigLIP with neither a classifier nor prompts: one line, not a crash
        const auto siglip = engine::loadClassifier(kText + "legrad_siglip");
        try {
            engine::legrad(*siglip, ref.at("image.input"), 0);
            QFAIL("a model without classes was explained");
        } catch (const engine::EngineError& e) {
            QVERIFY2(std::string(e.what()).find("has no classes") != std::string::npos, e.what());
        }
    }
};

QTEST_APPLESS_MAIN(TestLeGrad)
#include "tst_legrad.moc"
