// computeView: the request a user makes (method, layer, head, class, query) mapped onto
// the methods, checked against calling those methods directly.
#include "core/engine/engineerror.h"
#include "core/engine/methods/attentionmaps.h"
#include "core/engine/methods/cam.h"
#include "core/engine/methods/effectivefield.h"
#include "core/engine/methods/methodtable.h"
#include "core/engine/model/classifier.h"
#include "core/engine/tensorconvert.h"
#include "core/io/safetensors.h"

#include <QtTest>

using namespace attnviz;

namespace {

const std::string kData = ATTNVIZ_TEST_DATA;

struct Loaded {
    std::unique_ptr<engine::Classifier> model;
    engine::Trace trace;
};

Loaded load(const std::string& model, const std::string& reference, const std::string& role)
{
    Loaded l;
    l.model = engine::loadClassifier(kData + model);
    const auto ref = io::readSafetensors(kData + reference).tensors;
    l.trace = l.model->forward(engine::toTorch(ref.at(role + ".input")));
    return l;
}

const Loaded& vit()
{
    static const Loaded l = load("/gradients/vit", "/gradients/gradients.safetensors", "vit");
    return l;
}

const Loaded& cnn()
{
    static const Loaded l = load("/gradients/tv_resnet18.pth", "/gradients/gradients.safetensors", "cnn");
    return l;
}

engine::ViewRequest request(const std::string& method, const std::string& layer = "", const std::string& head = "mean")
{
    engine::ViewRequest r;
    r.method = engine::viewMethodFromName(method);
    r.layer = engine::LayerSelector::parse(layer);
    r.head = engine::headChoiceFromName(head);
    return r;
}

}  // namespace

class TestViews : public QObject {
    Q_OBJECT

private slots:
    void layerSelectorReadsWhatTheCommandLineWrites()
    {
        using engine::LayerSelector;
        QVERIFY(LayerSelector::parse("").isDefault());
        QVERIFY(LayerSelector::parse("all").isAll());
        QVERIFY(LayerSelector::parse("pool").isPool());
        QVERIFY(LayerSelector::parse("3") == LayerSelector::block(3));
        QVERIFY(LayerSelector::parse("-1") == LayerSelector::block(-1));
        QVERIFY(LayerSelector::parse("layer3") == LayerSelector::named("layer3"));
        // Not blocks: names, which a ViT then rejects.
        for (const char* name : {"-", "3x", "+3", "1.5", "99999999999"})
            QCOMPARE(int(LayerSelector::parse(name).kind()), int(LayerSelector::Kind::Named));
        for (const char* text : {"", "all", "pool", "0", "-2", "features.7"})
            QCOMPARE(LayerSelector::parse(text).text(), std::string(text));
        QCOMPARE(LayerSelector::block(-1).blockIn(4), 3);
        QCOMPARE(LayerSelector::block(2).blockIn(4), 2);
        for (const auto& wrong : {LayerSelector::block(4), LayerSelector::block(-5), LayerSelector::named("3x"),
                                  LayerSelector::all(), LayerSelector()})
            QVERIFY_THROWS_EXCEPTION(engine::EngineError, wrong.blockIn(4));
    }

    void attentionDefaultsToTheLastBlockHeadMean()
    {
        const auto& [model, trace] = vit();
        const auto view = engine::computeView(*model, trace, request("attention"));
        QCOMPARE(view.maps.sizes(), (torch::IntArrayRef{1, 1, 14, 14}));
        QCOMPARE(view.layers, std::vector<std::string>{"3"});
        QCOMPARE(view.heads, std::vector<std::string>{"mean"});
        QVERIFY(!view.classIndex);
        const auto expected = engine::clsAttention(trace.attention.matrix(3), trace.tokens).mean(0);
        QVERIFY(torch::allclose(view.maps[0][0], expected));
    }

    void allLayersAndHeadsMakeAGrid()
    {
        const auto& [model, trace] = vit();
        const auto view = engine::computeView(*model, trace, request("attention", "all", "all"));
        QCOMPARE(view.maps.sizes(), (torch::IntArrayRef{4, 3, 14, 14}));
        QCOMPARE(view.heads, (std::vector<std::string>{"0", "1", "2"}));
        QVERIFY(torch::allclose(view.maps[1][2], engine::clsAttention(trace.attention.matrix(1), trace.tokens)[2]));
        const auto single = engine::computeView(*model, trace, request("attention", "-3", "1"));
        QVERIFY(torch::allclose(single.maps[0][0], view.maps[1][1]));
    }

    void queryPatchSelectsItsRow()
    {
        const auto& [model, trace] = vit();
        auto r = request("attention", "2", "max");
        r.query = std::make_pair(3, 5);
        const auto view = engine::computeView(*model, trace, r);
        const auto perHead = engine::queryAttention(trace.attention.matrix(2), trace.tokens, 1 + 3 * 14 + 5);
        QVERIFY(torch::allclose(view.maps[0][0], std::get<0>(perHead.max(0))));
    }

    void gradientMethodsNameTheirClass()
    {
        const auto& [model, trace] = vit();
        auto r = request("gradcam", "1");
        r.classIndex = 4;
        const auto view = engine::computeView(*model, trace, r);
        QCOMPARE(*view.classIndex, 4);
        QVERIFY(torch::allclose(view.maps[0][0], engine::classActivationMaps(*model, trace.input, 4, {"1"}).maps[0]));
        const auto rollout = engine::computeView(*model, trace, request("grad-rollout"));
        QCOMPARE(*rollout.classIndex, int(trace.logits.argmax().item<int64_t>()));
    }

    // Every row of the method table computes, through computeView, a finite non-negative
    // map for each family the row names, and is refused for the others.
    void everyMethodOfTheTableIsAViewOfItsFamilies()
    {
        QCOMPARE(engine::methodTable().size(), std::size_t(24));
        for (const auto& info : engine::methodTable()) {
            const std::string method = info.name;
            QVERIFY(engine::viewMethodFromName(method) == info.method);  // names go both ways
            QVERIFY(&engine::methodInfo(info.method) == &info);
            for (const Loaded* m : {&vit(), &cnn()}) {
                const auto family = m->model->spec().family;
                auto r = request(method);
                if (info.layer == engine::MethodLayer::Unit) {  // the unit is the request's
                    QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::computeView(*m->model, m->trace, r));
                    r.query = std::make_pair(3, 3);
                }
                if (!info.supports(family)) {
                    QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::computeView(*m->model, m->trace, r));
                    continue;
                }
                const auto view = engine::computeView(*m->model, m->trace, r);
                QVERIFY(view.method == info.method);
                const auto grid = family == engine::Family::ViT ? 14 : 7;
                const auto& input = m->trace.input;
                const bool overInput = info.layer == engine::MethodLayer::Unit
                                       || info.layer == engine::MethodLayer::Input;
                const int64_t columns = view.rgb ? 3 : 1;  // pca: red, green, blue
                const auto expected = overInput ? std::vector<int64_t>{1, 1, input.size(2), input.size(3)}
                                                : std::vector<int64_t>{1, columns, grid, grid};
                QCOMPARE(view.maps.sizes().vec(), expected);
                QVERIFY2(torch::isfinite(view.maps).all().item<bool>(), method.c_str());
                QVERIFY2(view.maps.min().item<float>() >= 0, method.c_str());
                QVERIFY2(view.maps.max().item<float>() > 0, method.c_str());
                QCOMPARE(view.camInput,
                         info.camInput && family == engine::Family::ViT ? std::string("norm1") : std::string());
            }
        }
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::viewMethodFromName("no-such-method"));
    }

    // The window asks for a unit's field as an `erf` request (ModelPane's
    // gradientViewRequested): the same view as the field computed and labelled directly.
    void erfRequestEqualsTheFieldComputedDirectly()
    {
        const auto& [model, trace] = cnn();
        auto r = request("erf", "layer2");
        r.query = std::make_pair(3, 4);
        const auto view = engine::computeView(*model, trace, r);
        const auto direct = engine::effectiveFieldView(engine::effectiveReceptiveField(*model, trace.input, "layer2", 3,
                                                                                       4),
                                                       "layer2", 3, 4);
        QVERIFY(view.method == direct.method);
        QVERIFY(view.classIndex == direct.classIndex);
        QCOMPARE(view.layers, std::vector<std::string>{"layer2 @3,4"});
        QCOMPARE(view.layers, direct.layers);
        QCOMPARE(view.heads, direct.heads);
        QCOMPARE(view.camInput, direct.camInput);
        QVERIFY(torch::equal(view.maps, direct.maps));
    }

    void vitCamsReadTheTokensTheRequestNames()
    {
        const auto& [model, trace] = vit();
        auto r = request("gradcam", "2");
        r.vitCamInput = engine::VitCamInput::ResidualStream;
        const auto view = engine::computeView(*model, trace, r);
        QCOMPARE(view.camInput, std::string("residual"));
        engine::CamOptions options;
        options.vitInput = engine::VitCamInput::ResidualStream;
        QVERIFY(torch::allclose(view.maps[0][0],
                                engine::classActivationMaps(*model, trace.input, -1, {"2"}, options).maps[0]));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::vitCamInputFromName("output"));
    }

    void cnnGradCamOverAllStagesSharesTheFinestGrid()
    {
        const auto& [model, trace] = cnn();
        const auto last = engine::computeView(*model, trace, request("gradcam"));
        QCOMPARE(last.layers, std::vector<std::string>{"layer4"});
        QCOMPARE(last.maps.sizes(), (torch::IntArrayRef{1, 1, 7, 7}));
        const auto all = engine::computeView(*model, trace, request("gradcam", "all"));
        QCOMPARE(all.layers, (std::vector<std::string>{"conv1", "maxpool", "layer1", "layer2", "layer3", "layer4"}));
        QCOMPARE(all.maps.sizes(), (torch::IntArrayRef{6, 1, 112, 112}));
        // layer4 brought to 112x112 by nearest upsampling: each cell a 16x16 block.
        QVERIFY(
            torch::allclose(all.maps[5][0].slice(0, 0, 16).slice(1, 0, 16), last.maps[0][0][0][0].expand({16, 16})));
    }

    // Views joined into one grid (export's --layers/--heads): labels in order, the cells
    // unchanged, a coarser layer brought to the finer grid; mismatched parts are refused.
    void joinedViewsMakeOneGrid()
    {
        const auto& [model, trace] = vit();
        const auto block = [&model = model, &trace = trace](const std::string& layer, const std::string& head) {
            return engine::computeView(*model, trace, request("attention", layer, head));
        };
        const auto row0 = engine::joinViews({block("0", "1"), block("0", "mean")}, engine::ViewAxis::Heads);
        const auto row2 = engine::joinViews({block("2", "1"), block("2", "mean")}, engine::ViewAxis::Heads);
        const auto grid = engine::joinViews({row0, row2}, engine::ViewAxis::Layers);
        QCOMPARE(grid.layers, (std::vector<std::string>{"0", "2"}));
        QCOMPARE(grid.heads, (std::vector<std::string>{"1", "mean"}));
        QCOMPARE(grid.maps.sizes(), (torch::IntArrayRef{2, 2, 14, 14}));
        QVERIFY(torch::equal(grid.maps[1][0], block("2", "1").maps[0][0]));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError,
                                 engine::joinViews({row0, block("2", "1")}, engine::ViewAxis::Layers));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::joinViews({}, engine::ViewAxis::Heads));

        const auto& c = cnn();
        const auto fine = engine::computeView(*c.model, c.trace, request("gradcam", "layer1"));
        const auto coarse = engine::computeView(*c.model, c.trace, request("gradcam", "layer4"));
        const auto both = engine::joinViews({fine, coarse}, engine::ViewAxis::Layers);
        QCOMPARE(both.maps.sizes(), (torch::IntArrayRef{2, 1, 56, 56}));
        QVERIFY(torch::allclose(both.maps[1][0].slice(0, 0, 8).slice(1, 0, 8), coarse.maps[0][0][0][0].expand({8, 8})));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError,
                                 engine::joinViews({fine, engine::computeView(*c.model, c.trace, request("eigencam"))},
                                                   engine::ViewAxis::Layers));
    }

    void requestsTheModelCannotServeAreErrors()
    {
        const auto& v = vit();
        const auto& c = cnn();
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::computeView(*c.model, c.trace, request("attention")));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError,
                                 engine::computeView(*v.model, v.trace, request("saliency", "3")));  // no layer
        QVERIFY_THROWS_EXCEPTION(engine::EngineError,
                                 engine::computeView(*v.model, v.trace, request("rollout", "", "all")));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError,
                                 engine::computeView(*v.model, v.trace, request("gradcam", "", "2")));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::computeView(*c.model, c.trace, request("grad-rollout")));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError,
                                 engine::computeView(*v.model, v.trace, request("grad-rollout", "", "2")));
        auto discarded = request("gradcam");
        discarded.discardRatio = 0.5;
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::computeView(*v.model, v.trace, discarded));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError,
                                 engine::computeView(*v.model, v.trace, request("attention", "", "3")));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError,
                                 engine::computeView(*v.model, v.trace, request("attention", "9")));
        auto outside = request("attention");
        outside.query = std::make_pair(14, 0);
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::computeView(*v.model, v.trace, outside));
    }
};

QTEST_GUILESS_MAIN(TestViews)
#include "tst_views.moc"
