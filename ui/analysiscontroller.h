#pragma once

#include "core/engine/evaluation/audit.h"
#include "core/engine/evaluation/faithfulness.h"
#include "core/engine/jobslot.h"
#include "core/engine/methods/effectivefield.h"
#include "core/engine/methods/methodtable.h"
#include "core/engine/model/classifier.h"
#include "core/engine/study/artifacttokens.h"
#include "core/engine/study/ckastudy.h"
#include "core/engine/study/headtable.h"
#include "core/engine/study/linearprobe.h"
#include "core/engine/study/localization.h"
#include "core/engine/study/testtimeregisters.h"
#include "core/imaging/audit/folderaudit.h"
#include "core/imaging/preprocess.h"
#include "ui/side.h"

#include <QObject>
#include <QString>
#include <QThreadPool>

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <optional>

namespace attnviz::ui {

// One model's part of an analysis: the model and the trace of its one forward pass,
// and where its input came from (the decoded image and the part of it the model saw).
struct PaneAnalysis {
    Side side = Side::ViT;
    QString modelPath;
    std::shared_ptr<const engine::Classifier> model;
    engine::Trace trace;
    // A ViT's token norms, artifact tokens and head table, derived from the trace on the
    // worker (a ViT-L's head table reads every attention weight twice).
    std::optional<engine::TokenStudy> tokens;
    std::vector<engine::HeadStats> heads;
    std::shared_ptr<const cv::Mat> image;  // RGB, shared by both sides
    imaging::CropBox crop;
    // The image's ground truth at the model input, bool [H, W], when it has a mask
    // (imaging::findMaskFor); undefined otherwise.
    torch::Tensor mask;
};

struct Analysis {
    quint64 job = 0;
    QString imagePath;
    QString device;
    int inputSide = 0;  // 0: each checkpoint's own size
    std::shared_ptr<const PaneAnalysis> vit, cnn;
    QString maskPath;     // the image's ground-truth mask, "" when it has none
    QString maskProblem;  // why that mask was not used (wrong size, empty, ...), or ""
};

// The effective field size of the centre unit of every stage / block of both models
// on the analysed image, for the receptive-field plot.
struct FieldSizes {
    quint64 analysisJob = 0;
    std::vector<engine::EffectiveFieldSize> vit, cnn;
    // The sides they were measured on: a side taken over unchanged by the next analysis
    // keeps its sizes, not measured again.
    std::shared_ptr<const PaneAnalysis> vitPane, cnnPane;
};

// Linear CKA between the layers of both models over a folder of images.
struct LayerSimilarity {
    QString folder;
    std::size_t imagesInFolder = 0;
    engine::CkaStudy study;
    std::map<std::string, std::string> descriptions;  // role -> the model's description
};

// Spatial localisation of each model over a folder of images (docs/methods.md).
struct SpatialLocalization {
    QString folder;
    std::size_t imagesInFolder = 0;
    std::vector<std::pair<Side, engine::Localization>> sides;
};

// Layer-wise linear probes of each model on a labelled set.
struct LayerProbes {
    QString data;
    QString source;  // what the set is: "IDX files, splits train / t10k"
    std::vector<std::pair<Side, engine::ProbeStudy>> sides;
};

// Every method of both models audited over a folder (docs/audit.md): a benchmark or
// images with their masks beside them.
struct FolderAuditResult {
    QString folder;
    std::size_t imagesInFolder = 0;
    std::size_t imagesUsed = 0;  // spread over the folder
    std::size_t withMask = 0;
    std::size_t randomisationImages = 0;             // the first of those used
    std::vector<imaging::audit::ModelAudit> models;  // each one's family is its side; the models released
    std::vector<imaging::audit::Skip> skipped;
};

// What a pane shows, to be scored by deletion and insertion (docs/methods.md).
struct FaithfulnessRequest {
    std::shared_ptr<const PaneAnalysis> pane;
    torch::Tensor map;    // [h, w] over the model's grid
    int classIndex = -1;  // the class the view explains; -1: the predicted one
    QString caption;      // what the map is: "attention · block 5 · head mean"
};

// The deletion and insertion curves of each pane's shown map.
struct FaithfulnessCurves {
    Side side = Side::ViT;
    QString caption;
    QString predictedClass;  // the class followed when the view explains none, else ""
    engine::Faithfulness scores;
    // Against the pane's mask, when the image has one: pointing game, energy, IoU.
    engine::ImageScores maskScores;
    double tolerance = 0;  // the pointing game's, in model-input pixels
};
struct FaithfulnessPlot {
    std::vector<FaithfulnessCurves> sides;
    std::vector<std::shared_ptr<const PaneAnalysis>> panes;  // the traces they were scored on
};

// What a test-time register (engine::VisionTransformer::withTestTimeRegister) does to the
// ViT on the analysed image: the register neurons found on that image (engine::
// findRegisterNeurons with its defaults), the token study with the register, and its
// effect (the CLS token's attention over the patches included).
struct RegisterComparison {
    std::shared_ptr<const PaneAnalysis> pane;  // the ViT pane it was asked for
    engine::RegisterNeuronSearch search;
    engine::TokenStudy with;
    engine::RegisterEffect effect;
};

// Runs everything that touches a model on worker threads, so the window never waits:
// loading models (cached by path, device and input size), the forward passes and the views that
// need gradients on one thread, in order; CKA over a folder on a second one. Jobs carry
// ids; each kind of job has a slot (engine::JobSlot) where the newest request wins, and
// older jobs stop at their next step and drop their results. cancel() makes every job stale.
class AnalysisController : public QObject {
    Q_OBJECT
public:
    explicit AnalysisController(QObject* parent = nullptr);
    ~AnalysisController() override;

    // Decodes the image, loads the models (an empty path leaves that side out) and runs
    // each once, at `inputSide` x `inputSide` pixels (0: each checkpoint's own size).
    // A side of `previous` with the same image, model, device and size is taken over as
    // it is, not run again (nor the image decoded for it). Emits analysisFinished or failed.
    quint64 analyze(const QString& imagePath, const QString& vitPath, const QString& cnnPath, const QString& device,
                    int inputSide = 0, std::shared_ptr<const Analysis> previous = nullptr);
    // A view that runs the model (Grad-CAM, gradient rollout, a unit's effective field).
    // Emits viewFinished or failed.
    quint64 computeGradientView(const std::shared_ptr<const PaneAnalysis>& pane, const engine::ViewRequest& request);
    // A prompt asked of a CLIP or SigLIP ViT (`pane`'s model, loaded at `device` and
    // `inputSide`): its text embedding joins the model's prompt classes in a new model
    // (VisionTransformer::withPromptClasses, so the pane on screen is untouched), which
    // replaces the loaded one for the analyses that follow; the new scores come from the
    // trace's image embedding, with no pass of the image. Each prompt's text tower runs
    // once: the earlier ones are kept as the model's classes. Emits promptAdded or failed
    // (no text tower, no tokenizer file, an empty or over-long prompt).
    quint64 addPrompt(const std::shared_ptr<const PaneAnalysis>& pane, const QString& prompt, const QString& device,
                      int inputSide);
    // Zero-shot classes for the same kind of model: `labels` under the template "a photo of
    // a {}." (PromptEncoder::classEmbeddings) replace its classes, as addPrompt does
    // otherwise; prompts typed later join them. Emits promptAdded with class -1 or failed.
    quint64 setLabelSet(const std::shared_ptr<const PaneAnalysis>& pane, const std::vector<std::string>& labels,
                        const QString& device, int inputSide);
    // Effective field sizes of both panes of `analysis`. Emits fieldSizesFinished or failed.
    quint64 computeFieldSizes(const std::shared_ptr<const Analysis>& analysis);
    // Minibatch CKA over the images directly in `folder` (in minibatches of
    // `batchSize`), for whichever of the two models is given (the panes' own, so no
    // second copy is loaded); runs beside the views. Emits similarityFinished or failed.
    quint64 compareLayers(const QString& folder, const std::shared_ptr<const engine::Classifier>& vit,
                          const std::shared_ptr<const engine::Classifier>& cnn, int batchSize = 32);
    // Spatial localisation over the images directly in `folder`, beside the views like
    // CKA. Emits localizationFinished or failed.
    quint64 localize(const QString& folder, const std::shared_ptr<const engine::Classifier>& vit,
                     const std::shared_ptr<const engine::Classifier>& cnn, int batchSize = 16);
    // A linear probe per layer on a labelled set (IDX files or an ImageFolder tree),
    // beside the views. Emits probesFinished or failed.
    quint64 probeLayers(const QString& data, const std::shared_ptr<const engine::Classifier>& vit,
                        const std::shared_ptr<const engine::Classifier>& cnn,
                        const engine::LabelledSetOptions& options);
    // The audit (imaging::audit) of those of `methods` each model offers (engine::
    // auditableMethods) over `folder` (imaging::audit::imagesToAudit), on `limit` images
    // spread over it, the randomisation check on the first `randomisationImages` of them;
    // beside the views, with copies of the models at the paths loaded for it, since the
    // check randomises their weights. Emits auditFinished or failed.
    quint64 auditFolder(const QString& folder, const QString& vitPath, const QString& cnnPath, const QString& device,
                        int inputSide, const std::vector<engine::ViewMethod>& methods, std::size_t limit = 100,
                        std::size_t randomisationImages = 10);
    // The test-time register of `vit`'s model on its analysed image, beside the views (a
    // pass per block searched, and one with the register). Emits registerCompared or
    // failed (a ViT without artifacts on this image has no register neurons to find).
    quint64 compareWithRegister(const std::shared_ptr<const PaneAnalysis>& vit);
    // Deletion and insertion curves of each request's map, beside the views (a few dozen
    // forward passes per pane). Emits faithfulnessFinished or failed.
    quint64 computeFaithfulness(const std::vector<FaithfulnessRequest>& requests);
    // Stops everything queued or running at its next step and says "cancelled".
    void cancel();
    bool busy() const { return m_running.load() > 0; }

signals:
    void analysisFinished(std::shared_ptr<const attnviz::ui::Analysis> analysis);
    void viewFinished(quint64 job, attnviz::ui::Side side, std::shared_ptr<const attnviz::engine::ViewMaps> view);
    // The view a pane waits for will not come (it failed or was cancelled).
    void viewAbandoned(attnviz::ui::Side side);
    // `prompted` is `original` through the model whose class `classIndex` is the prompt.
    void promptAdded(std::shared_ptr<const attnviz::ui::PaneAnalysis> original,
                     std::shared_ptr<const attnviz::ui::PaneAnalysis> prompted, int classIndex);
    void fieldSizesFinished(std::shared_ptr<const attnviz::ui::FieldSizes> sizes);
    void similarityFinished(std::shared_ptr<const attnviz::ui::LayerSimilarity> similarity);
    void faithfulnessFinished(std::shared_ptr<const attnviz::ui::FaithfulnessPlot> plot);
    void localizationFinished(std::shared_ptr<const attnviz::ui::SpatialLocalization> localization);
    void probesFinished(std::shared_ptr<const attnviz::ui::LayerProbes> probes);
    void auditFinished(std::shared_ptr<const attnviz::ui::FolderAuditResult> audit);
    void registerCompared(std::shared_ptr<const attnviz::ui::RegisterComparison> comparison);
    // A job's one-line error; job 0 for cancel(). Stale jobs never fail aloud.
    void failed(quint64 job, QString message);
    void progress(QString message);
    void busyChanged(bool busy);

private:
    // Worker thread only; cached by path, device and input size.
    std::shared_ptr<engine::Classifier> model(const QString& path, const QString& device, int inputSide);
    // Worker thread only, for addPrompt and setLabelSet: `pane`'s model, which must have a
    // text tower, with the classes [K, E] labelled `labels`, its scores from the pane's trace;
    // it replaces the loaded model. Delivers promptAdded(pane, the new pane, classIndex).
    void deliverWithClasses(quint64 job, const std::shared_ptr<const PaneAnalysis>& pane, const torch::Tensor& classes,
                            std::vector<std::string> labels, int classIndex, const QString& device, int inputSide);
    // Worker thread only: the models on screen (by modelKey) stay loaded, no others.
    void keepOnlyModels(const std::array<QString, 2>& keys);
    // Worker thread only: the model at `path` (loaded or cached) run once on `image` (RGB)
    // for `side`. Throws EngineError for a model of the other family.
    // `mask`: the image's ground truth (imaging::readMask), empty when it has none.
    std::shared_ptr<PaneAnalysis> runPane(Side side, const QString& path, const std::shared_ptr<const cv::Mat>& image,
                                          const cv::Mat& mask, const QString& device, int inputSide);
    // Runs job `job` of `slot` on `pool` inside a cancellation scope on the slot's stale
    // predicate, reporting the busy state and an exception as failed(job) unless the job
    // is stale by then.
    void post(QThreadPool& pool, const engine::JobSlot& slot, quint64 job, std::function<void()> work);
    void markAllStale();
    // A view for one pane computed on the worker; newer views for that pane win.
    quint64 runView(Side side, const std::function<engine::ViewMaps()>& work);
    void report(std::function<void()> onGuiThread);
    // Runs `onGuiThread` on the GUI thread if `job` is still `slot`'s current job by then.
    void deliver(const engine::JobSlot& slot, quint64 job, std::function<void()> onGuiThread);

    // One counter for every kind of job, so a job id is unique among them all.
    engine::JobTickets m_tickets;
    engine::JobSlot m_analysisSlot{m_tickets};
    std::map<Side, engine::JobSlot> m_viewSlots;  // per side
    engine::JobSlot m_promptSlot{m_tickets};
    engine::JobSlot m_fieldSizesSlot{m_tickets};
    engine::JobSlot m_similaritySlot{m_tickets};
    engine::JobSlot m_faithfulnessSlot{m_tickets};
    engine::JobSlot m_localizationSlot{m_tickets};
    engine::JobSlot m_probesSlot{m_tickets};
    engine::JobSlot m_auditSlot{m_tickets};
    engine::JobSlot m_registerSlot{m_tickets};
    QThreadPool m_pool;                                  // analyses and views: one job at a time, in order
    QThreadPool m_studyPool;                             // CKA over a folder: minutes long, so beside the views
    std::shared_ptr<const FieldSizes> m_lastFieldSizes;  // GUI thread
    std::atomic<int> m_running{0};
    std::map<QString, std::shared_ptr<engine::Classifier>> m_models;  // worker thread only
};

}  // namespace attnviz::ui
