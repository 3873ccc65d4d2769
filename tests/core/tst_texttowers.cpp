// CLIP's and SigLIP's text towers against the real open_clip (tests/fixtures/text, made by
// tests/scripts/make_text_tower_fixtures.py with open_clip's CLIP and CustomTextCLIP): the
// token ids our tokenizers give the fixture's prompts, the text embeddings, the image
// embedding beside them and the image-text scores, for open_clip's and HF's layouts; and
// open_clip's HFTextEncoder with an XLM-RoBERTa against open_clip's own code over
// transformers' XLM-RoBERTa written out (make_xlmr_text_fixture.py).
#include "referencedata.h"

#include "core/engine/engineerror.h"
#include "core/engine/methods/genericattention.h"
#include "core/engine/model/classifier.h"
#include "core/engine/model/predictions.h"
#include "core/engine/text/cliptokenizer.h"
#include "core/engine/text/prompts.h"
#include "core/engine/text/sentencepiecetokenizer.h"
#include "core/engine/vit/vit.h"
#include "core/io/checkpointfile.h"
#include "core/io/safetensors.h"

#include <nlohmann/json.hpp>

#include <QtTest>

#include <fstream>

using namespace attnviz;
using testing::loadReference;
using testing::relativeDiff;

namespace {

const std::string kText = ATTNVIZ_TEXT_FIXTURES;
const std::string kVit = ATTNVIZ_VIT_FIXTURES;
const std::vector<std::string> kPrompts{"a photo of a cat", "a photo of a dog.", "A Drawing Of A Goldfish!", "tench"};
// the fixture script's zero-shot classes
const std::vector<std::string> kLabels{"cat", "dog", "goldfish", "tench", "church"};
const std::vector<std::string> kTemplates{"a photo of a {}.", "a drawing of a {}.", "itap of my {}."};

// The tokenizer files of the fixtures: beside the test's vocabularies, not the models.
engine::text::Tokenizer tokenizerFor(bool siglip)
{
    if (siglip)
        return engine::text::SentencePieceTokenizer(kText + "siglip_spm/spiece.model");
    return engine::text::ClipTokenizer(
        engine::text::readOpenClipVocabulary(kText + "clip_bpe/bpe_simple_vocab_16e6.txt.gz"));
}

std::vector<int64_t> row(const torch::Tensor& ids, int64_t i)
{
    const auto r = ids[i].contiguous();
    return {r.data_ptr<int64_t>(), r.data_ptr<int64_t>() + r.numel()};
}

// Our tokenizer's ids for the prompts: CLIP's from open_clip's vocabulary file (so that it
// pads with zeros, as open_clip does), SigLIP's from the SentencePiece model.
torch::Tensor ourIds(bool siglip)
{
    std::vector<int64_t> all;
    for (const auto& prompt : kPrompts) {
        const auto ids = siglip
                             ? engine::text::SentencePieceTokenizer(kText + "siglip_spm/spiece.model").tokenize(prompt)
                             : engine::text::ClipTokenizer(engine::text::readOpenClipVocabulary(
                                                               kText + "clip_bpe/bpe_simple_vocab_16e6.txt.gz"))
                                   .tokenize(prompt);
        all.insert(all.end(), ids.begin(), ids.end());
    }
    return torch::tensor(all).view({int64_t(kPrompts.size()), -1});
}

const engine::VisionTransformer& asViT(const engine::Classifier& model)
{
    return dynamic_cast<const engine::VisionTransformer&>(model);
}

}  // namespace

class TestTextTowers : public QObject {
    Q_OBJECT

private slots:
    void matchOpenClip_data()
    {
        QTest::addColumn<QString>("folder");
        QTest::addColumn<QString>("reference");
        QTest::addColumn<QString>("layout");
        QTest::addColumn<bool>("siglip");
        QTest::newRow("open_clip CLIP") << "openclip_clip"
                                        << "openclip_clip"
                                        << "open_clip" << false;
        QTest::newRow("HF CLIPModel") << "hf_clip_text"
                                      << "openclip_clip"
                                      << "HF CLIP" << false;
        QTest::newRow("open_clip SigLIP text (CustomTextCLIP)") << "openclip_siglip"
                                                                << "openclip_siglip"
                                                                << "open_clip" << true;
        QTest::newRow("HF SiglipModel") << "hf_siglip_text"
                                        << "hf_siglip_text"
                                        << "HF SigLIP" << true;
    }

    void matchOpenClip()
    {
        QFETCH(QString, folder);
        QFETCH(QString, reference);
        QFETCH(QString, layout);
        QFETCH(bool, siglip);
        const auto model = engine::loadClassifier(kText + folder.toStdString());
        const auto& warnings = model->spec().warnings;
        QVERIFY2(warnings.empty(), warnings.empty() ? "" : warnings.front().c_str());
        const auto* tower = asViT(*model).textTower();
        QVERIFY(tower);
        QCOMPARE(QString::fromStdString(tower->spec().layout), layout);
        QCOMPARE(tower->spec().causal, !siglip);
        QVERIFY((tower->spec().score == engine::text::TextScore::Sigmoid) == siglip);

        const auto ref = loadReference(kText + reference.toStdString() + ".ref.safetensors");
        const auto ids = ourIds(siglip);
        for (int64_t i = 0; i < ids.size(0); ++i)
            QVERIFY2(row(ids, i) == row(ref.at("text.ids"), i), kPrompts[std::size_t(i)].c_str());

        const auto texts = tower->embed(ids);
        const double textDiff = relativeDiff(texts, ref.at("text.embeds"));
        QVERIFY2(textDiff <= 1e-5, qPrintable(QStringLiteral("text embeddings differ by %1 (relative)").arg(textDiff)));
        const auto image = model->forward(ref.at("image.input")).embedding;
        const double imageDiff = relativeDiff(image, ref.at("image.embed"));
        QVERIFY2(imageDiff <= 1e-5, qPrintable(QStringLiteral("image embedding differs by %1").arg(imageDiff)));
        const auto scores = tower->scores(image, texts);
        const double scoreDiff = relativeDiff(scores, ref.at("text.scores"));
        QVERIFY2(scoreDiff <= 1e-5, qPrintable(QStringLiteral("scores differ by %1 (relative)").arg(scoreDiff)));
        QCOMPARE(scores.argmax().item<int64_t>(), ref.at("text.scores").argmax().item<int64_t>());
    }

    // open_clip's TimmModel (a timm trunk under visual.trunk.) keeps its text tower: the
    // open_clip SigLIP fixture's text half beside timm's SigLIP trunk reads as it does in its
    // own folder and embeds the prompts as open_clip did. The trunk's keys are stripped, the
    // text tower's are not.
    void openClipTimmTrunkKeepsItsTextTower()
    {
        QTemporaryDir folder;
        QVERIFY(folder.isValid());
        const auto dir = folder.path().toStdString() + "/";
        io::TensorMap tensors;
        for (auto& [key, raw] : io::loadCheckpoint(kText + "openclip_siglip").tensors)
            if (key.rfind("visual.", 0) != 0)
                tensors[key] = raw;
        for (auto& [key, raw] : io::readSafetensors(kVit + "timm_siglip/model.safetensors").tensors)
            tensors["visual.trunk." + key] = raw;
        io::writeSafetensors(dir + "open_clip_model.safetensors", tensors);
        auto config = nlohmann::json::parse(std::ifstream(kText + "openclip_siglip/open_clip_config.json"));
        config["model_cfg"]["vision_cfg"] = {{"image_size", 64},
                                             {"timm_model_name", "vit_base_patch16_siglip_224"},
                                             {"timm_pool", "map"},
                                             {"timm_proj", "none"}};
        std::ofstream(dir + "open_clip_config.json") << config.dump();

        engine::LoadOptions options;
        options.heads = 4;
        const auto model = engine::loadClassifier(dir, options);
        const auto& warnings = model->spec().warnings;
        QVERIFY2(warnings.empty(), warnings.empty() ? "" : warnings.front().c_str());
        const auto* tower = asViT(*model).textTower();
        QVERIFY(tower);
        QCOMPARE(QString::fromStdString(tower->spec().layout), QStringLiteral("open_clip"));
        const auto ref = loadReference(kText + "openclip_siglip.ref.safetensors");
        const double diff = relativeDiff(tower->embed(ourIds(true)), ref.at("text.embeds"));
        QVERIFY2(diff <= 1e-5, qPrintable(QStringLiteral("text embeddings differ by %1 (relative)").arg(diff)));
    }

    // A folder that names its zero-shot classes (open_clip_config.json's "zero_shot") opens
    // as a classifier over them: the logits open_clip's zero-shot classifier gives. Without
    // its tokenizer it still opens, with one warning and no classes; a template without {}
    // is a one-line refusal.
    void folderNamesItsZeroShotClasses()
    {
        QTemporaryDir folder;
        QVERIFY(folder.isValid());
        const auto dir = folder.path().toStdString() + "/";
        const auto source = kText + "openclip_clip/";
        QVERIFY(QFile::copy(QString::fromStdString(source + "open_clip_pytorch_model.bin"),
                            QString::fromStdString(dir + "open_clip_pytorch_model.bin")));
        auto config = nlohmann::json::parse(std::ifstream(source + "open_clip_config.json"));
        config["zero_shot"] = {{"labels", kLabels}, {"templates", kTemplates}};
        std::ofstream(dir + "open_clip_config.json") << config.dump();

        const auto bare = engine::loadClassifier(dir);
        QCOMPARE(bare->spec().numClasses, 0);
        QCOMPARE(int(bare->spec().warnings.size()), 1);
        QVERIFY2(bare->spec().warnings[0].find("zero_shot classes not made: no CLIP tokenizer") == 0,
                 bare->spec().warnings[0].c_str());

        QVERIFY(QFile::copy(QString::fromStdString(kText + "clip_bpe/bpe_simple_vocab_16e6.txt.gz"),
                            QString::fromStdString(dir + "bpe_simple_vocab_16e6.txt.gz")));
        const auto model = engine::loadClassifier(dir);
        QVERIFY(model->spec().warnings.empty());
        QCOMPARE(model->spec().numClasses, int(kLabels.size()));
        QVERIFY(model->spec().labels == kLabels);
        const auto ref = loadReference(kText + "openclip_clip.ref.safetensors");
        const double diff = relativeDiff(model->forward(ref.at("image.input")).logits[0], ref.at("zeroshot.logits"));
        QVERIFY2(diff <= 1e-5, qPrintable(QStringLiteral("logits differ by %1 (relative)").arg(diff)));

        config["zero_shot"]["templates"] = {"a photo"};
        std::ofstream(dir + "open_clip_config.json") << config.dump();
        QString message;
        try {
            engine::loadClassifier(dir);
        } catch (const std::exception& e) {
            message = QString::fromUtf8(e.what());
        }
        QVERIFY2(message.contains(QStringLiteral("zero-shot template 'a photo' has no {}"))
                     && !message.contains(QLatin1Char('\n')),
                 qPrintable(message));
    }

    void zeroShotClassesMatchOpenClip_data() { matchOpenClip_data(); }

    // Labels under templates as classes (open_clip's build_zero_shot_classifier), and the
    // model's logits against them; then a class-based method runs on them like on any class.
    void zeroShotClassesMatchOpenClip()
    {
        QFETCH(QString, folder);
        QFETCH(QString, reference);
        QFETCH(bool, siglip);
        auto model = engine::loadClassifier(kText + folder.toStdString());
        auto& vit = dynamic_cast<engine::VisionTransformer&>(*model);
        engine::text::PromptEncoder prompts(*vit.textTower(), tokenizerFor(siglip));
        const auto ref = loadReference(kText + reference.toStdString() + ".ref.safetensors");
        const auto classes = prompts.classEmbeddings(kLabels, kTemplates);
        const double classDiff = relativeDiff(classes, ref.at("zeroshot.classes"));
        QVERIFY2(classDiff <= 1e-5, qPrintable(QStringLiteral("class embeddings differ by %1").arg(classDiff)));
        vit.setPromptClasses(classes, kLabels);
        QCOMPARE(model->spec().numClasses, 5);
        QCOMPARE(model->spec().labels[4], std::string("church"));
        // hf_clip_text shares openclip_clip's weights but not its image: only the classes compare
        if (folder == QLatin1String("hf_clip_text"))
            return;
        const auto trace = model->forward(ref.at("image.input"));
        const auto logits = trace.logits[0];
        // the trace keeps the image embedding: other classes are scored from it, as the window does
        QVERIFY(torch::allclose(vit.promptLogits(trace.embedding), trace.logits, 1e-6, 1e-6));
        const double logitDiff = relativeDiff(logits, ref.at("zeroshot.logits"));
        QVERIFY2(logitDiff <= 1e-5, qPrintable(QStringLiteral("logits differ by %1 (relative)").arg(logitDiff)));
        QCOMPARE(logits.argmax().item<int64_t>(), ref.at("zeroshot.logits").argmax().item<int64_t>());
        // the predictions' probabilities: SigLIP's sigmoid of each score, CLIP's softmax over them
        QCOMPARE(model->spec().sigmoidScores, siglip);
        const auto top = engine::topK(logits.unsqueeze(0), model->spec(), 1).front();
        const auto scores = logits.to(torch::kFloat64);
        const double expected = siglip ? torch::sigmoid(scores[top.index]).item<double>()
                                       : torch::softmax(scores, 0)[top.index].item<double>();
        QVERIFY(std::abs(top.probability - expected) <= 1e-12);
        // A gradient view explains a prompt: the score's gradient reaches the attention
        // through the text tower's cosine, and another prompt gives another map.
        const auto explained = engine::genericAttention(*model, ref.at("image.input"), -1);
        QCOMPARE(int64_t(explained.classIndex), logits.argmax().item<int64_t>());
        const auto other = engine::genericAttention(*model, ref.at("image.input"), (explained.classIndex + 1) % 5);
        QVERIFY(torch::isfinite(explained.maps[0]).all().item<bool>() && explained.maps[0].max().item<float>() > 0);
        QVERIFY(!torch::allclose(explained.maps[0], other.maps[0]));
    }

    // Generic attention of a prompt against Chefer et al.'s own CLIP notebook
    // (CLIP_explainability.ipynb's interpret(), run on their CLIP model by
    // tests/scripts/make_clip_explainability_fixture.py): each prompt's image relevance, from
    // the last block (the notebook's default) and from every block.
    void genericAttentionMatchesChefersClipNotebook()
    {
        const auto ref = loadReference(kText + "chefer_clip.ref.safetensors");
        auto model = engine::loadClassifier(kText + "chefer_clip");
        dynamic_cast<engine::VisionTransformer&>(*model).setPromptClasses(ref.at("text.embeds"),
                                                                          {"cat", "dog", "tench"});
        for (const auto& [key, start] : {std::pair<std::string, int>{"generic.last", 1}, {"generic.all", 0}})
            for (int p = 0; p < 3; ++p) {
                const auto ours = engine::genericAttention(*model, ref.at("image.input"), p, start);
                const double diff = relativeDiff(ours.maps[0], ref.at(key)[p]);
                QVERIFY2(diff <= 1e-5, qPrintable(QStringLiteral("%1, prompt %2: differs by %3 (relative)")
                                                      .arg(QString::fromStdString(key))
                                                      .arg(p)
                                                      .arg(diff)));
            }
        QVERIFY(relativeDiff(ref.at("generic.all")[0], ref.at("generic.all")[1]) > 0.01);  // the prompts differ
    }

    void promptsAreCachedAndRefusedWithOneLine()
    {
        const auto model = engine::loadClassifier(kText + "openclip_clip");
        const auto& tower = *asViT(*model).textTower();
        engine::text::PromptEncoder prompts(tower, tokenizerFor(false));
        const auto once = prompts.embed({"a dog", "a cat"});
        QVERIFY(torch::equal(prompts.embed({"a cat"})[0], once[1]));
        const auto expectError = [&](const std::vector<std::string>& texts, const char* part) {
            try {
                prompts.embed(texts);
                QFAIL("no error");
            } catch (const engine::EngineError& e) {
                const std::string what = e.what();
                QVERIFY2(what.find(part) != std::string::npos && what.find('\n') == std::string::npos, e.what());
            }
        };
        expectError({"   "}, "an empty prompt asks for nothing");
        std::string longPrompt;
        for (int i = 0; i < 80; ++i)
            longPrompt += "cat ";
        expectError({longPrompt}, "is 82 tokens; the text tower reads 77");
        // the fixture folders hold no tokenizer files
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::text::findTokenizer(tower, kText + "openclip_clip"));
        const auto siglip = engine::loadClassifier(kText + "hf_siglip_text");
        try {
            engine::text::findTokenizer(*asViT(*siglip).textTower(), kText + "hf_siglip_text");
            QFAIL("no error");
        } catch (const engine::EngineError& e) {
            QVERIFY2(std::string(e.what()).find("put its SentencePiece model spiece.model beside the weights")
                         != std::string::npos,
                     e.what());
        }
        QCOMPARE(QString::fromStdString(engine::text::fillTemplate("a {} and a {}.", "cat")),
                 QStringLiteral("a cat and a cat."));
    }

    // open_clip's HFTextEncoder with an XLM-RoBERTa, as in the LAION multilingual CLIPs:
    // the folder's own tokenizer (sentencepiece.bpe.model), the ids open_clip's HFTokenizer
    // gave, the masked-mean text embeddings, the scores and the zero-shot classes.
    void openClipXlmRobertaTextEncoder()
    {
        const auto folder = kText + "openclip_xlmr";
        const auto model = engine::loadClassifier(folder);
        const auto& warnings = model->spec().warnings;
        QVERIFY2(warnings.empty(), warnings.empty() ? "" : warnings.front().c_str());
        const auto* tower = asViT(*model).textTower();
        QVERIFY(tower);
        const auto& spec = tower->spec();
        QCOMPARE(QString::fromStdString(spec.layout), QStringLiteral("open_clip HFTextEncoder xlm-roberta-base"));
        QCOMPARE(spec.heads, 2);  // 128 wide: BERT's 64-wide heads
        QCOMPARE(spec.layers, 2);
        QCOMPARE(spec.context, 77);
        QVERIFY(!spec.causal);

        engine::text::PromptEncoder prompts(*tower, engine::text::findTokenizer(*tower, folder));
        const auto ref = loadReference(kText + "openclip_xlmr.ref.safetensors");
        auto texts = kPrompts;
        texts.insert(texts.end(), {"une photo d'un chat", "ein Foto eines Hundes"});
        QVERIFY(torch::equal(prompts.ids(texts), ref.at("text.ids")));
        const auto embeds = prompts.embed(texts);
        const double textDiff = relativeDiff(embeds, ref.at("text.embeds"));
        QVERIFY2(textDiff <= 1e-5, qPrintable(QStringLiteral("text embeddings differ by %1 (relative)").arg(textDiff)));
        const auto image = model->forward(ref.at("image.input")).embedding;
        QVERIFY(relativeDiff(image, ref.at("image.embed")) <= 1e-5);
        const double scoreDiff = relativeDiff(tower->scores(image, embeds), ref.at("text.scores"));
        QVERIFY2(scoreDiff <= 1e-5, qPrintable(QStringLiteral("scores differ by %1 (relative)").arg(scoreDiff)));

        const auto classes = prompts.classEmbeddings(kLabels, kTemplates);
        QVERIFY(relativeDiff(classes, ref.at("zeroshot.classes")) <= 1e-5);
        const auto logits = tower->scores(image, classes);
        QVERIFY(relativeDiff(logits, ref.at("zeroshot.logits")) <= 1e-5);
        QCOMPARE(logits.argmax().item<int64_t>(), ref.at("zeroshot.logits").argmax().item<int64_t>());
    }

    // HFTextEncoders attnviz does not read are one warning each, and the image tower loads;
    // an XLM-RoBERTa without its tokenizer file is one line naming it.
    void otherHfTextEncodersAreWarnings()
    {
        const auto checkpoint = io::loadCheckpoint(kText + "openclip_xlmr");
        const auto warningOf = [&](const io::TensorMap& tensors, const io::ModelConfig& config) {
            const auto model = engine::buildClassifier(tensors, config);
            if (asViT(*model).textTower() || model->spec().warnings.size() != 1)
                return std::string("no single warning");
            return model->spec().warnings[0];
        };
        const auto expect = [](const std::string& warning, const char* part) {
            QVERIFY2(warning.find(part) != std::string::npos && warning.find('\n') == std::string::npos,
                     warning.c_str());
        };
        auto config = checkpoint.config;
        config.text.hfModelName = "roberta-base";
        expect(warningOf(checkpoint.tensors, config), "needs RoBERTa's byte-level BPE tokenizer");
        config.text.hfModelName = "google/mt5-base";
        expect(warningOf(checkpoint.tensors, config), "is not a RoBERTa or XLM-RoBERTa encoder");
        config = checkpoint.config;
        config.text.contextLength = 100;
        expect(warningOf(checkpoint.tensors, config),
               "a context of 100 tokens needs 102 positions; the text tower has 80");
        config.text.contextLength.reset();
        config.text.hfPooler = "max_pooler";
        expect(warningOf(checkpoint.tensors, config), "hf_pooler_type 'max_pooler' is not supported");
        auto t5 = checkpoint.tensors;  // an encoder of another family: T5's names
        t5["text.transformer.encoder.block.0.layer.0.SelfAttention.q.weight"] = t5.at(
            "text.transformer.embeddings.word_embeddings.weight");
        t5.erase("text.transformer.embeddings.word_embeddings.weight");
        expect(warningOf(t5, checkpoint.config), "neither open_clip's own nor a RoBERTa-family");

        const auto model = engine::loadClassifier(kText + "openclip_xlmr");
        try {
            engine::text::findTokenizer(*asViT(*model).textTower(), kText + "openclip_clip");
            QFAIL("no error");
        } catch (const engine::EngineError& e) {
            expect(e.what(), "no XLM-RoBERTa tokenizer in");
            expect(e.what(), "put its SentencePiece model sentencepiece.bpe.model beside the weights");
        }
    }

    // A text tower the loader cannot use is one warning; the image tower still loads.
    void unusableTextTowersAreWarnings()
    {
        auto checkpoint = io::loadCheckpoint(kText + "openclip_clip");
        auto narrow = checkpoint.tensors;
        narrow["text_projection"] = engine::toRawF32(torch::randn({32, 16}));
        const auto model = engine::buildClassifier(narrow, checkpoint.config);
        QVERIFY(!asViT(*model).textTower());
        QCOMPARE(int(model->spec().warnings.size()), 1);
        QVERIFY2(model->spec().warnings[0].find("text tower not used: its projection gives 16-d embeddings, the "
                                                "image tower 32-d ones")
                     != std::string::npos,
                 model->spec().warnings[0].c_str());

        auto incomplete = checkpoint.tensors;
        incomplete.erase("ln_final.weight");
        const auto partial = engine::buildClassifier(incomplete, checkpoint.config);
        QVERIFY(!asViT(*partial).textTower());
        QVERIFY2(partial->spec().warnings.at(0).find("text tower not read:") != std::string::npos
                     && partial->spec().warnings[0].find("ln_final.weight") != std::string::npos,
                 partial->spec().warnings[0].c_str());
        // and the image half is the model's own
        const auto ref = loadReference(kText + "openclip_clip.ref.safetensors");
        QVERIFY(relativeDiff(partial->forward(ref.at("image.input")).embedding, ref.at("image.embed")) <= 1e-5);
    }

    void badIdsAreOneLineErrors()
    {
        const auto model = engine::loadClassifier(kText + "openclip_clip");
        const auto* tower = asViT(*model).textTower();
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, tower->embed(torch::zeros({1, 76}, torch::kInt64)));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, tower->embed(torch::full({1, 77}, 2014, torch::kInt64)));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, tower->embed(torch::zeros({1, 77}, torch::kFloat32)));
    }
};

QTEST_GUILESS_MAIN(TestTextTowers)
#include "tst_texttowers.moc"
