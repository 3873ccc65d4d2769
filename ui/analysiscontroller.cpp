#include "ui/analysiscontroller.h"

#include "core/engine/cancellation.h"
#include "core/engine/errormessage.h"
#include "core/engine/methods/effectivefield.h"
#include "core/imaging/imagebatches.h"
#include "core/imaging/imagedecoder.h"
#include "core/imaging/preprocess.h"
#include "core/imaging/probeimages.h"
#include "core/io/imagefiles.h"

#include <QMetaObject>

namespace attnviz::ui {
namespace {

// The model cache's key: one loaded model per file, device and input size.
QString modelKey(const QString& path, const QString& device, int inputSide)
{
    return device + QLatin1Char('|') + QString::number(inputSide) + QLatin1Char('|') + path;
}

}  // namespace

AnalysisController::AnalysisController(QObject* parent)
    : QObject(parent)
{
    m_pool.setMaxThreadCount(1);  // one model job at a time; newer ones queue behind it
    m_studyPool.setMaxThreadCount(1);
    for (const auto side : kSides)
        m_latestView[side] = 0;
}

AnalysisController::~AnalysisController()
{
    // Queued jobs never start; running ones see that they are stale at their next step.
    m_pool.clear();
    m_studyPool.clear();
    markAllStale();
    m_pool.waitForDone();
    m_studyPool.waitForDone();
}

void AnalysisController::post(QThreadPool& pool, quint64 job, std::function<bool()> stale, std::function<void()> work)
{
    if (m_running++ == 0)
        emit busyChanged(true);
    pool.start([this, job, stale = std::move(stale), work = std::move(work)] {
        QString error;
        try {
            // A newer request or cancel() stops the engine within one block.
            engine::CancellationScope scope(stale);
            work();
        } catch (const engine::Cancelled&) {
            error = tr("cancelled");
        } catch (const std::exception& e) {
            const auto line = engine::errorLine(e);
            error = QString::fromStdString(line);
            if (engine::isOutOfMemory(line))
                error += tr(" — choose the CPU in the Device list, or a smaller model or image");
        }
        // A job that a newer request or cancel() made stale fails silently: cancel()
        // has said so, and the newer request speaks for itself.
        const bool silent = stale();
        report([this, job, error, silent] {
            if (!error.isEmpty() && !silent)
                emit failed(job, error);
            if (--m_running == 0)
                emit busyChanged(false);
        });
    });
}

void AnalysisController::report(std::function<void()> onGuiThread)
{
    QMetaObject::invokeMethod(this, std::move(onGuiThread), Qt::QueuedConnection);
}

std::shared_ptr<engine::Classifier> AnalysisController::model(const QString& path, const QString& device, int inputSide)
{
    const auto key = modelKey(path, device, inputSide);
    auto it = m_models.find(key);
    if (it != m_models.end())
        return it->second;
    engine::LoadOptions options;
    options.device = device.toStdString();
    options.inputSize = {inputSide, inputSide};
    std::shared_ptr<engine::Classifier> loaded = engine::loadClassifier(path.toStdString(), options);
    m_models[key] = loaded;
    return loaded;
}

quint64 AnalysisController::analyze(const QString& imagePath, const QString& vitPath, const QString& cnnPath,
                                    const QString& device, int inputSide, std::shared_ptr<const Analysis> previous)
{
    const quint64 job = m_nextJob++;
    m_latestAnalysis = job;
    // The sides of `previous` taken over as they are: same image, model, device and size.
    const bool sameInput = previous && previous->imagePath == imagePath && previous->device == device
                           && previous->inputSide == inputSide;
    const auto keptSide = [&](Side side, const QString& path) -> std::shared_ptr<const PaneAnalysis> {
        const auto before = sameInput ? (side == Side::ViT ? previous->vit : previous->cnn) : nullptr;
        return before && before->modelPath == path ? before : nullptr;
    };
    const auto keptVit = keptSide(Side::ViT, vitPath), keptCnn = keptSide(Side::CNN, cnnPath);
    // What runs for the old trace of a side that runs again is stale now: it stops within
    // a block, so the new analysis does not wait behind it (the panes forget it).
    for (const auto& [side, kept] : {std::pair{Side::ViT, keptVit}, std::pair{Side::CNN, keptCnn}})
        if (!kept) {
            m_latestView[side] = m_nextJob++;
            emit viewAbandoned(side);  // the pane stops waiting, should the analysis fail
        }
    m_latestFieldSizes = m_nextJob++;
    const auto stale = [this, job] { return job != m_latestAnalysis.load(); };
    post(m_pool, job, stale, [=] {
        if (stale())
            return;
        auto analysis = std::make_shared<Analysis>();
        analysis->job = job;
        analysis->imagePath = imagePath;
        analysis->device = device;
        analysis->inputSide = inputSide;
        std::shared_ptr<const cv::Mat> image;  // decoded when a side runs
        for (const auto& [side, path] : {std::pair{Side::ViT, vitPath}, std::pair{Side::CNN, cnnPath}}) {
            if (path.isEmpty())
                continue;
            if (stale())
                throw engine::Cancelled();
            const bool wantVit = side == Side::ViT;
            if (const auto& kept = wantVit ? keptVit : keptCnn) {
                (wantVit ? analysis->vit : analysis->cnn) = kept;  // its trace and views stay
                continue;
            }
            if (!image) {
                report([this] { emit progress(tr("decoding the image")); });
                image = std::make_shared<const cv::Mat>(imaging::decodeImageRgb(imagePath.toStdString()));
            }
            report([this, side = side] { emit progress(tr("running the %1").arg(sideTitle(side))); });
            auto pane = std::make_shared<PaneAnalysis>();
            pane->side = side;
            pane->modelPath = path;
            const auto loaded = model(path, device, inputSide);
            if (const auto wrong = engine::familyMismatch(loaded->spec(), sideFamily(side), path.toStdString());
                !wrong.empty())
                throw engine::EngineError((wantVit ? "the ViT side needs a ViT: " : "the CNN side needs a CNN: ")
                                          + wrong);
            pane->model = loaded;
            auto prepared = imaging::preprocessImage(*image, loaded->spec().preprocessing);
            pane->trace = loaded->forward(prepared.tensor);
            if (!pane->trace.tokenNorms.empty()) {
                pane->tokens = engine::studyTokens(pane->trace);
                pane->heads = engine::headTable(pane->trace, *pane->tokens);
            }
            pane->image = image;
            pane->crop = prepared.crop;
            (wantVit ? analysis->vit : analysis->cnn) = pane;
        }
        // Only the models on screen stay loaded; a replaced model is freed once no pane
        // shows it any more.
        for (auto it = m_models.begin(); it != m_models.end();)
            it = it->first == modelKey(vitPath, device, inputSide) || it->first == modelKey(cnnPath, device, inputSide)
                     ? std::next(it)
                     : m_models.erase(it);
        if (stale())
            return;
        report([this, analysis, job] {
            if (job == m_latestAnalysis.load())
                emit analysisFinished(analysis);
        });
    });
    return job;
}

quint64 AnalysisController::runView(Side side, std::function<engine::ViewMaps()> work)
{
    const quint64 job = m_nextJob++;
    auto& latest = m_latestView[side];
    latest = job;
    const auto stale = [job, &latest] { return job != latest.load(); };
    post(m_pool, job, stale, [=, &latest] {
        if (stale())
            return;
        report([this] { emit progress(tr("computing gradients")); });
        std::shared_ptr<engine::ViewMaps> view;
        try {
            view = std::make_shared<engine::ViewMaps>(work());
        } catch (...) {
            // Only the pane's newest request is waited for: a stale one (a newer request
            // stopped it) ends silently, and cancel() speaks for every side itself.
            report([this, side, job, &latest] {
                if (job == latest.load())
                    emit viewAbandoned(side);
            });
            throw;  // reported by post()
        }
        report([this, job, view, side, &latest] {
            if (job == latest.load())
                emit viewFinished(job, side, view);
        });
    });
    return job;
}

quint64 AnalysisController::computeGradientView(std::shared_ptr<const PaneAnalysis> pane,
                                                const engine::ViewRequest& request)
{
    return runView(pane->side, [pane, request] { return engine::computeView(*pane->model, pane->trace, request); });
}

quint64 AnalysisController::computeEffectiveField(std::shared_ptr<const PaneAnalysis> pane, const QString& layer,
                                                  int row, int col)
{
    return runView(pane->side, [pane, layer, row, col] {
        const auto name = layer.toStdString();
        return engine::effectiveFieldView(engine::effectiveReceptiveField(*pane->model, pane->trace.input, name, row,
                                                                          col),
                                          name, row, col);
    });
}

quint64 AnalysisController::computeFieldSizes(std::shared_ptr<const Analysis> analysis)
{
    const quint64 job = m_nextJob++;
    m_latestFieldSizes = job;
    const auto stale = [this, job] { return job != m_latestFieldSizes.load(); };
    post(m_pool, job, stale, [=, last = m_lastFieldSizes] {
        auto sizes = std::make_shared<FieldSizes>();
        sizes->analysisJob = analysis->job;
        sizes->vitPane = analysis->vit;
        sizes->cnnPane = analysis->cnn;
        for (const auto& pane : {analysis->vit, analysis->cnn}) {
            if (!pane)
                continue;
            const bool vit = pane->side == Side::ViT;
            auto& out = vit ? sizes->vit : sizes->cnn;
            if (last && (vit ? last->vitPane : last->cnnPane) == pane) {
                out = vit ? last->vit : last->cnn;  // the same trace: measured already
                continue;
            }
            if (stale())
                throw engine::Cancelled();
            report([this] { emit progress(tr("measuring effective receptive fields")); });
            out = engine::effectiveFieldSizes(*pane->model, pane->trace.input);
        }
        report([this, sizes, job] {
            if (job == m_latestFieldSizes.load()) {
                m_lastFieldSizes = sizes;
                emit fieldSizesFinished(sizes);
            }
        });
    });
    return job;
}

quint64 AnalysisController::compareLayers(const QString& folder, std::shared_ptr<const engine::Classifier> vit,
                                          std::shared_ptr<const engine::Classifier> cnn, int batchSize)
{
    const quint64 job = m_nextJob++;
    m_latestSimilarity = job;
    const auto stale = [this, job] { return job != m_latestSimilarity.load(); };
    post(m_studyPool, job, stale, [=] {
        auto result = std::make_shared<LayerSimilarity>();
        result->folder = folder;
        const auto paths = io::imageFilesIn(folder.toStdString());
        result->imagesInFolder = paths.size();
        // The panes' own models: inference on a const model is safe beside the views.
        std::vector<engine::CkaModel> models;
        for (const auto& [role, model] : {std::pair{std::string("vit"), vit}, std::pair{std::string("cnn"), cnn}})
            if (model) {
                models.push_back({role, model.get()});
                result->descriptions[role] = model->spec().description;
            }
        // Each minibatch is decoded once and preprocessed for each model; the engine
        // and the decoding stop between blocks and images once the job is stale.
        imaging::ImageBatches images(paths);
        std::size_t reported = SIZE_MAX;
        const auto load = [&](std::size_t first, std::size_t count, const engine::CkaModel& m) {
            if (first != reported) {
                reported = first;
                report([this, first, total = paths.size()] {
                    emit progress(tr("CKA: images from %1 of %2").arg(first + 1).arg(total));
                });
            }
            return images.batch(first, count, m.model->spec().preprocessing);
        };
        result->study = engine::compareLayers(models, paths.size(), batchSize, load);
        report([this, result, job] {
            if (job == m_latestSimilarity.load())
                emit similarityFinished(result);
        });
    });
    return job;
}

quint64 AnalysisController::localize(const QString& folder, std::shared_ptr<const engine::Classifier> vit,
                                     std::shared_ptr<const engine::Classifier> cnn, int batchSize)
{
    const quint64 job = m_nextJob++;
    m_latestLocalization = job;
    const auto stale = [this, job] { return job != m_latestLocalization.load(); };
    post(m_studyPool, job, stale, [=] {
        auto result = std::make_shared<SpatialLocalization>();
        result->folder = folder;
        const auto paths = io::imageFilesIn(folder.toStdString());
        result->imagesInFolder = paths.size();
        imaging::ImageBatches images(paths);
        for (const auto& [side, model] : {std::pair{Side::ViT, vit}, std::pair{Side::CNN, cnn}}) {
            if (!model)
                continue;
            const auto name = sideTitle(side);
            const auto& preprocessing = model->spec().preprocessing;
            result->sides.emplace_back(
                side,
                engine::localize(
                    *model, paths.size(), batchSize,
                    [&](std::size_t first, std::size_t n) { return images.batch(first, n, preprocessing); },
                    [&](std::size_t done, std::size_t total) {
                        report([this, name, done, total] {
                            emit progress(tr("localisation (%1): %2 of %3 images").arg(name).arg(done).arg(total));
                        });
                    }));
        }
        report([this, result, job] {
            if (job == m_latestLocalization.load())
                emit localizationFinished(result);
        });
    });
    return job;
}

quint64 AnalysisController::probeLayers(const QString& data, std::shared_ptr<const engine::Classifier> vit,
                                        std::shared_ptr<const engine::Classifier> cnn,
                                        const engine::LabelledSetOptions& options)
{
    const quint64 job = m_nextJob++;
    m_latestProbes = job;
    const auto stale = [this, job] { return job != m_latestProbes.load(); };
    post(m_studyPool, job, stale, [=] {
        auto result = std::make_shared<LayerProbes>();
        result->data = data;
        const auto set = imaging::openLabelledSet(data.toStdString(), options);
        result->source = QString::fromStdString(set.description);
        for (const auto& [side, model] : {std::pair{Side::ViT, vit}, std::pair{Side::CNN, cnn}}) {
            if (!model)
                continue;
            const auto name = sideTitle(side);
            const auto progressed = [this, name](std::size_t done, std::size_t total) {
                report([this, name, done, total] {
                    emit progress(tr("probes (%1): %2 of %3 images").arg(name).arg(done).arg(total));
                });
                return true;  // stopping is the cancellation scope's job
            };
            result->sides.emplace_back(side, engine::probeLayers(*model, set.forModel(model->spec().preprocessing), 64,
                                                                 {}, progressed));
        }
        report([this, result, job] {
            if (job == m_latestProbes.load())
                emit probesFinished(result);
        });
    });
    return job;
}

quint64 AnalysisController::computeFaithfulness(std::vector<FaithfulnessRequest> requests)
{
    const quint64 job = m_nextJob++;
    m_latestFaithfulness = job;
    const auto stale = [this, job] { return job != m_latestFaithfulness.load(); };
    // Beside the views, as CKA: inference on the panes' const models is safe there.
    post(m_studyPool, job, stale, [=] {
        auto plot = std::make_shared<FaithfulnessPlot>();
        for (const auto& r : requests) {
            const auto& spec = r.pane->model->spec();
            const auto name = sideTitle(r.pane->side);
            auto& curves = plot->sides.emplace_back();
            curves.side = r.pane->side;
            curves.caption = r.caption;
            curves.scores = engine::faithfulness(
                *r.pane->model, r.pane->trace.input, r.map, r.classIndex, {}, [&](int done, int total) {
                    report([this, name, done, total] {
                        emit progress(tr("faithfulness (%1): %2 of %3 passes").arg(name).arg(done).arg(total));
                    });
                });
            const auto c = std::size_t(curves.scores.classIndex);
            if (r.classIndex < 0)  // a class-specific view's caption names its class already
                curves.predictedClass = c < spec.labels.size() ? QString::fromStdString(spec.labels[c])
                                                               : QString::number(c);
            plot->panes.push_back(r.pane);
        }
        report([this, plot, job] {
            if (job == m_latestFaithfulness.load())
                emit faithfulnessFinished(plot);
        });
    });
    return job;
}

void AnalysisController::markAllStale()
{
    m_latestAnalysis = m_nextJob++;
    m_latestFieldSizes = m_nextJob++;
    m_latestSimilarity = m_nextJob++;
    m_latestFaithfulness = m_nextJob++;
    m_latestLocalization = m_nextJob++;
    m_latestProbes = m_nextJob++;
    for (auto& [side, latest] : m_latestView)
        latest = m_nextJob++;
}

void AnalysisController::cancel()
{
    // Everything queued or running is now stale and ends at its next step, silently.
    markAllStale();
    if (busy()) {
        emit failed(0, tr("cancelled"));
        for (const auto& [side, latest] : m_latestView)
            emit viewAbandoned(side);
    }
}

}  // namespace attnviz::ui
