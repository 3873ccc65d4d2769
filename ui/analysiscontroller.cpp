#include "ui/analysiscontroller.h"

#include "core/engine/gradientmethods.h"
#include "core/imaging/imagedecoder.h"
#include "core/imaging/preprocess.h"

#include <QMetaObject>

#include <c10/util/Exception.h>

namespace attnviz::ui {
namespace {

class Cancelled : public std::runtime_error {
public:
    Cancelled()
        : std::runtime_error("cancelled")
    {
    }
};

QString firstLine(const char* text)
{
    const auto s = QString::fromUtf8(text);
    return s.left(s.indexOf(QLatin1Char('\n')));
}

}  // namespace

AnalysisController::AnalysisController(QObject* parent)
    : QObject(parent)
{
    m_pool.setMaxThreadCount(1);  // one model job at a time; newer ones queue behind it
    m_latestView[QStringLiteral("vit")] = 0;
    m_latestView[QStringLiteral("cnn")] = 0;
}

AnalysisController::~AnalysisController()
{
    m_cancel = true;
    m_pool.waitForDone();
}

void AnalysisController::post(std::function<void()> work)
{
    if (m_running++ == 0)
        emit busyChanged(true);
    m_pool.start([this, work = std::move(work)] {
        QString error;
        try {
            work();
        } catch (const Cancelled&) {
            error = tr("cancelled");
        } catch (const c10::Error& e) {
            error = firstLine(e.what_without_backtrace());
        } catch (const std::exception& e) {
            error = firstLine(e.what());
        }
        report([this, error] {
            if (!error.isEmpty())
                emit failed(0, error);
            if (--m_running == 0)
                emit busyChanged(false);
        });
    });
}

void AnalysisController::report(std::function<void()> onGuiThread)
{
    QMetaObject::invokeMethod(this, std::move(onGuiThread), Qt::QueuedConnection);
}

std::shared_ptr<engine::Classifier> AnalysisController::model(const QString& path, const QString& device)
{
    const auto key = device + QLatin1Char('|') + path;
    auto it = m_models.find(key);
    if (it != m_models.end())
        return it->second;
    engine::LoadOptions options;
    options.device = device.toStdString();
    std::shared_ptr<engine::Classifier> loaded = engine::loadClassifier(path.toStdString(), options);
    m_models[key] = loaded;
    return loaded;
}

quint64 AnalysisController::analyze(const QString& imagePath, const QString& vitPath, const QString& cnnPath,
                                    const QString& device)
{
    const quint64 job = m_nextJob++;
    m_latestAnalysis = job;
    m_cancel = false;
    post([=] {
        const auto stale = [&] { return job != m_latestAnalysis.load(); };
        if (stale())
            return;
        auto analysis = std::make_shared<Analysis>();
        analysis->job = job;
        analysis->imagePath = imagePath;
        report([this] { emit progress(tr("decoding the image")); });
        const auto image = imaging::decodeImageRgb(imagePath.toStdString());
        for (const auto& [role, path] : {std::pair{QStringLiteral("vit"), vitPath}, std::pair{QStringLiteral("cnn"), cnnPath}}) {
            if (path.isEmpty())
                continue;
            if (m_cancel)
                throw Cancelled();
            report([this, role = role] { emit progress(tr("running the %1").arg(role == QLatin1String("vit") ? tr("ViT") : tr("CNN"))); });
            auto pane = std::make_shared<PaneAnalysis>();
            pane->role = role;
            pane->modelPath = path;
            const auto loaded = model(path, device);
            const bool wantVit = role == QLatin1String("vit");
            if ((loaded->spec().family == engine::Family::ViT) != wantVit)
                throw std::runtime_error((wantVit ? "the ViT side needs a ViT, but '" : "the CNN side needs a CNN, but '")
                                         + path.toStdString() + "' is a " + loaded->spec().description);
            pane->model = loaded;
            pane->trace = loaded->forward(imaging::preprocessImage(image, loaded->spec().preprocessing).tensor);
            (wantVit ? analysis->vit : analysis->cnn) = pane;
        }
        if (stale())
            return;
        report([this, analysis, job] {
            if (job == m_latestAnalysis.load())
                emit analysisFinished(analysis);
        });
    });
    return job;
}

quint64 AnalysisController::runView(const QString& role, std::function<engine::ViewMaps()> work)
{
    const quint64 job = m_nextJob++;
    auto& latest = m_latestView[role];
    latest = job;
    m_cancel = false;
    post([=, &latest] {
        if (job != latest.load())
            return;
        report([this] { emit progress(tr("computing gradients")); });
        auto view = std::make_shared<engine::ViewMaps>(work());
        report([this, job, view, role, &latest] {
            if (job == latest.load())
                emit viewFinished(job, role, view);
        });
    });
    return job;
}

quint64 AnalysisController::computeGradientView(std::shared_ptr<const PaneAnalysis> pane,
                                                const engine::ViewRequest& request)
{
    return runView(pane->role, [pane, request] { return engine::computeView(*pane->model, pane->trace, request); });
}

quint64 AnalysisController::computeEffectiveField(std::shared_ptr<const PaneAnalysis> pane, const QString& layer, int row,
                                                  int col)
{
    return runView(pane->role, [pane, layer, row, col] {
        engine::ViewMaps view;
        view.method = "erf";
        view.layers = {layer.toStdString()};
        view.heads = {"-"};
        const auto erf = engine::effectiveReceptiveField(*pane->model, pane->trace.input, layer.toStdString(), row, col);
        view.maps = erf.unsqueeze(0).unsqueeze(0);  // [1, 1, H, W]
        return view;
    });
}

void AnalysisController::cancel()
{
    m_cancel = true;
    m_latestAnalysis = m_nextJob++;  // whatever is queued or running is now stale
    for (auto& [role, latest] : m_latestView)
        latest = m_nextJob++;
}

}  // namespace attnviz::ui
