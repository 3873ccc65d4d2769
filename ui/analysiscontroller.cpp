#include "ui/analysiscontroller.h"

#include "core/engine/cancellation.h"
#include "core/engine/engineerror.h"
#include "core/engine/errormessage.h"
#include "core/engine/methods/effectivefield.h"
#include "core/engine/text/prompts.h"
#include "core/engine/vit/vit.h"
#include "core/imaging/imagebatches.h"
#include "core/imaging/imagedecoder.h"
#include "core/imaging/maskfile.h"
#include "core/imaging/preprocess.h"
#include "core/imaging/probeimages.h"
#include "core/io/imagefiles.h"

#include <QMetaObject>

#include <algorithm>

namespace attnviz::ui {
namespace {

// The model cache's key: one loaded model per file, device and input size.
QString modelKey(const QString& path, const QString& device, int inputSide)
{
    return device + QLatin1Char('|') + QString::number(inputSide) + QLatin1Char('|') + path;
}

engine::LoadOptions loadOptions(const QString& device, int inputSide)
{
    engine::LoadOptions options;
    options.device = device.toStdString();
    options.inputSize = {inputSide, inputSide};
    return options;
}

// The image's ground truth, if it has a mask (imaging::findMaskFor): the mask (empty
// when there is none or it is bad), where it is, and why it is not used. A bad mask is
// said in the analysis rather than failing it: the maps are still worth seeing.
struct GroundTruth {
    cv::Mat mask;
    QString path, problem;
};

GroundTruth groundTruth(const QString& imagePath, const cv::Mat& image)
{
    GroundTruth truth;
    const auto path = imaging::findMaskFor(imagePath.toStdString());
    if (!path)
        return truth;
    truth.path = QString::fromStdString(*path);
    try {
        truth.mask = imaging::readMask(*path, image.cols, image.rows);
    } catch (const std::exception& e) {
        truth.problem = QString::fromStdString(engine::errorLine(e));
    }
    return truth;
}

}  // namespace

AnalysisController::AnalysisController(QObject* parent)
    : QObject(parent)
{
    m_pool.setMaxThreadCount(1);  // one model job at a time; newer ones queue behind it
    m_studyPool.setMaxThreadCount(1);
    for (const auto side : kSides)
        m_viewSlots.try_emplace(side, m_tickets);
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

void AnalysisController::post(QThreadPool& pool, const engine::JobSlot& slot, quint64 job, std::function<void()> work)
{
    if (m_running++ == 0)
        emit busyChanged(true);
    pool.start([this, job, stale = slot.stalePredicate(job), work = std::move(work)] {
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

void AnalysisController::deliver(const engine::JobSlot& slot, quint64 job, std::function<void()> onGuiThread)
{
    // Asked on the GUI thread, where start() and cancel() run: nothing supersedes the job
    // between the question and the continuation.
    report([&slot, job, onGuiThread = std::move(onGuiThread)] { slot.deliver(job, onGuiThread); });
}

std::shared_ptr<engine::Classifier> AnalysisController::model(const QString& path, const QString& device, int inputSide)
{
    const auto key = modelKey(path, device, inputSide);
    auto it = m_models.find(key);
    if (it != m_models.end())
        return it->second;
    std::shared_ptr<engine::Classifier> loaded = engine::loadClassifier(path.toStdString(),
                                                                        loadOptions(device, inputSide));
    m_models[key] = loaded;
    return loaded;
}

std::shared_ptr<PaneAnalysis> AnalysisController::runPane(Side side, const QString& path,
                                                          const std::shared_ptr<const cv::Mat>& image,
                                                          const cv::Mat& mask, const QString& device, int inputSide)
{
    report([this, side] { emit progress(tr("running the %1").arg(sideTitle(side))); });
    auto pane = std::make_shared<PaneAnalysis>();
    pane->side = side;
    pane->modelPath = path;
    const auto loaded = model(path, device, inputSide);
    if (const auto wrong = engine::familyMismatch(loaded->spec(), side, path.toStdString()); !wrong.empty())
        throw engine::EngineError((side == Side::ViT ? "the ViT side needs a ViT: " : "the CNN side needs a CNN: ")
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
    if (!mask.empty())
        pane->mask = imaging::maskForModel(mask, loaded->spec().preprocessing);
    return pane;
}

void AnalysisController::keepOnlyModels(const std::array<QString, 2>& keys)
{
    // A replaced model is freed once no pane shows it any more.
    for (auto it = m_models.begin(); it != m_models.end();)
        it = std::find(keys.begin(), keys.end(), it->first) != keys.end() ? std::next(it) : m_models.erase(it);
}

quint64 AnalysisController::analyze(const QString& imagePath, const QString& vitPath, const QString& cnnPath,
                                    const QString& device, int inputSide, std::shared_ptr<const Analysis> previous)
{
    const quint64 job = m_analysisSlot.start();
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
            m_viewSlots.at(side).cancel();
            emit viewAbandoned(side);  // the pane stops waiting, should the analysis fail
        }
    m_fieldSizesSlot.cancel();
    post(m_pool, m_analysisSlot, job, [=] {
        if (m_analysisSlot.isStale(job))
            return;
        auto analysis = std::make_shared<Analysis>();
        analysis->job = job;
        analysis->imagePath = imagePath;
        analysis->device = device;
        analysis->inputSide = inputSide;
        std::shared_ptr<const cv::Mat> image;  // decoded when a side runs
        GroundTruth truth;
        if (sameInput)  // the same file: kept sides have its mask already
            truth = {{}, previous->maskPath, previous->maskProblem};
        for (const auto& [side, path] : {std::pair{Side::ViT, vitPath}, std::pair{Side::CNN, cnnPath}}) {
            if (path.isEmpty())
                continue;
            if (m_analysisSlot.isStale(job))
                throw engine::Cancelled();
            auto& out = side == Side::ViT ? analysis->vit : analysis->cnn;
            if (const auto& kept = side == Side::ViT ? keptVit : keptCnn) {
                out = kept;  // its trace and views stay
                continue;
            }
            if (!image) {
                report([this] { emit progress(tr("decoding the image")); });
                image = std::make_shared<const cv::Mat>(imaging::decodeImageRgb(imagePath.toStdString()));
                truth = groundTruth(imagePath, *image);
            }
            out = runPane(side, path, image, truth.mask, device, inputSide);
        }
        analysis->maskPath = truth.path;
        analysis->maskProblem = truth.problem;
        keepOnlyModels({modelKey(vitPath, device, inputSide), modelKey(cnnPath, device, inputSide)});
        if (m_analysisSlot.isStale(job))
            return;
        deliver(m_analysisSlot, job, [this, analysis] { emit analysisFinished(analysis); });
    });
    return job;
}

quint64 AnalysisController::runView(Side side, const std::function<engine::ViewMaps()>& work)
{
    auto& slot = m_viewSlots.at(side);
    const quint64 job = slot.start();
    post(m_pool, slot, job, [=, &slot] {
        if (slot.isStale(job))
            return;
        report([this] { emit progress(tr("computing gradients")); });
        std::shared_ptr<engine::ViewMaps> view;
        try {
            view = std::make_shared<engine::ViewMaps>(work());
        } catch (...) {
            // Only the pane's newest request is waited for: a stale one (a newer request
            // stopped it) ends silently, and cancel() speaks for every side itself.
            deliver(slot, job, [this, side] { emit viewAbandoned(side); });
            throw;  // reported by post()
        }
        deliver(slot, job, [this, job, view, side] { emit viewFinished(job, side, view); });
    });
    return job;
}

quint64 AnalysisController::computeGradientView(const std::shared_ptr<const PaneAnalysis>& pane,
                                                const engine::ViewRequest& request)
{
    return runView(pane->side, [pane, request] { return engine::computeView(*pane->model, pane->trace, request); });
}

namespace {

// `pane`'s model as a ViT with a text tower, and a prompt encoder with its tokenizer (found
// beside the weights). Throws EngineError.
std::pair<const engine::VisionTransformer*, engine::text::PromptEncoder> promptEncoderOf(const PaneAnalysis& pane)
{
    const auto* vit = dynamic_cast<const engine::VisionTransformer*>(pane.model.get());
    if (!vit || !vit->textTower())
        throw engine::EngineError(pane.model->spec().description
                                  + " has no text tower: prompts need a CLIP or SigLIP model");
    const auto& tower = *vit->textTower();
    return {vit,
            engine::text::PromptEncoder(tower, engine::text::findTokenizer(tower, engine::text::tokenizerFolder(
                                                                                      pane.modelPath.toStdString())))};
}

}  // namespace

quint64 AnalysisController::addPrompt(const std::shared_ptr<const PaneAnalysis>& pane, const QString& prompt,
                                      const QString& device, int inputSide)
{
    const quint64 job = m_promptSlot.start();
    post(m_pool, m_promptSlot, job, [=] {
        report([this] { emit progress(tr("reading the prompt")); });
        auto [vit, encoder] = promptEncoderOf(*pane);
        const auto embedding = encoder.embed({prompt.toStdString()}).to(torch::kCPU);  // [1, E]
        auto classes = embedding;
        std::vector<std::string> labels;
        if (vit->promptClasses().defined()) {  // the prompts asked before stay classes
            classes = torch::cat({vit->promptClasses().to(torch::kCPU), embedding});
            labels = vit->spec().labels;
        }
        labels.push_back(prompt.toStdString());
        const int classIndex = int(labels.size()) - 1;
        deliverWithClasses(job, pane, classes, std::move(labels), classIndex, device, inputSide);
    });
    return job;
}

quint64 AnalysisController::setLabelSet(const std::shared_ptr<const PaneAnalysis>& pane,
                                        const std::vector<std::string>& labels, const QString& device, int inputSide)
{
    const quint64 job = m_promptSlot.start();
    post(m_pool, m_promptSlot, job, [=] {
        report([this, count = labels.size()] { emit progress(tr("reading %1 class names").arg(count)); });
        auto encoder = promptEncoderOf(*pane).second;
        const auto classes = encoder.classEmbeddings(labels, {"a photo of a {}."}).to(torch::kCPU);  // [K, E]
        deliverWithClasses(job, pane, classes, labels, -1, device, inputSide);
    });
    return job;
}

void AnalysisController::deliverWithClasses(quint64 job, const std::shared_ptr<const PaneAnalysis>& pane,
                                            const torch::Tensor& classes, std::vector<std::string> labels,
                                            int classIndex, const QString& device, int inputSide)
{
    const auto& vit = dynamic_cast<const engine::VisionTransformer&>(*pane->model);
    const auto prompted = vit.withPromptClasses(classes, std::move(labels));
    auto out = std::make_shared<PaneAnalysis>(*pane);
    out->model = prompted;
    out->trace.logits = prompted->promptLogits(pane->trace.embedding);  // the image's pass is the trace's
    // The next image through this model keeps the classes, unless another model was opened meanwhile.
    if (const auto it = m_models.find(modelKey(pane->modelPath, device, inputSide));
        it != m_models.end() && it->second == pane->model)
        it->second = prompted;
    deliver(m_promptSlot, job, [this, pane, out, classIndex] { emit promptAdded(pane, out, classIndex); });
}

quint64 AnalysisController::computeFieldSizes(const std::shared_ptr<const Analysis>& analysis)
{
    const quint64 job = m_fieldSizesSlot.start();
    post(m_pool, m_fieldSizesSlot, job, [=, last = m_lastFieldSizes] {
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
            if (m_fieldSizesSlot.isStale(job))
                throw engine::Cancelled();
            report([this] { emit progress(tr("measuring effective receptive fields")); });
            out = engine::effectiveFieldSizes(*pane->model, pane->trace.input);
        }
        deliver(m_fieldSizesSlot, job, [this, sizes] {
            m_lastFieldSizes = sizes;
            emit fieldSizesFinished(sizes);
        });
    });
    return job;
}

quint64 AnalysisController::compareLayers(const QString& folder, const std::shared_ptr<const engine::Classifier>& vit,
                                          const std::shared_ptr<const engine::Classifier>& cnn, int batchSize)
{
    const quint64 job = m_similaritySlot.start();
    post(m_studyPool, m_similaritySlot, job, [=] {
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
        deliver(m_similaritySlot, job, [this, result] { emit similarityFinished(result); });
    });
    return job;
}

quint64 AnalysisController::localize(const QString& folder, const std::shared_ptr<const engine::Classifier>& vit,
                                     const std::shared_ptr<const engine::Classifier>& cnn, int batchSize)
{
    const quint64 job = m_localizationSlot.start();
    post(m_studyPool, m_localizationSlot, job, [=] {
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
        deliver(m_localizationSlot, job, [this, result] { emit localizationFinished(result); });
    });
    return job;
}

quint64 AnalysisController::probeLayers(const QString& data, const std::shared_ptr<const engine::Classifier>& vit,
                                        const std::shared_ptr<const engine::Classifier>& cnn,
                                        const engine::LabelledSetOptions& options)
{
    const quint64 job = m_probesSlot.start();
    post(m_studyPool, m_probesSlot, job, [=] {
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
        deliver(m_probesSlot, job, [this, result] { emit probesFinished(result); });
    });
    return job;
}

quint64 AnalysisController::auditFolder(const QString& folder, const QString& vitPath, const QString& cnnPath,
                                        const QString& device, int inputSide,
                                        const std::vector<engine::ViewMethod>& methods, std::size_t limit,
                                        std::size_t randomisationImages)
{
    const quint64 job = m_auditSlot.start();
    post(m_studyPool, m_auditSlot, job, [=] {
        auto result = std::make_shared<FolderAuditResult>();
        result->folder = folder;
        const auto all = imaging::audit::imagesToAudit(folder.toStdString());
        if (all.empty())
            throw engine::EngineError("no images in '" + folder.toStdString() + "'");
        const auto images = imaging::audit::spreadOver(all, limit);
        result->imagesInFolder = all.size();
        result->imagesUsed = images.size();
        result->randomisationImages = std::min(randomisationImages, images.size());
        auto& models = result->models;
        for (const auto& [side, path] : {std::pair{Side::ViT, vitPath}, std::pair{Side::CNN, cnnPath}})
            if (!path.isEmpty()) {
                const auto title = sideTitle(side);
                report([this, title] { emit progress(tr("audit: loading the %1").arg(title)); });
                std::shared_ptr<const engine::Classifier> copy = engine::loadClassifier(path.toStdString(),
                                                                                        loadOptions(device, inputSide));
                auto offered = engine::auditableMethods(copy->spec().family);
                offered.erase(std::remove_if(offered.begin(), offered.end(),
                                             [&](engine::ViewMethod m) {
                                                 return std::find(methods.begin(), methods.end(), m) == methods.end();
                                             }),
                              offered.end());
                if (!offered.empty())
                    models.push_back(imaging::audit::modelAudit(path.toStdString(), copy, offered));
            }
        if (models.empty())
            throw engine::EngineError("none of the methods chosen for the audit applies to the models shown");
        imaging::audit::FolderAudit audit(models, {}, randomisationImages, 0);
        for (std::size_t i = 0; i < images.size(); ++i) {
            engine::throwIfCancelled();
            report([this, i, n = images.size()] { emit progress(tr("audit: image %1 of %2").arg(i + 1).arg(n)); });
            audit.audit(i, images[i]);
        }
        result->withMask = audit.withMask();
        result->skipped = audit.skipped();
        for (auto& m : models)
            m.model.reset();  // the copies go now; the tallies stay
        deliver(m_auditSlot, job, [this, result] { emit auditFinished(result); });
    });
    return job;
}

quint64 AnalysisController::compareWithRegister(const std::shared_ptr<const PaneAnalysis>& vit)
{
    const quint64 job = m_registerSlot.start();
    post(m_studyPool, m_registerSlot, job, [=] {
        const auto* model = dynamic_cast<const engine::VisionTransformer*>(vit->model.get());
        if (!model)
            throw engine::EngineError("a test-time register needs a ViT");
        auto result = std::make_shared<RegisterComparison>();
        result->pane = vit;
        report([this] { emit progress(tr("test-time register: finding the register neurons")); });
        result->search = engine::findRegisterNeurons(*model, {vit->trace.input});
        const auto with = model->withTestTimeRegister(result->search.chosen)->forwardBatch(vit->trace.input).at(0);
        result->with = engine::studyTokens(with);
        result->effect = engine::registerEffect(vit->trace, with);
        deliver(m_registerSlot, job, [this, result] { emit registerCompared(result); });
    });
    return job;
}

quint64 AnalysisController::computeFaithfulness(const std::vector<FaithfulnessRequest>& requests)
{
    const quint64 job = m_faithfulnessSlot.start();
    // Beside the views, as CKA: inference on the panes' const models is safe there.
    post(m_studyPool, m_faithfulnessSlot, job, [=] {
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
            if (r.pane->mask.defined()) {
                engine::AuditOptions options;
                options.tolerance = curves.tolerance = engine::pointingTolerance(spec.preprocessing);
                options.causal = false;  // the curves above
                curves.maskScores = engine::scoreMap(*r.pane->model, r.pane->trace,
                                                     r.map.to(torch::kCPU, torch::kFloat32), r.pane->mask,
                                                     curves.scores.classIndex, options);
            }
            const auto c = std::size_t(curves.scores.classIndex);
            if (r.classIndex < 0)  // a class-specific view's caption names its class already
                curves.predictedClass = c < spec.labels.size() ? QString::fromStdString(spec.labels[c])
                                                               : QString::number(c);
            plot->panes.push_back(r.pane);
        }
        deliver(m_faithfulnessSlot, job, [this, plot] { emit faithfulnessFinished(plot); });
    });
    return job;
}

void AnalysisController::markAllStale()
{
    for (auto* slot : {&m_analysisSlot, &m_fieldSizesSlot, &m_similaritySlot, &m_faithfulnessSlot, &m_localizationSlot,
                       &m_probesSlot, &m_auditSlot})
        slot->cancel();
    for (auto& [side, slot] : m_viewSlots)
        slot.cancel();
}

void AnalysisController::cancel()
{
    // Everything queued or running is now stale and ends at its next step, silently.
    markAllStale();
    if (busy()) {
        emit failed(0, tr("cancelled"));
        for (const auto& [side, slot] : m_viewSlots)
            emit viewAbandoned(side);
    }
}

}  // namespace attnviz::ui
