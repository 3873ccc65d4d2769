#include "ui/mainwindow.h"

#include "ui/appsettings.h"
#include "ui/auditdialog.h"
#include "ui/messageline.h"
#include "ui/pane/modelpane.h"
#include "ui/pane/viewhistory.h"
#include "ui/plotspanel.h"
#include "ui/tokenspanel.h"

#include "core/engine/errormessage.h"
#include "core/engine/methods/methodtable.h"
#include "core/engine/model/device.h"
#include "core/io/buildinfo.h"
#include "core/io/labels.h"
#include "core/io/shippeddata.h"

#include <QApplication>
#include <QClipboard>
#include <QCloseEvent>
#include <QComboBox>
#include <QDir>
#include <QDockWidget>
#include <QDragEnterEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QPushButton>
#include <QSplitter>
#include <QStatusBar>
#include <QTimer>
#include <QToolBar>
#include <QVBoxLayout>

#include <utility>

namespace attnviz::ui {

// The colour models trained on the project's benchmark (docs/audit.md), and one of its
// test scenes with its mask beside it, so that a first start shows maps that can be
// right or wrong and the Trust tab has something to score.
QString defaultModelPath(Side side)
{
    return QString::fromStdString(io::shippedModel(side == Side::ViT ? "vit-shapes" : "cnn-shapes"));
}

QString defaultImagePath()
{
    return QString::fromStdString(io::shippedResource("scenes/00006-square.png"));
}

MainWindow::MainWindow(const StartOptions& options, QWidget* parent)
    : QMainWindow(parent)
    , m_options(options)
{
    setWindowTitle(tr("attnviz"));
    setAcceptDrops(true);
    const auto gone = choosePaths();
    buildPanes();
    auto* dock = buildPlotsDock();
    buildStatusBar();
    connectController();
    connectPanes();
    linkPictures();
    buildMenus();
    buildDeviceChooser();
    m_vitPane->restoreSettings();
    m_cnnPane->restoreSettings();
    resize(settings::windowSize(QSize(1180, 1080)));
    if (!restoreState(settings::windowState()))
        resizeDocks({dock}, {300}, Qt::Vertical);  // the first start: the same layout every time
    m_vitPane->setFocus();
    QTimer::singleShot(0, this, [this] { analyze(); });
    if (!gone.isEmpty())
        statusBar()->showMessage(tr("The model last used is gone (%1): showing the shipped one instead.")
                                     .arg(gone.join(QStringLiteral(", "))),
                                 15000);
}

QStringList MainWindow::choosePaths()
{
    // Absolute paths, so that settings and recent files work from any directory.
    const auto absolute = [](const QString& path) { return QFileInfo(path).absoluteFilePath(); };
    // A model remembered from the last session may have been moved or deleted since: the
    // shipped one then, and a note, rather than a window with nothing in it. A model
    // given on the command line that is missing is an error, as the user asked for it.
    QStringList gone;
    const auto remembered = [&gone](Side side) {
        QString path = settings::modelPath(side, defaultModelPath(side));
        if (QFileInfo::exists(path))
            return path;
        gone << path;
        return defaultModelPath(side);
    };
    m_vit = !m_options.vit.isEmpty() ? absolute(m_options.vit) : remembered(Side::ViT);
    m_cnn = !m_options.cnn.isEmpty() ? absolute(m_options.cnn) : remembered(Side::CNN);
    m_image = m_options.image.isEmpty() ? defaultImagePath() : absolute(m_options.image);
    return gone;
}

void MainWindow::buildPanes()
{
    auto* central = new QWidget(this);
    auto* layout = new QVBoxLayout(central);
    auto* splitter = new QSplitter(Qt::Horizontal, central);
    m_vitPane = new ModelPane(Side::ViT, splitter);
    m_cnnPane = new ModelPane(Side::CNN, splitter);
    splitter->addWidget(m_vitPane);
    splitter->addWidget(m_cnnPane);
    layout->addWidget(splitter, 1);
    setCentralWidget(central);
}

QDockWidget* MainWindow::buildPlotsDock()
{
    auto* dock = new QDockWidget(tr("Plots"), this);
    dock->setObjectName(QStringLiteral("plotsDock"));
    m_plots = new PlotsPanel(dock);
    dock->setWidget(m_plots);
    addDockWidget(Qt::BottomDockWidgetArea, dock);
    connect(dock, &QDockWidget::visibilityChanged, this, [this](bool visible) {
        if (visible)
            requestFaithfulnessIfShown();
    });
    if (!m_options.plot.isEmpty() && !m_plots->showPlot(m_options.plot))
        QTimer::singleShot(0, this, [this] {
            showError(
                tr("unknown plot '%1' (%2)").arg(m_options.plot, PlotsPanel::plotNames().join(QStringLiteral(", "))));
        });
    // A head chosen in the head table: its attention map in the ViT pane.
    connect(m_plots->tokens(), &TokensPanel::headChosen, m_vitPane, &ModelPane::showHead);
    connect(m_plots->tokens(), &TokensPanel::registerWanted, this,
            [this](const std::shared_ptr<const PaneAnalysis>& vit) {
                m_registerJob = m_controller.compareWithRegister(vit);
            });
    connect(&m_controller, &AnalysisController::registerCompared, m_plots->tokens(),
            &TokensPanel::setRegisterComparison);
    return dock;
}

void MainWindow::buildStatusBar()
{
    // The error line sits in the status bar, so that an error moves and shrinks nothing;
    // a passing message (a hover readout) covers it for its few seconds.
    m_error = new MessageLine(this);
    m_error->setObjectName(QStringLiteral("error"));
    m_error->setStyleSheet(QStringLiteral("QLabel { color: #a00000; font-weight: bold; }"));
    m_error->hide();
    statusBar()->addWidget(m_error, 1);
    m_progress = new QLabel(this);
    m_cancel = new QPushButton(tr("Cancel"), this);
    m_cancel->setEnabled(false);
    m_cancel->setToolTip(tr("Stop the work running (the picture shown stays)"));
    statusBar()->addPermanentWidget(m_progress);
    statusBar()->addPermanentWidget(m_cancel);
    connect(m_cancel, &QPushButton::clicked, &m_controller, &AnalysisController::cancel);
    connect(&m_controller, &AnalysisController::busyChanged, this, [this](bool busy) {
        m_cancel->setEnabled(busy);
        if (!busy) {
            m_progress->clear();
            maybeTakeScreenshot();
        }
    });
    connect(&m_controller, &AnalysisController::progress, m_progress, &QLabel::setText);
}

void MainWindow::connectController()
{
    connect(&m_controller, &AnalysisController::analysisFinished, this, &MainWindow::showAnalysis);
    connect(&m_controller, &AnalysisController::failed, this, [this](quint64 job, const QString& message) {
        // An image or model that failed to open is not kept: the next analysis (on
        // another device, say) starts again from what is on screen.
        if (job == m_requestedAnalysis && m_shown)
            openedPathsFrom(*m_shown);
        if (job == m_askedPrompt)
            m_askedPrompt = 0;
        if (job == m_registerJob)
            m_plots->tokens()->setRegisterProblem(message);
        m_faithfulnessKey.clear();  // perhaps it was this job: asked again when next wanted
        showError(message);
    });
    connect(&m_controller, &AnalysisController::promptAdded, this, &MainWindow::showPrompt);
    connect(&m_controller, &AnalysisController::fieldSizesFinished, m_plots, &PlotsPanel::setFieldSizes);
    connect(&m_controller, &AnalysisController::similarityFinished, this,
            [this](std::shared_ptr<const LayerSimilarity> r) { showStudy([&] { m_plots->setSimilarity(r); }); });
    connect(&m_controller, &AnalysisController::auditFinished, this,
            [this](std::shared_ptr<const FolderAuditResult> r) { showStudy([&] { m_plots->setAudit(r); }); });
    connect(&m_controller, &AnalysisController::localizationFinished, this,
            [this](std::shared_ptr<const SpatialLocalization> r) { showStudy([&] { m_plots->setLocalization(r); }); });
    connect(&m_controller, &AnalysisController::probesFinished, this,
            [this](std::shared_ptr<const LayerProbes> r) { showStudy([&] { m_plots->setProbes(r); }); });
    connect(m_plots, &PlotsPanel::fieldSizesWanted, &m_controller, &AnalysisController::computeFieldSizes);
    connect(m_plots, &PlotsPanel::faithfulnessWanted, this, &MainWindow::requestFaithfulnessIfShown);
    connect(&m_controller, &AnalysisController::faithfulnessFinished, this,
            [this](const std::shared_ptr<const FaithfulnessPlot>& plot) {
                m_plots->setFaithfulness(plot);
                maybeTakeScreenshot();
            });
    connect(&m_controller, &AnalysisController::viewFinished, this,
            [this](quint64, Side side, const std::shared_ptr<const engine::ViewMaps>& view) {
                pane(side)->viewReady(view);
            });
    connect(&m_controller, &AnalysisController::viewAbandoned, this,
            [this](Side side) { pane(side)->viewAbandoned(); });
}

void MainWindow::connectPanes()
{
    for (auto* p : {m_vitPane, m_cnnPane}) {
        connect(p, &ModelPane::gradientViewRequested, &m_controller, &AnalysisController::computeGradientView);
        connect(p, &ModelPane::statusMessage, this,
                [this](const QString& text) { statusBar()->showMessage(text, 4000); });
        connect(p, &ModelPane::rendered, this, &MainWindow::requestFaithfulnessIfShown);
        connect(p, &ModelPane::rendered, this, &MainWindow::maybeTakeScreenshot);
        connect(p, &ModelPane::viewChanged, this, [this, p](const PaneView& before, const PaneView& after) {
            m_history.push(new ViewChange(p, before, after));
        });
    }
    // A click on either picture asks both models about that place of the image.
    connect(m_vitPane, &ModelPane::imageClicked, m_cnnPane, &ModelPane::queryAtImage);
    connect(m_cnnPane, &ModelPane::imageClicked, m_vitPane, &ModelPane::queryAtImage);
    connect(m_vitPane, &ModelPane::queryCleared, m_cnnPane, &ModelPane::clearQuery);
    connect(m_cnnPane, &ModelPane::queryCleared, m_vitPane, &ModelPane::clearQuery);
    connect(m_vitPane, &ModelPane::promptAsked, this, &MainWindow::askPrompt);
}

void MainWindow::askPrompt(const QString& prompt)
{
    if (m_shown && m_shown->vit)
        m_askedPrompt = m_controller.addPrompt(m_shown->vit, prompt, m_shown->device, m_shown->inputSide);
}

void MainWindow::setZeroShotLabels(const QString& file)
{
    if (!m_shown || !m_shown->vit)
        return;
    try {
        const auto labels = file.isEmpty() ? io::imagenetLabels() : io::readLabelFile(file.toStdString());
        m_askedPrompt = m_controller.setLabelSet(m_shown->vit, labels, m_shown->device, m_shown->inputSide);
    } catch (const std::exception& e) {
        showError(QString::fromStdString(engine::errorLine(e)));
    }
}

void MainWindow::showPrompt(const std::shared_ptr<const PaneAnalysis>& original,
                            const std::shared_ptr<const PaneAnalysis>& prompted, int classIndex)
{
    m_askedPrompt = 0;
    if (!m_shown || m_shown->vit != original)
        return;  // another image or model came first: the model keeps the prompt for later
    auto analysis = std::make_shared<Analysis>(*m_shown);
    analysis->vit = prompted;
    showAnalysis(analysis);  // the CNN side is taken over as it is
    m_vitPane->showPromptClass(classIndex);
    maybeTakeScreenshot();
}

void MainWindow::linkPictures()
{
    // Zoom and pan move both pictures together, so the same region is compared.
    // Both overlays are drawn the same size: each fits into the smaller view's area.
    const auto fitTogether = [this] {
        const auto limit = m_vitPane->overlayView()->size().boundedTo(m_cnnPane->overlayView()->size());
        m_vitPane->overlayView()->setFitLimit(limit);
        m_cnnPane->overlayView()->setFitLimit(limit);
    };
    connect(m_vitPane->overlayView(), &OverlayView::resized, this, fitTogether);
    connect(m_cnnPane->overlayView(), &OverlayView::resized, this, fitTogether);
    connect(m_vitPane->overlayView(), &OverlayView::viewportChanged, m_cnnPane->overlayView(),
            &OverlayView::setViewport);
    connect(m_cnnPane->overlayView(), &OverlayView::viewportChanged, m_vitPane->overlayView(),
            &OverlayView::setViewport);
}

void MainWindow::buildMenus()
{
    auto* file = menuBar()->addMenu(tr("&File"));
    addOpenActions(file);
    file->addSeparator();
    addExportActions(file->addMenu(tr("&Export")));
    auto* edit = menuBar()->addMenu(tr("&Edit"));
    edit->addAction(tr("&Copy ViT overlay"), QKeySequence::Copy, this,
                    [this] { QGuiApplication::clipboard()->setImage(m_vitPane->overlay()); });
    edit->addAction(tr("Copy C&NN overlay"), this,
                    [this] { QGuiApplication::clipboard()->setImage(m_cnnPane->overlay()); });
    edit->addSeparator();
    auto* undo = m_history.createUndoAction(edit, tr("&Undo"));
    undo->setObjectName(QStringLiteral("undo"));
    undo->setShortcut(QKeySequence::Undo);
    auto* redo = m_history.createRedoAction(edit, tr("&Redo"));
    redo->setObjectName(QStringLiteral("redo"));
    redo->setShortcut(QKeySequence::Redo);
    edit->addAction(undo);
    edit->addAction(redo);
    edit->addAction(tr("&Reset view"), QKeySequence(Qt::CTRL | Qt::Key_0), this, [this] {
        m_vitPane->resetView();
        m_cnnPane->resetView();
    });
    file->addSeparator();
    file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);
    buildAnalysisMenu();
    buildHelpMenu();
}

void MainWindow::addOpenActions(QMenu* file)
{
    file->addAction(tr("&Open image…"), QKeySequence::Open, this, [this] {
        const auto path = QFileDialog::getOpenFileName(this, tr("Open image"), QFileInfo(m_image).path(),
                                                       tr("Images (*.png *.jpg *.jpeg *.bmp *.webp *.tif *.tiff);;"
                                                          "All files (*)"));
        if (!path.isEmpty())
            openImage(path);
    });
    file->addAction(tr("Open &ViT model…"), this, [this] { chooseModel(Side::ViT); });
    file->addAction(tr("Open &CNN model…"), this, [this] { chooseModel(Side::CNN); });
    auto* recent = file->addMenu(tr("Open &recent"));
    connect(recent, &QMenu::aboutToShow, this, [this, recent] {
        recent->clear();
        for (const auto& path : settings::recentImages())
            recent->addAction(path, this, [this, path] { openImage(path); });
        for (const auto side : kSides) {
            const auto models = settings::recentModels(side);
            if (!models.isEmpty())
                recent->addSection(tr("%1 models").arg(sideTitle(side)));
            for (const auto& path : models)
                recent->addAction(path, this, [this, side, path] { openModel(side, path); });
        }
        recent->setEnabled(!recent->isEmpty());
    });
}

void MainWindow::chooseModel(Side side)
{
    // Beside the model shown: the shipped ones' folder, models/, at first.
    const QFileInfo shown(side == Side::ViT ? m_vit : m_cnn);
    const auto path = QFileDialog::getOpenFileName(
        this, tr("Open %1").arg(sideTitle(side)), shown.absolutePath(),
        tr("Models (*.safetensors *.pth *.pt *.bin config.json);;All files (*)"));
    if (!path.isEmpty())  // a folder model is chosen by its config.json
        openModel(side, QFileInfo(path).fileName() == QLatin1String("config.json") ? QFileInfo(path).path() : path);
}

void MainWindow::addExportActions(QMenu* exports)
{
    // Suggested names say what is in the file, beside the image analysed:
    // "0000-ankle-boot-vit-fmnist-attention-block-5-head-mean.png".
    const auto named = [this](const QString& what) { return [this, what] { return exportPath(what); }; };
    exportAction(
        exports, tr("ViT overlay…"), [this] { return exportPath(m_vitPane->exportStem() + QStringLiteral(".png")); },
        [this](const QString& path) { m_vitPane->exportOverlay(path, shownImage()); });
    exportAction(
        exports, tr("CNN overlay…"), [this] { return exportPath(m_cnnPane->exportStem() + QStringLiteral(".png")); },
        [this](const QString& path) { m_cnnPane->exportOverlay(path, shownImage()); });
    exportAction(exports, tr("ViT layer × head montage…"), named(QStringLiteral("vit-montage.png")),
                 [this](const QString& path) { m_vitPane->exportMontage(path); });
    exportAction(exports, tr("ViT head grid…"), named(QStringLiteral("vit-grid.png")),
                 [this](const QString& path) { m_vitPane->exportGrid(path); });
    exportAction(exports, tr("CNN stage column…"), named(QStringLiteral("cnn-stages.png")),
                 [this](const QString& path) { m_cnnPane->exportGrid(path); });
    exportAction(exports, tr("Current plot…"), named(QStringLiteral("plot.png")),
                 [this](const QString& path) { m_plots->exportPlot(path); });
    exportAction(exports, tr("Head table (CSV)…"), named(QStringLiteral("heads.csv")),
                 [this](const QString& path) { m_plots->tokens()->exportCsv(path); });
}

QString MainWindow::shownImage() const
{
    return m_shown ? m_shown->imagePath : QString();
}

QString MainWindow::exportPath(const QString& name) const
{
    const QFileInfo image(shownImage());
    if (!m_shown)
        return name;
    return image.dir().filePath(image.completeBaseName() + QLatin1Char('-') + name);
}

void MainWindow::buildAnalysisMenu()
{
    auto* analysis = menuBar()->addMenu(tr("&Analysis"));
    analysis->addAction(tr("Compare layers on a &folder (CKA)…"), this, [this] {
        const auto folder = QFileDialog::getExistingDirectory(this, tr("Folder of images to compare the layers on"),
                                                              QFileInfo(m_image).path());
        if (!folder.isEmpty())
            compareLayers(folder);
    });
    analysis->addAction(tr("Spatial &localisation on a folder…"), this, [this] {
        const auto folder = QFileDialog::getExistingDirectory(this, tr("Folder of images to measure localisation on"),
                                                              QFileInfo(m_image).path());
        if (!folder.isEmpty())
            localize(folder);
    });
    analysis->addAction(tr("&Probe layers on a labelled set…"), this, [this] {
        const auto data = QFileDialog::getExistingDirectory(
            this, tr("Labelled images: a folder of IDX files, or an ImageFolder tree (one subfolder per class)"),
            QFileInfo(m_image).path());
        if (!data.isEmpty())
            probeLayers(data);
    });
    analysis->addAction(tr("&Audit methods on a folder…"), this, [this] {
        if (!modelsLoaded(tr("audit the methods")))
            return;
        const auto folder = QFileDialog::getExistingDirectory(
            this, tr("A benchmark (attnviz-cli benchmark make), or images with NAME.mask.png beside them"),
            QFileInfo(m_image).path());
        if (folder.isEmpty())
            return;
        AuditDialog dialog(folder, shownFamilies(), this);
        if (dialog.exec() == QDialog::Accepted)
            auditMethods(folder, dialog.methods(), dialog.imageLimit());
    });
    analysis->addAction(tr("&Zero-shot classes from a label file…"), this, [this] {
        const auto file = QFileDialog::getOpenFileName(this, tr("Class names, one a line (for a CLIP or SigLIP ViT)"),
                                                       QFileInfo(m_image).path());
        if (!file.isEmpty())
            setZeroShotLabels(file);
    });
    analysis->addAction(tr("Zero-shot classes: &ImageNet"), this, [this] { setZeroShotLabels({}); });
    analysis->addAction(tr("&Cancel running work"), this, [this] { m_controller.cancel(); });
}

void MainWindow::buildHelpMenu()
{
    auto* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&Keyboard and mouse"), QKeySequence::HelpContents, this,
                    [this] { QMessageBox::information(this, tr("Keyboard and mouse"), keysHelp()); });
    help->addAction(tr("&Methods"), this, [this] { QMessageBox::information(this, tr("Methods"), methodsHelp()); });
    help->addAction(tr("&About attnviz"), this, [this] { QMessageBox::about(this, tr("About attnviz"), aboutText()); });
}

QString MainWindow::keysHelp()
{
    return tr("<table cellpadding=3>"
              "<tr><td>Up / Down, PgUp / PgDn</td><td>previous / next layer of the pane in focus</td></tr>"
              "<tr><td>Left / Right</td><td>previous / next head (ViT)</td></tr>"
              "<tr><td>click a picture</td><td>ask that model about the place: the ViT, where that patch attends; "
              "the CNN, that unit's receptive fields. The other pane marks the place and keeps its view.</td></tr>"
              "<tr><td>Esc</td><td>forget the place, back to the view shown before the click</td></tr>"
              "<tr><td>wheel, drag, double click</td><td>zoom, pan, reset both pictures</td></tr>"
              "<tr><td>Ctrl+Z, Ctrl+Shift+Z</td><td>undo, redo a change of a view: method, layer, head, class, "
              "place (Edit → Undo)</td></tr>"
              "<tr><td>Ctrl+0</td><td>reset both views: default method, last layer, head mean, no place, no zoom "
              "(Edit → Reset view)</td></tr>"
              "<tr><td>Ctrl+O, Ctrl+C, Ctrl+Q</td><td>open an image, copy the ViT overlay, quit</td></tr>"
              "<tr><td>F1</td><td>this list</td></tr></table>");
}

QString MainWindow::methodsHelp()
{
    QString rows;
    for (const auto& info : engine::methodTable())
        rows += QStringLiteral("<tr><td><b>%1</b></td><td>%2</td></tr>")
                    .arg(QString::fromLatin1(info.name), QString::fromLatin1(info.citation).toHtmlEscaped());
    return tr("<p>Each view method and the paper or code that defines it:</p><table cellpadding=2>%1</table>")
        .arg(rows);
}

QString MainWindow::aboutText()
{
    return tr("<b>attnviz %1</b> (commit %2) shows what a Vision Transformer and a CNN look at.<br><br>"
              "Qt %3 · LibTorch %4 · CUDA: %5<br><br>"
              "Shipped models, all trained by this project: a ViT, a CNN and a CLIP on its generated "
              "colour-shapes benchmark, and a ViT and a CNN on Fashion-MNIST. Sample images from the "
              "Fashion-MNIST test set (MIT, © Zalando SE); ImageNet labels from torchvision (BSD-3-Clause).<br>"
              "Help → Keyboard and mouse (F1) lists the keys; a click on either picture asks that model about "
              "the place.")
        .arg(QString::fromLatin1(io::attnvizVersion()), QString::fromLatin1(io::attnvizCommit()),
             QString::fromLatin1(qVersion()), QString::fromStdString(engine::libtorchVersion()),
             QString::fromStdString(engine::cudaDescription()));
}

void MainWindow::buildDeviceChooser()
{
    auto* tools = addToolBar(tr("Device"));
    tools->setObjectName(QStringLiteral("deviceToolbar"));
    tools->addWidget(new QLabel(tr(" Device: "), tools));
    m_device = new QComboBox(tools);
    m_device->setObjectName(QStringLiteral("device"));
    m_device->setToolTip(tr("Where both models run: the CPU or a CUDA GPU this LibTorch can use"));
    for (const auto& device : engine::availableDevices())
        m_device->addItem(QString::fromStdString(device));
    // By its canonical name: "cuda" is the list's "cuda:0".
    const auto asked = !m_options.device.isEmpty() ? m_options.device : settings::device();
    const auto wanted = QString::fromStdString(
        engine::canonicalDeviceName(asked.toStdString()).value_or(asked.toStdString()));
    if (m_device->findText(wanted) >= 0)
        m_device->setCurrentText(wanted);
    else if (!m_options.device.isEmpty()) {  // asked for explicitly: say why it is not used
        m_notice = tr("device '%1' is not available here (%2); running on the CPU")
                       .arg(asked, m_device->count() > 1 ? tr("see the Device list") : tr("this LibTorch has no CUDA"));
        m_error->setMessage(m_notice);
        m_error->show();
        qWarning("attnviz: %s", qPrintable(m_notice));
    }
    connect(m_device, &QComboBox::currentTextChanged, this, [this](const QString& device) {
        settings::setDevice(device);
        analyze();
    });
    tools->addWidget(m_device);
    // The resolution both models run at: each checkpoint's own, or a square size that is
    // a multiple of 112, so of every usual patch (8, 14, 16): DINO-style attention maps
    // are finer at 448 px, and a ViT's trace grows only with its tokens (AttentionRecord).
    tools->addWidget(new QLabel(tr("  Input size: "), tools));
    m_inputSize = new QComboBox(tools);
    m_inputSize->setObjectName(QStringLiteral("inputSize"));
    m_inputSize->setSizeAdjustPolicy(QComboBox::AdjustToContents);  // its first item names the sizes later
    m_inputSize->setToolTip(tr("Run both models at this resolution; a ViT resamples its position embedding"));
    m_inputSize->addItem(tr("each model's own"), 0);  // with the sizes once known (showOwnInputSizes)
    for (int side : {224, 336, 448, 560, 672, 896, 1008})
        m_inputSize->addItem(tr("%1 px").arg(side), side);
    connect(m_inputSize, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] { analyze(); });
    tools->addWidget(m_inputSize);
}

void MainWindow::exportAction(QMenu* menu, const QString& text, std::function<QString()> suggest,
                              std::function<void(const QString&)> write)
{
    menu->addAction(text, this, [this, suggest = std::move(suggest), write = std::move(write)] {
        const auto defaultName = suggest();
        const bool csv = defaultName.endsWith(QStringLiteral(".csv"));
        const auto path = QFileDialog::getSaveFileName(this, tr("Export"), defaultName,
                                                       csv ? tr("CSV (*.csv)") : tr("PNG (*.png)"));
        if (path.isEmpty())
            return;
        try {
            write(path);
            statusBar()->showMessage(tr("wrote %1").arg(path), 4000);
        } catch (const std::exception& e) {
            showError(QString::fromStdString(engine::errorLine(e)));
        }
    });
}

void MainWindow::openImage(const QString& path)
{
    m_image = QFileInfo(path).absoluteFilePath();
    analyze();
}

void MainWindow::openModel(Side side, const QString& path)
{
    (side == Side::ViT ? m_vit : m_cnn) = QFileInfo(path).absoluteFilePath();
    analyze(KeepUnchangedSide);
}

bool MainWindow::modelsLoaded(const QString& then)
{
    if (!m_shown)
        showError(tr("the models are not loaded yet; %1 once an image is analysed").arg(then));
    return bool(m_shown);
}

std::shared_ptr<const engine::Classifier> MainWindow::shownModel(Side side) const
{
    const auto& pane = side == Side::ViT ? m_shown->vit : m_shown->cnn;
    return pane ? pane->model : nullptr;
}

std::vector<engine::Family> MainWindow::shownFamilies() const
{
    std::vector<engine::Family> out;
    for (const auto side : kSides)
        if (const auto model = shownModel(side))
            out.push_back(model->spec().family);
    return out;
}

void MainWindow::showStudy(const std::function<void()>& put)
{
    clearError();  // whatever failed before, this request went through
    put();
    m_plots->parentWidget()->show();
    maybeTakeScreenshot();
}

void MainWindow::compareLayers(const QString& folder)
{
    if (modelsLoaded(tr("compare the layers")))
        m_controller.compareLayers(folder, shownModel(Side::ViT), shownModel(Side::CNN));
}

void MainWindow::localize(const QString& folder)
{
    if (modelsLoaded(tr("measure localisation")))
        m_controller.localize(folder, shownModel(Side::ViT), shownModel(Side::CNN));
}

void MainWindow::auditMethods(const QString& folder, std::vector<engine::ViewMethod> methods, std::size_t limit)
{
    if (!modelsLoaded(tr("audit the methods")))
        return;
    if (methods.empty())
        methods = AuditDialog::quickMethods(shownFamilies());
    // The controller loads copies of the models on screen: the check randomises weights.
    m_controller.auditFolder(folder, m_vit, m_cnn, m_device->currentText(), m_inputSize->currentData().toInt(), methods,
                             limit);
}

void MainWindow::probeLayers(const QString& data)
{
    if (!modelsLoaded(tr("probe the layers")))
        return;
    engine::LabelledSetOptions options;
    options.limit = 10000;
    options.testLimit = 2000;
    m_controller.probeLayers(data, shownModel(Side::ViT), shownModel(Side::CNN), options);
}

ModelPane* MainWindow::pane(Side side) const
{
    return side == Side::ViT ? m_vitPane : m_cnnPane;
}

QString MainWindow::errorText() const
{
    return m_error->message();  // a passing message in the status bar may cover it for a while
}

void MainWindow::analyze(Reuse reuse)
{
    // A new image (the same file may have changed) runs both; a new device or input size
    // differs from the shown analysis anyway, so the controller runs both then too.
    m_requestedAnalysis = m_controller.analyze(m_image, m_vit, m_cnn, m_device->currentText(),
                                               m_inputSize->currentData().toInt(),
                                               reuse == KeepUnchangedSide ? m_shown : nullptr);
}

void MainWindow::openedPathsFrom(const Analysis& analysis)
{
    m_image = analysis.imagePath;
    m_vit = analysis.vit ? analysis.vit->modelPath : QString();
    m_cnn = analysis.cnn ? analysis.cnn->modelPath : QString();
}

void MainWindow::showAnalysis(const std::shared_ptr<const Analysis>& analysis)
{
    // A notice from the start (a device that is not there) stays for the first analysis.
    if (m_notice.isEmpty())
        clearError();
    m_notice.clear();
    const auto previous = std::exchange(m_shown, analysis);
    m_history.clear();  // the views of another image or model
    openedPathsFrom(*analysis);
    setWindowTitle(tr("attnviz — %1").arg(QFileInfo(analysis->imagePath).fileName()));
    // A side taken over unchanged keeps its pane as it is: layer, head, query, unit, views.
    if (analysis->vit && (!previous || previous->vit != analysis->vit))
        m_vitPane->setAnalysis(analysis->vit);
    if (analysis->cnn && (!previous || previous->cnn != analysis->cnn))
        m_cnnPane->setAnalysis(analysis->cnn);
    m_plots->setAnalysis(analysis);
    showOwnInputSizes(*analysis);
    settings::setModelPath(Side::ViT, m_vit);
    settings::setModelPath(Side::CNN, m_cnn);
    settings::addRecentImage(analysis->imagePath);
    for (const auto side : kSides)
        if (const auto& pane = side == Side::ViT ? analysis->vit : analysis->cnn)
            settings::addRecentModel(side, pane->modelPath);
    if (!m_startOptionsApplied) {
        m_startOptionsApplied = true;
        if (!m_options.images.isEmpty())
            compareLayers(m_options.images);
        if (!m_options.localize.isEmpty())
            localize(m_options.localize);
        if (!m_options.audit.isEmpty())
            auditMethods(m_options.audit);
        if (!m_options.probeData.isEmpty())
            probeLayers(m_options.probeData);
        if (m_options.testTimeRegister)
            m_plots->tokens()->registerButton()->setChecked(true);
        for (auto* p : {m_vitPane, m_cnnPane})
            if (m_options.method && p->hasAnalysis()
                && engine::methodInfo(*m_options.method).supports(p->analysis()->model->spec().family))
                p->setMethod(*m_options.method);
        if (m_options.click) {
            m_vitPane->queryAt(*m_options.click);
            m_cnnPane->queryAt(*m_options.click);
        }
        if (!m_options.prompt.isEmpty())
            m_vitPane->askAbout(m_options.prompt);
    }
    emit analysisShown();
    maybeTakeScreenshot();
}

void MainWindow::showOwnInputSizes(const Analysis& analysis)
{
    if (analysis.inputSide != 0)
        return;  // the sizes shown are those the models ran at, their own
    // "28" or "224×168" per model; one size for both: "each model's own (28 px)", else
    // "each model's own (ViT 224, CNN 256 px)".
    QStringList named, sizes;
    for (const auto side : kSides)
        if (const auto& pane = side == Side::ViT ? analysis.vit : analysis.cnn) {
            const auto& input = pane->trace.input;  // [1, C, H, W]
            const auto size = input.size(2) == input.size(3)
                                  ? QString::number(input.size(2))
                                  : QStringLiteral("%1×%2").arg(input.size(2)).arg(input.size(3));
            sizes << size;
            named << sideTitle(side) + QLatin1Char(' ') + size;
        }
    sizes.removeDuplicates();
    m_inputSize->setItemText(
        0, tr("each model's own (%1 px)").arg(sizes.size() == 1 ? sizes.first() : named.join(QStringLiteral(", "))));
}

void MainWindow::clearError()
{
    m_error->setMessage({});
    m_error->hide();
}

void MainWindow::showError(const QString& message)
{
    // The previous analysis stays on screen and usable.
    statusBar()->clearMessage();  // the error, not a passing message, shows now
    m_error->setMessage(message);
    m_error->show();
    if (!m_options.screenshot.isEmpty() && !m_screenshotTaken) {
        // The window as it shows the error is saved too, but the run fails.
        qCritical("attnviz: %s", qPrintable(message));
        m_screenshotTaken = true;
        QTimer::singleShot(50, this, [this] {
            grab().save(m_options.screenshot);
            QCoreApplication::exit(1);
        });
    }
}

void MainWindow::requestFaithfulnessIfShown()
{
    // A few dozen forward passes per pane: only while the plot is on screen, and once
    // for the maps shown (a recolouring repaints them, the same maps).
    if (!m_plots->showsFaithfulness() || m_plots->parentWidget()->isHidden())  // the tab, or the dock closed
        return;
    std::vector<FaithfulnessRequest> requests;
    QString key;
    QStringList notes;
    for (const auto* p : {m_vitPane, m_cnnPane})
        if (auto request = p->faithfulnessRequest()) {
            key += QStringLiteral("%1:%2|").arg(quintptr(request->pane.get())).arg(request->caption);
            requests.push_back(std::move(*request));
        } else if (const auto why = p->whyNoFaithfulness(); !why.isEmpty())
            notes << why;
    m_plots->setFaithfulnessNotes(notes);
    if (requests.empty() || key == m_faithfulnessKey)
        return;
    m_faithfulnessKey = key;
    m_controller.computeFaithfulness(requests);
}

void MainWindow::maybeTakeScreenshot()
{
    if (m_options.screenshot.isEmpty() || m_screenshotTaken || !m_vitPane->hasAnalysis() || m_askedPrompt != 0
        || m_vitPane->waitingForGradients() || m_cnnPane->waitingForGradients() || m_controller.busy()
        || (!m_options.images.isEmpty() && !m_plots->hasSimilarity())
        || (!m_options.localize.isEmpty() && !m_plots->hasLocalization())
        || (!m_options.audit.isEmpty() && !m_plots->hasAudit())
        || (!m_options.probeData.isEmpty() && !m_plots->hasProbes())
        || (m_plots->showsFaithfulness() && !m_plots->hasFaithfulness()))
        return;
    m_screenshotTaken = true;
    QTimer::singleShot(50, this, [this] {
        const bool saved = grab().save(m_options.screenshot);
        if (!saved)
            qCritical("attnviz: cannot write the screenshot '%s'", qPrintable(m_options.screenshot));
        QCoreApplication::exit(saved ? 0 : 1);
    });
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event)
{
    if (event->mimeData()->hasUrls())
        event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event)
{
    const auto urls = event->mimeData()->urls();
    if (!urls.isEmpty() && urls.first().isLocalFile())
        openImage(urls.first().toLocalFile());
}

void MainWindow::closeEvent(QCloseEvent* event)
{
    settings::setWindow(size(), saveState());
    m_vitPane->saveSettings();
    m_cnnPane->saveSettings();
    QMainWindow::closeEvent(event);
}

}  // namespace attnviz::ui
