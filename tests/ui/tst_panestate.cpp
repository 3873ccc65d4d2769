// The model pane's state without a window (ui/pane/panestate.h): the choices its boxes
// offer, the request they make, the views it keeps, and where a click lands. No
// QApplication: this runs where no display or widget library is.
#include "ui/pane/panestate.h"

#include "core/engine/methods/attentionmaps.h"

#include <QtTest>

using namespace attnviz;
using engine::ViewMethod;

namespace {

const std::string kModels = ATTNVIZ_SOURCE_DIR "/models/";

struct Loaded {
    std::unique_ptr<engine::Classifier> model;
    engine::Trace trace;
};

// A shipped model run once on a fixed random input of its own size.
const Loaded& shipped(const std::string& name)
{
    static std::map<std::string, Loaded> loaded;
    auto& l = loaded[name];
    if (!l.model) {
        l.model = engine::loadClassifier(kModels + name);
        const auto& size = l.model->spec().preprocessing.inputSize;  // [C, H, W]
        torch::manual_seed(7);
        l.trace = l.model->forward(torch::rand({1, size[0], size[1], size[2]}));
    }
    return l;
}

ui::PaneSelection selection(ViewMethod method, const std::string& layer, ui::PaneChoices::Head head = {"mean", -1})
{
    ui::PaneSelection s;
    s.method = method;
    s.layer = layer;
    s.head = std::move(head);
    return s;
}

std::shared_ptr<const engine::ViewMaps> view(int layers)
{
    auto v = std::make_shared<engine::ViewMaps>();
    v->maps = torch::zeros({layers, 1, 2, 2});
    return v;
}

}  // namespace

class TestPaneState : public QObject {
    Q_OBJECT
private slots:
    void vitChoicesListBlocksHeadsAndClasses()
    {
        const auto& vit = shipped("vit-fmnist");
        const auto& spec = vit.model->spec();
        const auto choices = ui::paneChoices(spec, vit.trace);
        QCOMPARE(choices.layers.size(), std::size_t(vit.trace.attention.depth()));
        QCOMPARE(choices.layers.front(), std::string("0"));
        QCOMPARE(choices.layers.back(), std::to_string(vit.trace.attention.depth() - 1));
        QCOMPARE(int(choices.heads.size()), 3 + spec.heads);  // mean, max, min, then each head
        QCOMPARE(choices.heads[1].name, std::string("max"));
        QCOMPARE(choices.heads[1].index, -1);
        QCOMPARE(choices.heads.back().index, spec.heads - 1);
        QCOMPARE(choices.classes, spec.labels);
        for (const auto method : choices.methods)
            QVERIFY(engine::methodInfo(method).supports(engine::Family::ViT));
        QVERIFY(std::count(choices.methods.begin(), choices.methods.end(), ViewMethod::Rollout) == 1);
        QVERIFY(std::count(choices.methods.begin(), choices.methods.end(), ViewMethod::EffectiveField) == 0);
    }

    void cnnChoicesListStagesAndNoHeads()
    {
        const auto& cnn = shipped("cnn-fmnist");
        const auto choices = ui::paneChoices(cnn.model->spec(), cnn.trace);
        QCOMPARE(choices.layers.size(), cnn.trace.features.size());
        QCOMPARE(choices.layers.back(), cnn.trace.features.back().first);
        QCOMPARE(choices.heads.size(), std::size_t(3));  // the fusions only
        QVERIFY(std::count(choices.methods.begin(), choices.methods.end(), ViewMethod::EffectiveField) == 1);
        QVERIFY(std::count(choices.methods.begin(), choices.methods.end(), ViewMethod::Attention) == 0);
    }

    void requestLayerFollowsTheMethod()
    {
        // Rollouts start at block 0 whatever the layer box says.
        using engine::LayerSelector;
        QVERIFY(ui::paneRequest(selection(ViewMethod::Rollout, "5")).layer == LayerSelector::block(0));
        QVERIFY(ui::paneRequest(selection(ViewMethod::GradCam, "5")).layer == LayerSelector::block(5));
        QVERIFY(ui::paneRequest(selection(ViewMethod::GradCam, "layer3")).layer == LayerSelector::named("layer3"));
        // A map over the input has no layer.
        QVERIFY(ui::paneRequest(selection(ViewMethod::Saliency, "5")).layer.isDefault());
        // Only attention reads the pool, and not with a query patch.
        QVERIFY(ui::paneRequest(selection(ViewMethod::Attention, "pool")).layer.isPool());
        QVERIFY(ui::paneRequest(selection(ViewMethod::GradCam, "pool")).layer == LayerSelector::block(-1));
        auto queried = selection(ViewMethod::Attention, "pool");
        queried.query = ui::GridCell(1, 2);
        QVERIFY(ui::paneRequest(queried).layer == LayerSelector::block(-1));
    }

    void requestHeadsOnlyWhereTheMethodHasThem()
    {
        const auto one = ui::paneRequest(selection(ViewMethod::Attention, "1", {"2", 2}));
        QCOMPARE(int(one.head.kind), int(engine::HeadChoice::Kind::One));
        QCOMPARE(one.head.index, 2);
        const auto fused = ui::paneRequest(selection(ViewMethod::Rollout, "1", {"max", -1}));
        QVERIFY(fused.head.isFused());
        QCOMPARE(int(fused.head.fusion), int(engine::HeadFusion::Max));
        // A rollout fuses; one head is not a fusion, so the default (the mean) stays.
        const auto notFused = ui::paneRequest(selection(ViewMethod::Rollout, "1", {"2", 2}));
        QCOMPARE(int(notFused.head.fusion), int(engine::HeadFusion::Mean));
        QVERIFY(notFused.head.isFused());
        // Grad-CAM has no heads: the choice does not reach its request (nor its key).
        const auto cam = ui::paneRequest(selection(ViewMethod::GradCam, "1", {"max", -1}));
        QCOMPARE(engine::viewRequestKey(cam),
                 engine::viewRequestKey(ui::paneRequest(selection(ViewMethod::GradCam, "1", {"min", -1}))));
    }

    void requestQueryIsThePatchOrTheUnit()
    {
        auto s = selection(ViewMethod::Attention, "1");
        s.query = ui::GridCell(3, 4);
        s.unit = ui::GridCell(5, 6);
        QCOMPARE(ui::paneRequest(s).query, std::optional<ui::GridCell>(ui::GridCell(3, 4)));
        s.method = ViewMethod::EffectiveField;
        QCOMPARE(ui::paneRequest(s).query, std::optional<ui::GridCell>(ui::GridCell(5, 6)));
        s.method = ViewMethod::GradCam;  // no query: a click does not change what Grad-CAM asks
        QVERIFY(!ui::paneRequest(s).query);
        s.camInput = engine::VitCamInput::ResidualStream;
        s.classIndex = 4;
        const auto r = ui::paneRequest(s);
        QCOMPARE(int(r.vitCamInput), int(engine::VitCamInput::ResidualStream));
        QCOMPARE(r.classIndex, 4);
    }

    // A box whose choice the view does not use shows what the view uses instead
    // (issue: a greyed Layer "3" and Head "0" under a caption "from block 0 · head mean").
    void boxesShowWhatTheViewUses()
    {
        const auto vit = engine::Family::ViT;
        const std::string notUsed = ui::ShownValues::kNotUsed;
        auto rollout = selection(ViewMethod::Rollout, "3", {"0", 0});
        auto shown = ui::shownValues(vit, rollout);
        QCOMPARE(shown.layer.value_or("?"), std::string("from 0"));
        QCOMPARE(shown.head.value_or("?"), std::string("mean"));  // one head asked, the mean used
        QCOMPARE(shown.classLabel.value_or("?"), notUsed);        // rollout explains no class
        rollout.head = {"max", -1};
        QVERIFY(!ui::shownValues(vit, rollout).head);  // a fusion asked is the one used
        // Attention uses every box but the class and the CAM input.
        shown = ui::shownValues(vit, selection(ViewMethod::Attention, "3", {"0", 0}));
        QVERIFY(!shown.layer && !shown.head);
        QCOMPARE(shown.camInput.value_or("?"), notUsed);
        // Transformer attribution has no heads; a CAM reads one block and no head.
        QCOMPARE(ui::shownValues(vit, selection(ViewMethod::TransformerAttribution, "3")).head.value_or("?"), notUsed);
        shown = ui::shownValues(vit, selection(ViewMethod::GradCam, "3", {"0", 0}));
        QVERIFY(!shown.layer && !shown.classLabel && !shown.camInput);
        QCOMPARE(shown.head.value_or("?"), notUsed);
        QCOMPARE(ui::shownValues(vit, selection(ViewMethod::Saliency, "3")).layer.value_or("?"), std::string("input"));
        // A CNN has no heads; its effective field is a unit's, of no class.
        shown = ui::shownValues(engine::Family::CNN, selection(ViewMethod::EffectiveField, "layer2"));
        QVERIFY(!shown.layer);
        QCOMPARE(shown.head.value_or("?"), notUsed);
        QCOMPARE(shown.classLabel.value_or("?"), notUsed);
    }

    void unitStaysOnTheGrid()
    {
        QCOMPARE(ui::unitOnGrid(std::nullopt, 7, 9), ui::GridCell(3, 4));  // the centre
        QCOMPARE(ui::unitOnGrid(ui::GridCell(10, 2), 7, 9), ui::GridCell(6, 2));
        QCOMPARE(ui::cellAt({0.0, 0.0}, 14, 14), ui::GridCell(0, 0));
        QCOMPARE(ui::cellAt({0.5, 0.25}, 14, 14), ui::GridCell(3, 7));     // (row, col): y then x
        QCOMPARE(ui::cellAt({1.0, 0.999}, 14, 14), ui::GridCell(13, 13));  // the far edge: the last cell
        // A place kept across grids (a CNN's stages): the cell of a 7 x 7 grid at a place
        // is the 14 x 14 cell's parent, not the same index.
        const auto place = ui::cellCentre({9, 2}, 14, 14);
        QCOMPARE(ui::cellAt(place, 14, 14), ui::GridCell(9, 2));
        QCOMPARE(ui::cellAt(place, 7, 7), ui::GridCell(4, 1));
        QCOMPARE(ui::cellAt(place, 28, 28), ui::GridCell(19, 5));
    }

    void cacheForgetsTheOldestBeyondItsCapacity()
    {
        ui::ViewCache cache;
        for (std::size_t i = 0; i <= ui::ViewCache::kCapacity; ++i)
            cache.remember("k" + std::to_string(i), view(1));
        QCOMPARE(cache.size(), ui::ViewCache::kCapacity);
        QVERIFY(!cache.find("k0"));
        QVERIFY(cache.find("k1"));
        // Remembering a key again replaces its view and does not push another out.
        const auto newer = view(2);
        cache.remember("k1", newer);
        QCOMPARE(cache.size(), ui::ViewCache::kCapacity);
        QCOMPARE(cache.find("k1"), newer);
        QVERIFY(cache.find("k2"));
    }

    void cacheKnowsTheRequestOnTheWorker()
    {
        ui::ViewCache cache;
        QVERIFY(!cache.isPending(""));  // nothing pending is no key's
        cache.setPending("a");
        QVERIFY(cache.isPending("a"));
        QVERIFY(!cache.isPending("b"));
        cache.remember("x", view(1));
        cache.clear();  // a new trace
        QVERIFY(!cache.isPending("a"));
        QVERIFY(!cache.find("x"));
    }

    void geometryMapsPictureInputAndImage()
    {
        // A 400 x 200 image shown at 800 x 400; the model saw its centre square, enlarged to 448.
        const imaging::CropBox crop{100, 0, 200, 200};
        auto g = ui::PaneGeometry::make({448, 448}, {400, 200}, {800, 400}, crop);
        QCOMPARE(g.cropInWhole, cv::Rect2d(200, 0, 400, 400));
        QCOMPARE(g.picture(), cv::Size(448, 448));
        QCOMPARE(g.inputFromPicture({0.25, 0.5}).value(), cv::Point2d(0.25, 0.5));  // the input itself
        g.showsWhole = true;
        QCOMPARE(g.picture(), cv::Size(800, 400));
        QCOMPARE(g.inputFromPicture({0.5, 0.5}).value(), cv::Point2d(0.5, 0.5));
        QCOMPARE(g.inputFromPicture({0.25, 0.5}).value(), cv::Point2d(0.0, 0.5));  // the crop's left edge
        QVERIFY(!g.inputFromPicture({0.1, 0.5}));                                  // beside the crop
        QCOMPARE(g.inputFromImage({0.375, 0.5}).value(), cv::Point2d(0.25, 0.5));
        QVERIFY(!g.inputFromImage({0.75, 0.5}));  // the crop's right edge belongs to no cell
        const auto back = g.imageFromInput({0.25, 0.5});
        QCOMPARE(back, cv::Point2d(0.375, 0.5));
    }

    void geometryWithoutAnImageHasNoWholePicture()
    {
        const auto g = ui::PaneGeometry::make({448, 448}, {}, {}, {});
        QVERIFY(g.whole.empty());
        QVERIFY(!g.inputFromImage({0.5, 0.5}));
    }

    void everyHeadIsTheAttentionOfEachHead()
    {
        const auto& vit = shipped("vit-fmnist");
        const auto all = ui::everyHeadAttention(*vit.model, vit.trace, std::nullopt);
        const int depth = vit.trace.attention.depth(), heads = vit.model->spec().heads;
        QCOMPARE(all.maps.size(0), int64_t(depth));
        QCOMPARE(all.maps.size(1), int64_t(heads));
        // Block 1, head 2 as the attention view of that one head gives it.
        auto one = selection(ViewMethod::Attention, "1", {"2", 2});
        const auto single = engine::computeView(*vit.model, vit.trace, ui::paneRequest(one));
        QVERIFY(torch::equal(all.maps[1][2], single.maps[0][0]));
        // With a query patch, its row instead of the CLS row.
        const auto queried = ui::everyHeadAttention(*vit.model, vit.trace, ui::GridCell(1, 1));
        QVERIFY(!torch::equal(queried.maps[1][2], all.maps[1][2]));
    }
};

QTEST_APPLESS_MAIN(TestPaneState)
#include "tst_panestate.moc"
