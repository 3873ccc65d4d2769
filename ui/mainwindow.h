#pragma once

#include "ui/analysiscontroller.h"

#include "core/engine/methods/methodlist.h"

#include <QMainWindow>

#include <QPointF>
#include <QStringList>
#include <QUndoStack>

#include <functional>
#include <optional>
#include <vector>

class QComboBox;
class QDockWidget;
class QMenu;
class QLabel;
class QPushButton;

namespace attnviz::ui {

class MessageLine;
class ModelPane;
class PlotsPanel;

// What the window starts with; empty paths fall back to the shipped models / sample.
struct StartOptions {
    QString image;
    QString vit;
    QString cnn;
    QString device;                // empty: the last one used, else cpu
    QString images;                // a folder whose images the layers are compared on (CKA) at start
    QString localize;              // a folder to measure spatial localisation on at start
    QString audit;                 // a folder to audit the methods on at start
    QString probeData;             // a labelled set (IDX files or an ImageFolder tree) to probe the layers on at start
    QString screenshot;            // save the window here once the analysis is shown, then quit
    QString plot;                  // the plot shown first: one of PlotsPanel::plotNames()
    std::optional<QPointF> click;  // a click on the image at start, x and y in [0, 1)
    std::optional<engine::ViewMethod> method;  // shown at start in each pane whose model it fits
    QString prompt;                            // a prompt asked of the ViT at start (a CLIP or SigLIP model)
    bool testTimeRegister = false;             // the Tokens tab's Test-time register pressed at start
};

// The application window: the image's two readings side by side, ViT left, CNN
// right. Arrow keys and PgUp/PgDn browse layers and heads of the pane in focus.
class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(const StartOptions& options = {}, QWidget* parent = nullptr);

    void openImage(const QString& path);
    void openModel(Side side, const QString& path);
    // Linear CKA between the layers of both models over the images in `folder`.
    void compareLayers(const QString& folder);
    void localize(const QString& folder);
    // The audit of `methods` (none: AuditDialog::quickMethods of the models shown) on at
    // most `limit` images spread over `folder`.
    void auditMethods(const QString& folder, std::vector<engine::ViewMethod> methods = {}, std::size_t limit = 100);
    // At most 10,000 training and 2,000 held-out images, so that the window answers in
    // minutes; attnviz-cli probe takes any number.
    void probeLayers(const QString& data);
    ModelPane* pane(Side side) const;
    PlotsPanel* plots() const { return m_plots; }
    QString errorText() const;
    AnalysisController& controller() { return m_controller; }

signals:
    void analysisShown();

protected:
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;
    void closeEvent(QCloseEvent* event) override;

private:
    // The constructor's parts, in order. choosePaths: the models and image the first
    // analysis opens; returns the remembered models that are gone.
    QStringList choosePaths();
    void buildPanes();
    QDockWidget* buildPlotsDock();
    void buildStatusBar();
    void connectController();
    void connectPanes();
    void linkPictures();  // zoom, pan and size shared by both pictures
    void buildMenus();
    void addOpenActions(QMenu* file);
    void chooseModel(Side side);  // the Open model dialog
    void addExportActions(QMenu* exports);
    void buildAnalysisMenu();
    void buildHelpMenu();
    static QString keysHelp();
    static QString methodsHelp();
    static QString aboutText();
    void buildDeviceChooser();
    // A menu entry that asks for a PNG path, suggesting suggest(), and calls `write`;
    // failures show as errors.
    void exportAction(QMenu* menu, const QString& text, std::function<QString()> suggest,
                      std::function<void(const QString&)> write);
    QString shownImage() const;  // the path of the image analysed; empty before the first analysis
    // `name` beside the image analysed, after its name: "<folder>/<image>-<name>".
    QString exportPath(const QString& name) const;
    // Runs the image through both models; KeepUnchangedSide takes over a side whose model,
    // image, device and size are those shown (a model opened for the other side).
    enum Reuse { RunBoth, KeepUnchangedSide };
    void analyze(Reuse reuse = RunBoth);
    void showAnalysis(const std::shared_ptr<const Analysis>& analysis);
    // The ViT pane's prompt asked of its model, shown when it comes back (showPrompt).
    void askPrompt(const QString& prompt);
    // The ViT's classes made of the label file's names (the bundled ImageNet names for
    // ""), under "a photo of a {}.", shown like a prompt's answer with the top-1 class.
    void setZeroShotLabels(const QString& file);
    void showPrompt(const std::shared_ptr<const PaneAnalysis>& original,
                    const std::shared_ptr<const PaneAnalysis>& prompted, int classIndex);
    // The image and models the next analysis opens become those of `analysis`.
    void openedPathsFrom(const Analysis& analysis);
    void showError(const QString& message);
    void clearError();
    void showOwnInputSizes(const Analysis& analysis);  // in the Input size box's first item
    void maybeTakeScreenshot();
    // False, with an error line, while no analysis is shown ("…; `then` once an image is analysed").
    bool modelsLoaded(const QString& then);
    std::shared_ptr<const engine::Classifier> shownModel(Side side) const;  // of the analysis shown
    std::vector<engine::Family> shownFamilies() const;                      // of the models shown
    // A folder study's result: `put` hands it to the plots, which then come into view.
    void showStudy(const std::function<void()>& put);
    // The faithfulness plot's curves for the maps on screen, unless asked for already.
    void requestFaithfulnessIfShown();

    AnalysisController m_controller;
    QUndoStack m_history;  // the panes' view changes since the analysis shown (Edit → Undo)
    StartOptions m_options;
    QString m_image, m_vit, m_cnn;  // what the next analysis opens
    QString m_faithfulnessKey;      // the maps whose faithfulness was asked for last
    std::shared_ptr<const Analysis> m_shown;
    quint64 m_requestedAnalysis = 0;
    quint64 m_askedPrompt = 0;  // the prompt job whose answer is awaited (the newest), or 0
    quint64 m_registerJob = 0;  // the newest test-time register asked of the controller
    ModelPane* m_vitPane = nullptr;
    ModelPane* m_cnnPane = nullptr;
    PlotsPanel* m_plots = nullptr;
    MessageLine* m_error = nullptr;
    QLabel* m_progress = nullptr;
    QPushButton* m_cancel = nullptr;
    QComboBox* m_device = nullptr;
    QComboBox* m_inputSize = nullptr;
    bool m_screenshotTaken = false;
    bool m_startOptionsApplied = false;  // --images and --click act on the first analysis only
    QString m_notice;                    // shown until the first analysis replaces it
};

// The shipped models and sample, found next to the executable or in the source tree.
QString defaultModelPath(Side side);
QString defaultImagePath();

}  // namespace attnviz::ui
