// The audit's scores on hand-made maps and masks with known answers, the cascading
// randomisation, and the sanity check on a trained model: an edge map fails it, Grad-CAM
// passes.
#include "core/engine/engineerror.h"
#include "core/engine/evaluation/audit.h"
#include "core/engine/evaluation/maskscores.h"
#include "core/engine/evaluation/randomisation.h"
#include "core/engine/training/modelfactory.h"
#include "core/imaging/imagedecoder.h"
#include "core/imaging/maskfile.h"
#include "core/imaging/preprocess.h"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <QtTest>

#include <QTemporaryDir>

#include <filesystem>
#include <fstream>
#include <set>

using namespace attnviz;

namespace {

// A 20 x 20 mask of the square rows 5..9, columns 5..9.
torch::Tensor squareMask()
{
    auto mask = torch::zeros({20, 20}, torch::kBool);
    mask.narrow(0, 5, 5).narrow(1, 5, 5).fill_(true);
    return mask;
}

torch::Tensor mapPeakingAt(int row, int col)
{
    auto map = torch::zeros({20, 20});
    map[row][col] = 1.0;
    return map;
}

std::map<std::string, torch::Tensor> weightsOf(const engine::Classifier& model)
{
    std::map<std::string, torch::Tensor> out;
    for (const auto& [name, t] : model.namedParameters())
        out[name] = t.detach().clone();
    return out;
}

}  // namespace

class TestAudit : public QObject {
    Q_OBJECT

private slots:
    void pointingGameCountsTheTolerance()
    {
        const auto mask = squareMask();
        QVERIFY(engine::pointingGameHit(mapPeakingAt(7, 7), mask, 0));
        QVERIFY(engine::pointingGameHit(mapPeakingAt(5, 9), mask, 0));  // the corner is inside
        // One pixel right of the square: a miss without tolerance, a hit with 1 px.
        QVERIFY(!engine::pointingGameHit(mapPeakingAt(7, 10), mask, 0));
        QVERIFY(!engine::pointingGameHit(mapPeakingAt(7, 10), mask, 0.99));
        QVERIFY(engine::pointingGameHit(mapPeakingAt(7, 10), mask, 1.0));
        // Diagonally off the corner (10, 10): sqrt(2) px from (9, 9).
        QVERIFY(!engine::pointingGameHit(mapPeakingAt(10, 10), mask, 1.4));
        QVERIFY(engine::pointingGameHit(mapPeakingAt(10, 10), mask, 1.42));
        // Ties: the first maximum in row-major order decides.
        auto tied = mapPeakingAt(0, 0);
        tied[7][7] = 1.0;
        QVERIFY(!engine::pointingGameHit(tied, mask, 0));
    }

    void pointingGameReadsACoarseMapAtTheMasksSize()
    {
        // A 2 x 2 map whose bottom-right cell is highest, resized bilinearly to 20 x 20:
        // its maximum lies in the bottom-right quarter, outside the square.
        const auto coarse = torch::tensor({0.f, 0.f, 0.f, 1.f}).view({2, 2});
        QVERIFY(!engine::pointingGameHit(coarse, squareMask(), 0));
        QVERIFY(engine::pointingGameHit(coarse, squareMask(), 20));
    }

    void energyIsThePositiveMassInside()
    {
        // Ones on the left half, the mask on the left quarter: half the mass is inside;
        // negative values elsewhere do not count.
        auto map = torch::full({20, 20}, -5.0f);
        map.narrow(1, 0, 10).fill_(1.0);
        auto mask = torch::zeros({20, 20}, torch::kBool);
        mask.narrow(1, 0, 5).fill_(true);
        QCOMPARE(engine::energyInMask(map, mask), 0.5);
        QCOMPARE(engine::energyInMask(-torch::ones({20, 20}), mask), 0.0);
        QCOMPARE(engine::energyInMask(torch::ones({20, 20}), mask), 0.25);
    }

    void iouOfAShiftedSquare()
    {
        // The mask covers the top-left 2 x 2 cells of a 4 x 4 grid over 16 x 16 pixels; the
        // map's four highest cells are that square shifted one cell right: 2 shared of 6.
        auto mask = torch::zeros({16, 16}, torch::kBool);
        mask.narrow(0, 0, 8).narrow(1, 0, 8).fill_(true);
        auto map = torch::zeros({4, 4});
        map.narrow(0, 0, 2).narrow(1, 1, 2).fill_(1.0);
        QCOMPARE(engine::topCellsIoU(map, mask), 2.0 / 6.0);
        map.zero_();
        map.narrow(0, 0, 2).narrow(1, 0, 2).fill_(1.0);
        QCOMPARE(engine::topCellsIoU(map, mask), 1.0);
        // A mask smaller than half a cell still has its most covered cell.
        auto dot = torch::zeros({16, 16}, torch::kBool);
        dot[13][13] = true;
        map.zero_();
        map[3][3] = 1.0;
        QCOMPARE(engine::topCellsIoU(map, dot), 1.0);
    }

    void spearmanKnownValues()
    {
        const auto a = torch::tensor({1.f, 2.f, 3.f, 4.f});
        QCOMPARE(engine::spearmanCorrelation(a, torch::tensor({1.f, 2.f, 4.f, 3.f})), 0.8);  // 1 - 6*2/(4*15)
        QCOMPARE(engine::spearmanCorrelation(a, -a), -1.0);
        // With ties (scipy.stats.spearmanr([1, 2, 2, 3], [1, 2, 3, 4]) = 0.9486832980505138).
        QVERIFY(std::abs(engine::spearmanCorrelation(torch::tensor({1.f, 2.f, 2.f, 3.f}), a) - 0.9486832980505138)
                < 1e-12);
        QCOMPARE(engine::spearmanCorrelation(torch::ones({4}), a), 0.0);
    }

    void badMasksAreRefused()
    {
        QVERIFY_THROWS_EXCEPTION(engine::EngineError,
                                 engine::energyInMask(torch::ones({4, 4}), torch::zeros({4, 4}, torch::kBool)));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::topCellsIoU(torch::ones({3, 3}), squareMask()));
        QVERIFY_THROWS_EXCEPTION(engine::EngineError, engine::pointingGameHit(torch::ones({30, 30}), squareMask(), 0));
    }

    void maskFollowsTheImagesCrop()
    {
        // A 100 x 50 mask of its right half, through a square 10-px model input with
        // crop_pct 1 (resize the shorter side to 10, crop the centre): the right half.
        cv::Mat mask = cv::Mat::zeros(50, 100, CV_8UC1);
        mask.colRange(50, 100).setTo(255);
        engine::Preprocessing p;
        p.inputSize = {3, 10, 10};
        p.cropPct = 1.0;
        const auto m = imaging::maskForModel(mask, p);
        QCOMPARE(m.sizes().vec(), (std::vector<int64_t>{10, 10}));
        QCOMPARE(m.narrow(1, 0, 5).sum().item<int64_t>(), int64_t(0));
        QCOMPARE(m.narrow(1, 5, 5).sum().item<int64_t>(), int64_t(50));
    }

    void edgesAreOpenCVsSobelMagnitude()
    {
        // The edges baseline against OpenCV's Sobel (3 x 3, replicated border) of the
        // channel mean of the model input; the centre baseline peaks mid-image.
        const auto model = engine::loadClassifier(ATTNVIZ_SOURCE_DIR "/models/cnn-fmnist");
        const auto rgb = imaging::decodeImageRgb(ATTNVIZ_SOURCE_DIR "/resources/samples/0002-trouser.png");
        const auto trace = model->forward(imaging::preprocessImage(rgb, model->spec().preprocessing).tensor);
        engine::ViewRequest request;
        request.method = engine::ViewMethod::EdgesBaseline;
        const auto edges = engine::computeView(*model, trace, request).maps[0][0];
        const auto grey = trace.input.mean(1)[0].contiguous();  // [H, W]
        const cv::Mat image(int(grey.size(0)), int(grey.size(1)), CV_32F, grey.data_ptr<float>());
        cv::Mat gx, gy, magnitude;
        cv::Sobel(image, gx, CV_32F, 1, 0, 3, 1, 0, cv::BORDER_REPLICATE);
        cv::Sobel(image, gy, CV_32F, 0, 1, 3, 1, 0, cv::BORDER_REPLICATE);
        cv::magnitude(gx, gy, magnitude);
        const auto expected = torch::from_blob(magnitude.data, {magnitude.rows, magnitude.cols}, torch::kFloat32);
        QVERIFY(edges.max().item<float>() > 0);
        QVERIFY(torch::allclose(edges, expected, 1e-5, 1e-5));

        request.method = engine::ViewMethod::CentreBaseline;
        const auto centre = engine::computeView(*model, trace, request).maps[0][0];
        QCOMPARE(centre.sizes().vec(), (std::vector<int64_t>{28, 28}));
        QCOMPARE(centre[13][13].item<float>(), centre[14][14].item<float>());
        QVERIFY(centre[13][13].item<float>() > 0.99f);
        QVERIFY(std::abs(centre[13][20].item<float>() - std::exp(-(6.5f * 6.5f + 0.25f) / (2 * 7.0f * 7.0f))) < 1e-6f);
    }

    void masksAreFoundBesideOrInTheBenchmarkTree()
    {
        QTemporaryDir dir;
        const auto root = dir.path().toStdString();
        const auto touch = [](const std::string& path) {
            std::filesystem::create_directories(std::filesystem::path(path).parent_path());
            std::ofstream(path) << "x";
        };
        touch(root + "/photo.jpg");
        touch(root + "/photo.mask.png");
        touch(root + "/bench/test/star/00007.png");
        touch(root + "/bench/masks/test/star/00007.png");
        touch(root + "/bench/test/star/00017.png");
        QCOMPARE(imaging::findMaskFor(root + "/photo.jpg").value_or(""), root + "/photo.mask.png");
        QCOMPARE(imaging::findMaskFor(root + "/bench/test/star/00007.png").value_or(""),
                 root + "/bench/masks/test/star/00007.png");
        QVERIFY(!imaging::findMaskFor(root + "/bench/test/star/00017.png"));
        QVERIFY(!imaging::findMaskFor("scene.png"));
    }

    void randomisationGoesFromTheOutputDownAndRestores()
    {
        const auto fresh = engine::freshViT({}, 4);
        const auto model = engine::buildClassifier(fresh.tensors, fresh.config);
        const auto groups = engine::parameterGroups(*model);
        QCOMPARE(groups.front().name, std::string("cls_token"));
        QCOMPARE(groups.back().name, std::string("head"));
        const auto before = weightsOf(*model);
        std::vector<std::string> steps;
        std::set<std::string> randomised;  // the parameters of the modules randomised so far
        engine::cascadingRandomisation(*model, 1, [&](int step, const std::string& module) {
            steps.push_back(module);
            const auto group = std::find_if(groups.begin(), groups.end(),
                                            [&](const auto& g) { return g.name == module; });
            QVERIFY(group != groups.end());
            randomised.insert(group->parameters.begin(), group->parameters.end());
            for (const auto& [name, t] : weightsOf(*model))
                QCOMPARE(!torch::equal(t, before.at(name)), randomised.count(name) > 0);
            QCOMPARE(step, int(steps.size()));
        });
        QCOMPARE(steps.front(), std::string("head"));
        QCOMPARE(steps.size(), groups.size());
        QCOMPARE(steps[2], std::string("blocks.5"));
        for (const auto& [name, t] : weightsOf(*model))
            QVERIFY2(torch::equal(t, before.at(name)), name.c_str());
    }

    // A hybrid ViT's conv stem and its projection are one module, randomised in one step.
    void aHybridsPatchEmbeddingIsOneStep()
    {
        engine::ViTShape shape;
        shape.convStem = true;
        const auto fresh = engine::freshViT(shape, 5);
        const auto model = engine::buildClassifier(fresh.tensors, fresh.config);
        std::set<std::string> names;
        for (const auto& g : engine::parameterGroups(*model))
            QVERIFY2(names.insert(g.name).second, ("two groups named " + g.name).c_str());
        QVERIFY(names.count("patch_embed"));
    }

    void edgesFailTheSanityCheckAndGradCamPasses()
    {
        // The shipped Fashion-MNIST ResNet on a sample: the edge map is the same whatever
        // the weights (rank correlation 1 at every step); Grad-CAM's falls below 0.5.
        const auto model = engine::loadClassifier(ATTNVIZ_SOURCE_DIR "/models/cnn-fmnist");
        const auto rgb = imaging::decodeImageRgb(ATTNVIZ_SOURCE_DIR "/resources/samples/0000-ankle-boot.png");
        const auto trace = model->forward(imaging::preprocessImage(rgb, model->spec().preprocessing).tensor);
        const std::vector methods{engine::ViewMethod::EdgesBaseline, engine::ViewMethod::GradCam};
        const auto originals = [&] {
            std::vector<torch::Tensor> maps;
            maps.reserve(methods.size());
            for (const auto method : methods)
                maps.push_back(engine::auditMap(*model, trace, method, -1));
            return maps;
        };
        const auto curves = engine::randomisationCurves(*model, trace, methods, originals(), -1, 0);
        QVERIFY(curves.steps.size() >= 4);
        for (const double rho : curves.spearman[0])
            QCOMPARE(rho, 1.0);
        QVERIFY2(std::abs(curves.spearman[1].back()) < engine::kRandomisationPassBelow,
                 qPrintable(QString::number(curves.spearman[1].back())));
        // And the learned weights are back: the same maps as before the check.
        const auto again = engine::randomisationCurves(*model, trace, methods, originals(), -1, 0);
        QCOMPARE(again.spearman[1], curves.spearman[1]);
    }
};

QTEST_GUILESS_MAIN(TestAudit)
#include "tst_audit.moc"
