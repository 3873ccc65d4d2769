// The window as a user drives it, offscreen: start with the shipped models, browse
// layers and heads with keys, switch method and colormap, query a patch, export an
// overlay and the plots, measure effective fields, compare layers over a folder (and
// cancel it), and open a broken image or folder while the previous analysis stays.
#include "ui/appsettings.h"
#include "ui/auditdialog.h"
#include "ui/mainwindow.h"
#include "ui/pane/choicecombo.h"
#include "ui/pane/modelpane.h"
#include "ui/pane/thumbnailgrid.h"
#include "ui/plotspanel.h"
#include "ui/tokenspanel.h"
#include "ui/trustpanel.h"

#include "core/engine/evaluation/audit.h"
#include "core/engine/evaluation/faithfulness.h"
#include "core/engine/evaluation/maskscores.h"
#include "core/engine/study/skipstrength.h"
#include "core/io/imagefiles.h"
#include "core/io/pngtext.h"
#include "core/io/safetensors.h"

#include <QAbstractBarSeries>
#include <QAction>
#include <QApplication>
#include <QBarCategoryAxis>
#include <QBarSet>
#include <QChartView>
#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QDockWidget>
#include <QDoubleSpinBox>
#include <QFileInfo>
#include <QGraphicsScene>
#include <QGraphicsSimpleTextItem>
#include <QGraphicsTextItem>
#include <QHorizontalBarSeries>
#include <QImage>
#include <QLabel>
#include <QLineEdit>
#include <QLineSeries>
#include <QMenu>
#include <QPushButton>
#include <QRandomGenerator>
#include <QSettings>
#include <QSignalSpy>
#include <QSlider>
#include <QSpinBox>
#include <QStatusBar>
#include <QStyleHints>
#include <QStyleOptionComboBox>
#include <QTabBar>
#include <QTabWidget>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QWheelEvent>
#include <QtTest>

#include <cmath>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

using namespace attnviz;

namespace {

// The Fashion-MNIST models and sample these tests were written for (28 px, a 7 x 7 grid),
// opened explicitly, whatever the window shows on a first start.
QString fmnistModel(ui::Side side)
{
    return QStringLiteral(ATTNVIZ_SOURCE_DIR)
           + (side == ui::Side::ViT ? QStringLiteral("/models/vit-fmnist") : QStringLiteral("/models/cnn-fmnist"));
}

bool contains(const std::vector<engine::ViewMethod>& methods, engine::ViewMethod method)
{
    return std::find(methods.begin(), methods.end(), method) != methods.end();
}

QString fmnistImage()
{
    return QStringLiteral(ATTNVIZ_SOURCE_DIR "/resources/samples/0000-ankle-boot.png");
}

std::string readFile(const QString& path)
{
    std::ifstream in(path.toStdString(), std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// Until no model job runs and both panes show what was last asked for.
bool waitIdle(ui::MainWindow& window)
{
    const auto idle = [&] {
        return !window.controller().busy() && !window.pane(ui::Side::ViT)->waitingForGradients()
               && !window.pane(ui::Side::CNN)->waitingForGradients();
    };
    return QTest::qWaitFor(idle, 60000);
}

// What of `window` a user cannot read or is not told: visible controls without a
// tooltip, and text cut at the present size (labels, buttons, combo boxes, tabs, the head
// grid, and the charts' titles and axis labels, which Qt Charts elides with "…").
QStringList unexplainedOrCut(QWidget& window)
{
    QStringList problems;
    const auto name = [](const QWidget* w) {
        return QStringLiteral("%1 '%2' in %3")
            .arg(QString::fromLatin1(w->metaObject()->className()), w->objectName(),
                 w->parentWidget() ? QString::fromLatin1(w->parentWidget()->metaObject()->className()) : QString());
    };
    for (auto* w : window.findChildren<QWidget*>()) {
        if (!w->isVisibleTo(&window) || w->width() == 0)
            continue;
        const bool control = qobject_cast<QComboBox*>(w) || qobject_cast<QSlider*>(w)
                             || qobject_cast<QAbstractSpinBox*>(w) || qobject_cast<QCheckBox*>(w)
                             || qobject_cast<QPushButton*>(w);
        if (control && w->toolTip().isEmpty())
            problems << QStringLiteral("no tooltip: ") + name(w);
        if (auto* label = qobject_cast<QLabel*>(w);
            label && !label->wordWrap() && label->pixmap().isNull() && label->sizeHint().width() > label->width())
            problems << QStringLiteral("cut: %1 '%2'").arg(name(w), label->text());
        if (auto* button = qobject_cast<QAbstractButton*>(w);
            button && !button->text().isEmpty() && button->sizeHint().width() > button->width())
            problems << QStringLiteral("cut: %1 '%2'").arg(name(w), button->text());
        if (auto* combo = qobject_cast<QComboBox*>(w)) {
            QStyleOptionComboBox option;
            option.initFrom(combo);
            const auto field = combo->style()->subControlRect(QStyle::CC_ComboBox, &option,
                                                              QStyle::SC_ComboBoxEditField, combo);
            const auto* choice = qobject_cast<ui::ChoiceCombo*>(combo);
            const auto text = choice ? choice->shownText() : combo->currentText();
            if (combo->fontMetrics().horizontalAdvance(text) > field.width())
                problems << QStringLiteral("cut: %1 '%2'").arg(name(w), text);
        }
        if (auto* tabs = qobject_cast<QTabBar*>(w))
            for (int i = 0; i < tabs->count(); ++i)
                if (tabs->fontMetrics().horizontalAdvance(tabs->tabText(i)) > tabs->tabRect(i).width()
                    || !tabs->rect().contains(tabs->tabRect(i)))
                    problems << QStringLiteral("cut: tab '%1'").arg(tabs->tabText(i));
        if (auto* grid = qobject_cast<ui::ThumbnailGrid*>(w); grid && grid->elidesText())
            problems << QStringLiteral("cut: the head grid's caption or row labels");
        if (auto* chart = qobject_cast<QChartView*>(w))
            for (auto* item : chart->scene()->items()) {
                QString text;
                if (auto* t = dynamic_cast<QGraphicsTextItem*>(item))
                    text = t->toPlainText();
                else if (auto* t = dynamic_cast<QGraphicsSimpleTextItem*>(item))
                    text = t->text();
                if (item->isVisible() && (text.contains(QChar(0x2026)) || text.contains(QStringLiteral("..."))))
                    problems << QStringLiteral("cut: chart '%1': '%2'").arg(chart->chart()->title(), text);
            }
    }
    return problems;
}

}  // namespace

class TestMainWindow : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    std::unique_ptr<ui::MainWindow> m_window;

    ui::ModelPane* vit() { return m_window->pane(ui::Side::ViT); }
    ui::ModelPane* cnn() { return m_window->pane(ui::Side::CNN); }

    // The shipped CNN copied into the test's folder: another model path, the same model.
    QString copyOfShippedCnn()
    {
        QDir copy(m_dir.filePath(QStringLiteral("cnn-copy")));
        if (!copy.exists(QStringLiteral("model.safetensors"))) {
            copy.mkpath(QStringLiteral("."));
            const QDir shipped(fmnistModel(ui::Side::CNN));
            for (const auto& name : shipped.entryList(QDir::Files))
                QFile::copy(shipped.filePath(name), copy.filePath(name));
        }
        return copy.absolutePath();
    }

    // A pane as at start: its default method, the last layer, head mean, top-1, no query
    // or unit, and the default rendering.
    static void resetPane(ui::ModelPane* pane, engine::ViewMethod method)
    {
        pane->clearQuery();
        pane->setMethod(method);
        pane->stepLayer(1000);
        pane->stepHead(-1000);
        pane->findChild<QComboBox*>(QStringLiteral("class"))->setCurrentIndex(0);
        pane->findChild<QComboBox*>(QStringLiteral("camInput"))->setCurrentIndex(0);
        pane->setColormap(QStringLiteral("viridis"));
        pane->findChild<QSlider*>()->setValue(50);
        pane->findChild<QDoubleSpinBox*>(QStringLiteral("keepMass"))->setValue(1.0);
        pane->findChild<ui::MethodSettingsBox*>()->setSettings({});
        pane->findChild<QComboBox*>(QStringLiteral("upsampling"))->setCurrentIndex(0);
        pane->findChild<QComboBox*>(QStringLiteral("normalization"))->setCurrentIndex(0);
        pane->findChild<QCheckBox*>(QStringLiteral("wholeImage"))->setChecked(false);
    }

private slots:
    // Every case starts from the window as it opens: the shipped models on the default
    // image, each pane reset (resetPane), nothing running.
    void init()
    {
        if (!m_window)
            return;  // initTestCase makes it
        QVERIFY(waitIdle(*m_window));
        if (vit()->analysis()->modelPath != fmnistModel(ui::Side::ViT)
            || cnn()->analysis()->modelPath != fmnistModel(ui::Side::CNN)) {
            QSignalSpy shown(m_window.get(), &ui::MainWindow::analysisShown);
            m_window->openModel(ui::Side::ViT, fmnistModel(ui::Side::ViT));
            QVERIFY(shown.wait(60000));
            m_window->openModel(ui::Side::CNN, fmnistModel(ui::Side::CNN));
            QVERIFY(shown.wait(60000));
        }
        resetPane(vit(), engine::ViewMethod::Attention);
        resetPane(cnn(), engine::ViewMethod::GradCam);
        QVERIFY(waitIdle(*m_window));
    }

    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);  // settings of the test, not the user's
        QSettings().clear();                       // nor those an earlier run left (models it opened from elsewhere)
        ui::StartOptions options;
        options.image = fmnistImage();
        options.vit = fmnistModel(ui::Side::ViT);
        options.cnn = fmnistModel(ui::Side::CNN);
        m_window = std::make_unique<ui::MainWindow>(options);
        QSignalSpy shown(m_window.get(), &ui::MainWindow::analysisShown);
        m_window->show();
        QVERIFY(shown.wait(60000));
        QVERIFY(waitIdle(*m_window));
    }

    void startsWithTheShippedModels()
    {
        QVERIFY(vit()->hasAnalysis() && cnn()->hasAnalysis());
        QVERIFY(vit()->method() == engine::ViewMethod::Attention);
        QCOMPARE(vit()->layer(), QStringLiteral("5"));  // the last block
        QVERIFY(cnn()->method() == engine::ViewMethod::GradCam);
        QCOMPARE(cnn()->layer(), QStringLiteral("layer3"));
        QVERIFY(!vit()->overlay().isNull() && !cnn()->overlay().isNull());
        QVERIFY(m_window->errorText().isEmpty());
        // The model card's measured accuracy, read from config.json.
        const auto title = vit()->findChild<QLabel*>(QStringLiteral("title"))->text();
        QVERIFY2(title.contains(QStringLiteral("accuracy 0.9049 on t10k, 10000 images")), qPrintable(title));
    }

    // --method: the method shown at start in each pane whose model it fits; the other pane
    // keeps its own.
    void aStartMethodIsShownWhereItFits()
    {
        ui::StartOptions options;
        options.image = fmnistImage();
        options.vit = fmnistModel(ui::Side::ViT);
        options.cnn = fmnistModel(ui::Side::CNN);
        options.method = engine::ViewMethod::Rollout;  // a ViT's only
        ui::MainWindow window(options);
        QSignalSpy shown(&window, &ui::MainWindow::analysisShown);
        window.show();
        QVERIFY(shown.wait(60000));
        QVERIFY(waitIdle(window));
        QVERIFY(window.pane(ui::Side::ViT)->method() == engine::ViewMethod::Rollout);
        QVERIFY(window.pane(ui::Side::CNN)->method() == engine::ViewMethod::GradCam);
    }

    // A model remembered from the last session that has since been deleted: the shipped
    // one instead, and a note in the status bar, not an empty window.
    void aRememberedModelThatIsGoneFallsBackToTheShippedOne()
    {
        const QString gone = QDir::temp().filePath(QStringLiteral("attnviz-deleted-model.safetensors"));
        ui::settings::setModelPath(ui::Side::CNN, gone);
        ui::MainWindow window;
        QSignalSpy shown(&window, &ui::MainWindow::analysisShown);
        window.show();
        QVERIFY(shown.wait(60000));
        QVERIFY(waitIdle(window));
        QVERIFY(window.pane(ui::Side::CNN)->hasAnalysis());
        QVERIFY2(window.errorText().isEmpty(), qPrintable(window.errorText()));
        const QString note = window.statusBar()->currentMessage();
        QVERIFY2(note.contains(QStringLiteral("is gone")) && note.contains(gone), qPrintable(note));
        QVERIFY(ui::settings::modelPath(ui::Side::CNN, {}) != gone);  // the shipped one is remembered now
        QCOMPARE(window.pane(ui::Side::CNN)->analysis()->modelPath, ui::defaultModelPath(ui::Side::CNN));
    }

    // The overlay is the largest thing in each pane, and both are drawn the same size.
    void overlaysAreLargeAndTheSameSize()
    {
        QVERIFY(waitIdle(*m_window));
        const auto vitPicture = vit()->overlayView()->pictureRect();
        const auto cnnPicture = cnn()->overlayView()->pictureRect();
        QVERIFY(!vitPicture.isEmpty());
        QVERIFY2(std::abs(vitPicture.height() - cnnPicture.height()) <= 1,
                 qPrintable(QStringLiteral("%1 vs %2").arg(vitPicture.height()).arg(cnnPicture.height())));
        QVERIFY(std::abs(vitPicture.width() - cnnPicture.width()) <= 1);
        for (auto* pane : {vit(), cnn()}) {
            QVERIFY(pane->grid()->sizeHint().height() <= ui::ThumbnailGrid::kMaxHintHeight);
            QVERIFY2(pane->overlayView()->pictureRect().height() > pane->grid()->height(),
                     qPrintable(QStringLiteral("picture %1, grid %2")
                                    .arg(pane->overlayView()->pictureRect().height())
                                    .arg(pane->grid()->height())));
        }
    }

    void keysStepLayersAndHeads()
    {
        vit()->setFocus();
        const QImage before = vit()->overlay();
        QTest::keyClick(vit(), Qt::Key_Up);
        QCOMPARE(vit()->layer(), QStringLiteral("4"));
        QTest::keyClick(vit(), Qt::Key_PageUp);
        QCOMPARE(vit()->layer(), QStringLiteral("3"));
        QTest::keyClick(vit(), Qt::Key_Down);
        QCOMPARE(vit()->layer(), QStringLiteral("4"));
        QVERIFY(vit()->overlay() != before);
        for (int i = 0; i < 4; ++i)
            QTest::keyClick(vit(), Qt::Key_Right);
        QCOMPARE(vit()->head(), QStringLiteral("1"));  // mean, max, min, 0, 1
        QTest::keyClick(vit(), Qt::Key_Left);
        QCOMPARE(vit()->head(), QStringLiteral("0"));
        // The CNN steps through its stages the same way.
        QTest::keyClick(cnn(), Qt::Key_Up);
        QCOMPARE(cnn()->layer(), QStringLiteral("layer2"));
        QVERIFY(waitIdle(*m_window));
    }

    void switchingMethodAndColormapRerenders()
    {
        const auto state = [this] { return vit()->findChild<QLabel*>(QStringLiteral("state"))->text(); };
        const QImage attention = vit()->overlay();
        QCOMPARE(state(), QStringLiteral("attention · block 5 · head mean"));
        // Rollout recomputes every block's matrix from the trace: on the worker, so that
        // thousands of tokens never stall the window.
        vit()->setMethod(engine::ViewMethod::Rollout);
        QVERIFY(vit()->method() == engine::ViewMethod::Rollout);
        QCOMPARE(state(), QStringLiteral("computing rollout …"));
        QVERIFY(waitIdle(*m_window));
        QCOMPARE(state(), QStringLiteral("rollout · from block 0 · head mean"));
        QVERIFY(vit()->overlay() != attention);
        // The gray colormap over the grayscale sample: every pixel of the picture is grey.
        vit()->setColormap(QStringLiteral("gray"));
        const QImage gray = vit()->overlay();
        QCOMPARE(gray.height(), attention.height());
        for (int y = 0; y < gray.height(); y += 7)
            for (int x = 0; x < gray.height(); x += 7) {  // the square picture, left of the bar
                const QColor c(gray.pixel(x, y));
                QVERIFY2(c.red() == c.green() && c.green() == c.blue(), qPrintable(c.name()));
            }
        // Gradient methods run on the worker and arrive later.
        vit()->setMethod(engine::ViewMethod::GradRollout);
        QVERIFY(waitIdle(*m_window));
        QVERIFY2(state().startsWith(QStringLiteral("grad-rollout · from block 0 · head mean · class ")),
                 qPrintable(state()));
    }

    // How a view is drawn never reaches the worker; a view that needs the model is
    // computed once per request and comes back without a job when asked for again.
    void renderingChangesRunNoModel()
    {
        QVERIFY(waitIdle(*m_window));
        QSignalSpy asked(vit(), &ui::ModelPane::gradientViewRequested);
        auto* classes = vit()->findChild<QComboBox*>(QStringLiteral("class"));
        classes->setCurrentIndex(2);  // class 1: a request no earlier case made
        vit()->setMethod(engine::ViewMethod::GradCam);
        QVERIFY(waitIdle(*m_window));
        QCOMPARE(asked.count(), 1);
        const QImage computed = vit()->overlay();
        auto* colormap = vit()->findChild<QComboBox*>(QStringLiteral("colormap"));
        auto* upsampling = vit()->findChild<QComboBox*>(QStringLiteral("upsampling"));
        auto* alpha = vit()->findChild<QSlider*>();
        auto* keepMass = vit()->findChild<QDoubleSpinBox*>();
        const auto colormapBefore = colormap->currentText();
        const int alphaBefore = alpha->value();
        QImage previous = computed;
        const auto changesPicture = [&] {
            const QImage shown = vit()->overlay();
            const bool changed = shown != previous;
            previous = shown;
            return changed && !vit()->waitingForGradients() && asked.count() == 1;
        };
        vit()->setColormap(colormapBefore == QLatin1String("inferno") ? QStringLiteral("magma")
                                                                      : QStringLiteral("inferno"));
        QVERIFY(changesPicture());
        alpha->setValue(alphaBefore == 80 ? 20 : 80);
        QVERIFY(changesPicture());
        keepMass->setValue(0.5);
        QVERIFY(changesPicture());
        upsampling->setCurrentIndex(1 - upsampling->currentIndex());
        QVERIFY(changesPicture());
        // Back to the settings it was computed with: the very same picture, still no job.
        upsampling->setCurrentIndex(1 - upsampling->currentIndex());
        keepMass->setValue(1.0);
        alpha->setValue(alphaBefore);
        vit()->setColormap(colormapBefore);
        QCOMPARE(vit()->overlay(), computed);
        vit()->setMethod(engine::ViewMethod::Attention);
        QVERIFY(vit()->overlay() != computed);
        vit()->setMethod(engine::ViewMethod::GradCam);
        QVERIFY(!vit()->waitingForGradients());
        QCOMPARE(vit()->overlay(), computed);
        QCOMPARE(asked.count(), 1);
        classes->setCurrentIndex(0);
        vit()->setMethod(engine::ViewMethod::Attention);
        QVERIFY(waitIdle(*m_window));
    }

    // A newer request for a pane stops the running one inside the engine; the stopped one
    // ends silently, so the pane keeps waiting for (and then shows) the newer one.
    void aNewerRequestReplacesTheRunningOne()
    {
        QVERIFY(waitIdle(*m_window));
        auto& controller = m_window->controller();
        QSignalSpy finished(&controller, &ui::AnalysisController::viewFinished);
        QSignalSpy abandoned(&controller, &ui::AnalysisController::viewAbandoned);
        const auto pane = std::shared_ptr<const ui::PaneAnalysis>(vit()->analysis(), [](const ui::PaneAnalysis*) {});
        engine::ViewRequest slow;
        slow.method = engine::ViewMethod::ScoreCam;  // a forward pass per channel of the block
        slow.layer = engine::LayerSelector::all();
        engine::ViewRequest newer;
        newer.method = engine::ViewMethod::GradCam;
        for (int i = 0; i < 5; ++i) {
            controller.computeGradientView(pane, slow);
            QTest::qWait(5);  // let it start
            controller.computeGradientView(pane, newer);
            QVERIFY(waitIdle(*m_window));
        }
        QCOMPARE(abandoned.count(), 0);
        QCOMPARE(finished.count(), 5);  // the newer ones
        // Asking again for the view on the worker does not restart it.
        QSignalSpy asked(vit(), &ui::ModelPane::gradientViewRequested);
        vit()->findChild<QComboBox*>(QStringLiteral("class"))->setCurrentIndex(4);  // class 3: not computed yet
        vit()->setMethod(engine::ViewMethod::ScoreCam);
        vit()->setMethod(engine::ViewMethod::Attention);
        vit()->setMethod(engine::ViewMethod::ScoreCam);
        QVERIFY(waitIdle(*m_window));
        QCOMPARE(asked.count(), 1);
        QVERIFY(vit()->method() == engine::ViewMethod::ScoreCam);
        QVERIFY(vit()->findChild<QLabel*>(QStringLiteral("state"))->text().startsWith(QStringLiteral("scorecam")));
    }

    void everyMethodIsOfferedAndAViTCamSaysWhatItRead()
    {
        QVERIFY(waitIdle(*m_window));
        auto* vitMethods = vit()->findChild<QComboBox*>(QStringLiteral("method"));
        auto* cnnMethods = cnn()->findChild<QComboBox*>(QStringLiteral("method"));
        for (const char* m : {"generic-attention", "transformer-attribution", "gradcam++", "scorecam", "ablationcam"})
            QVERIFY2(vitMethods->findText(QString::fromLatin1(m)) >= 0, m);
        QCOMPARE(cnnMethods->findText(QStringLiteral("transformer-attribution")), -1);
        QVERIFY(cnnMethods->findText(QStringLiteral("layercam")) >= 0);
        auto* camInput = vit()->findChild<QComboBox*>(QStringLiteral("camInput"));
        QVERIFY(!camInput->isEnabled());  // attention reads no block tokens
        vit()->setMethod(engine::ViewMethod::GradCam);
        QVERIFY(camInput->isEnabled());
        QVERIFY(waitIdle(*m_window));
        const auto state = [this] { return vit()->findChild<QLabel*>(QStringLiteral("state"))->text(); };
        QVERIFY2(state().contains(QStringLiteral("norm1 output")), qPrintable(state()));
        camInput->setCurrentIndex(camInput->findData(QStringLiteral("residual")));
        QVERIFY(waitIdle(*m_window));
        QVERIFY2(state().contains(QStringLiteral("residual stream")), qPrintable(state()));
        camInput->setCurrentIndex(camInput->findData(QStringLiteral("norm1")));
        vit()->setMethod(engine::ViewMethod::Attention);
        QVERIFY(waitIdle(*m_window));
    }

    void cancelledGradientViewKeepsThePreviousPicture()
    {
        QVERIFY(waitIdle(*m_window));
        const QImage before = vit()->overlay();
        vit()->setMethod(engine::ViewMethod::GenericAttention);  // not computed before, so not kept
        QVERIFY(vit()->waitingForGradients());
        m_window->controller().cancel();
        QVERIFY(waitIdle(*m_window));  // the pane no longer waits for it
        QCOMPARE(vit()->overlay(), before);
        const auto state = vit()->findChild<QLabel*>(QStringLiteral("state"))->text();
        QVERIFY2(state.contains(QStringLiteral("not computed")), qPrintable(state));
        QVERIFY(m_window->errorText().contains(QStringLiteral("cancelled")));
        vit()->setMethod(engine::ViewMethod::Attention);
        QVERIFY(!vit()->waitingForGradients());
    }

    void clickingAPatchShowsWhereItAttends()
    {
        const QImage cls = vit()->overlay();
        vit()->setQuery(std::make_pair(3, 3));
        QVERIFY(vit()->method() == engine::ViewMethod::Attention);
        QVERIFY(vit()->overlay() != cls);
        // The query patch is outlined where it is: the picture is 7 x 7 patches of
        // side/7 pixels, the colour bar to its right does not count.
        const QImage outlined = vit()->overlay();
        const int cell = outlined.height() / 7;
        QCOMPARE(QColor(outlined.pixel(3 * cell, 3 * cell + cell / 2)), QColor(255, 64, 64));
        QCOMPARE(QColor(outlined.pixel(4 * cell - 1, 3 * cell + cell / 2)), QColor(255, 64, 64));
        QVERIFY(QColor(outlined.pixel(4 * cell + 2, 3 * cell + cell / 2)) != QColor(255, 64, 64));
        vit()->setQuery(std::nullopt);
        QCOMPARE(vit()->overlay(), cls);
        // A real click on the picture's middle row selects a patch of row 3 (of 7), once
        // the double-click interval has passed.
        auto* view = vit()->overlayView();
        const auto vitText = [this] { return vit()->findChild<QLabel*>(QStringLiteral("state"))->text(); };
        QTest::mouseClick(view, Qt::LeftButton, {}, QPoint(view->width() / 2, view->height() / 2));
        QTRY_VERIFY2(vitText().contains(QStringLiteral("query patch 3,")), qPrintable(vitText()));
        // The same click marks that place in the CNN pane, its unit of layer3 there; the
        // CNN's method stays the user's.
        QVERIFY(cnn()->method() == engine::ViewMethod::GradCam);
        QVERIFY(waitIdle(*m_window));
        const auto cnnState = cnn()->findChild<QLabel*>(QStringLiteral("state"))->text();
        QVERIFY2(cnnState.contains(QStringLiteral(" · unit 3,")), qPrintable(cnnState));
        // A click on the picture's very edge is the last patch, not one past it.
        vit()->queryAt(QPointF(1.0, 0.0));
        const auto edge = vit()->findChild<QLabel*>(QStringLiteral("state"))->text();
        QVERIFY2(edge.contains(QStringLiteral("query patch 0,6")), qPrintable(edge));
        QTest::keyClick(vit(), Qt::Key_Escape);
        QCOMPARE(vit()->overlay(), cls);
        QVERIFY(waitIdle(*m_window));
        // A click near the top-left corner gives the CNN a unit of row 0; Esc in the ViT
        // pane clears both panes' places (the CNN falls back to its centre unit).
        const auto cnnText = [this] { return cnn()->findChild<QLabel*>(QStringLiteral("state"))->text(); };
        const QRect picture = view->pictureRect();
        QTest::mouseClick(view, Qt::LeftButton, {}, picture.topLeft() + QPoint(2, 2));
        QTRY_VERIFY2(cnnText().contains(QStringLiteral(" · unit 0,0 marked")), qPrintable(cnnText()));
        QTest::keyClick(vit(), Qt::Key_Escape);
        QVERIFY(waitIdle(*m_window));
        QVERIFY2(!cnnText().contains(QStringLiteral("unit")), qPrintable(cnnText()));
        QVERIFY(!vitText().contains(QStringLiteral("query patch")));
        QVERIFY(cnn()->method() == engine::ViewMethod::GradCam);
    }

    // A click on one picture asks that pane's model about the place (switching it to the
    // method that takes a place) and only marks the place in the other pane, whose method
    // is the user's; Esc brings back what each showed. Keys and the wheel act on one pane
    // (the wheel zooms both pictures together, as documented).
    void aClickNeverChangesTheOtherPanesMethod()
    {
        vit()->setMethod(engine::ViewMethod::Rollout);
        auto* cnnView = cnn()->overlayView();
        const QRect picture = cnnView->pictureRect();
        QTest::mouseClick(cnnView, Qt::LeftButton, {}, picture.center());
        QTRY_VERIFY(cnn()->method() == engine::ViewMethod::EffectiveField);
        QVERIFY(vit()->method() == engine::ViewMethod::Rollout);
        QVERIFY(waitIdle(*m_window));
        const auto vitState = vit()->findChild<QLabel*>(QStringLiteral("state"))->text();
        QVERIFY2(vitState.contains(QStringLiteral("patch 3,3 marked")), qPrintable(vitState));
        QTest::keyClick(cnn(), Qt::Key_Escape);
        QVERIFY(waitIdle(*m_window));
        QVERIFY(cnn()->method() == engine::ViewMethod::GradCam);
        QVERIFY(vit()->method() == engine::ViewMethod::Rollout);
        QVERIFY(!vit()->findChild<QLabel*>(QStringLiteral("state"))->text().contains(QStringLiteral("patch")));
        // The ViT's own click switches it to attention from the patch; Esc back to rollout.
        vit()->queryAt(QPointF(0.5, 0.5));
        QVERIFY(vit()->method() == engine::ViewMethod::Attention);
        QVERIFY(cnn()->method() == engine::ViewMethod::GradCam);
        QTest::keyClick(vit(), Qt::Key_Escape);
        QVERIFY(vit()->method() == engine::ViewMethod::Rollout);
        // Keys step the pane in focus only.
        const auto cnnLayer = cnn()->layer();
        QTest::keyClick(vit(), Qt::Key_Up);
        QTest::keyClick(vit(), Qt::Key_Right);
        QCOMPARE(cnn()->layer(), cnnLayer);
        QVERIFY(cnn()->method() == engine::ViewMethod::GradCam);
        QVERIFY(waitIdle(*m_window));
    }

    // A double click resets the zoom and asks about no place.
    void aDoubleClickIsNoClick()
    {
        auto* view = vit()->overlayView();
        const QPoint middle = view->pictureRect().center();
        QTest::mouseDClick(view, Qt::LeftButton, {}, middle);
        QTest::qWait(QGuiApplication::styleHints()->mouseDoubleClickInterval() + 200);
        QVERIFY(!vit()->findChild<QLabel*>(QStringLiteral("state"))->text().contains(QStringLiteral("patch")));
        QVERIFY(!cnn()->findChild<QLabel*>(QStringLiteral("state"))->text().contains(QStringLiteral("unit")));
    }

    // The colour bar stays where and as it is while the picture zooms: its values stay.
    void zoomingKeepsTheColourBar()
    {
        auto* view = vit()->overlayView();
        const QRect bar = view->barRect();
        QVERIFY(bar.width() > 10);
        const QImage before = view->grab(bar).toImage();
        const QImage pictureBefore = view->grab(view->pictureRect()).toImage();
        const QPointF centre = QRectF(view->pictureRect()).center();
        for (int i = 0; i < 3; ++i) {
            QWheelEvent wheel(centre, view->mapToGlobal(centre), QPoint(), QPoint(0, 120), Qt::NoButton, Qt::NoModifier,
                              Qt::NoScrollPhase, false);
            QApplication::sendEvent(view, &wheel);
        }
        QVERIFY(view->zoom() > 1.9);
        // The wheel zooms both pictures and changes no pane's method.
        QCOMPARE(cnn()->overlayView()->zoom(), view->zoom());
        QVERIFY(vit()->method() == engine::ViewMethod::Attention);
        QVERIFY(cnn()->method() == engine::ViewMethod::GradCam);
        QCOMPARE(view->barRect(), bar);
        QCOMPARE(view->grab(bar).toImage(), before);
        QVERIFY(view->grab(view->pictureRect()).toImage() != pictureBefore);
        view->setViewport(1.0, {0.5, 0.5});
        cnn()->overlayView()->setViewport(1.0, {0.5, 0.5});
    }

    // A box whose choice the view does not use shows the value the view uses; the
    // choice comes back when a method uses it again.
    void greyedBoxesShowWhatTheViewUses()
    {
        emit vit()->grid()->cellClicked(3, 0);  // attention, block 3, head 0
        const auto box = [this](const char* name) {
            return vit()->findChild<ui::ChoiceCombo*>(QString::fromLatin1(name));
        };
        QCOMPARE(box("layer")->shownText(), QStringLiteral("3"));
        QCOMPARE(box("class")->shownText(), QStringLiteral("—"));
        QVERIFY(!box("class")->isEnabled());
        vit()->setMethod(engine::ViewMethod::Rollout);
        QVERIFY(!box("layer")->isEnabled());
        QCOMPARE(box("layer")->shownText(), QStringLiteral("from 0"));
        QCOMPARE(box("head")->shownText(), QStringLiteral("mean"));
        QVERIFY(vit()->findChild<QLabel*>(QStringLiteral("state"))->text().contains(QStringLiteral("from block 0")));
        vit()->setMethod(engine::ViewMethod::TransformerAttribution);
        QVERIFY(!box("head")->isEnabled());
        QCOMPARE(box("head")->shownText(), QStringLiteral("—"));
        vit()->setMethod(engine::ViewMethod::Attention);
        QCOMPARE(box("layer")->shownText(), QStringLiteral("3"));
        QCOMPARE(box("head")->shownText(), QStringLiteral("0"));
        auto* cnnHead = cnn()->findChild<ui::ChoiceCombo*>(QStringLiteral("head"));
        QVERIFY(!cnnHead->isEnabled());
        QCOMPARE(cnnHead->shownText(), QStringLiteral("—"));  // a CNN has no heads
        QVERIFY(waitIdle(*m_window));
    }

    // A method's own settings are boxes beside it, from the settings table: shown for the
    // methods that take them, sent with the request, kept while another method is shown,
    // and part of the view that Undo restores.
    void aMethodsOwnSettingsAreBoxesBesideIt()
    {
        auto* settings = vit()->findChild<ui::MethodSettingsBox*>();
        const auto box = [this](const char* name) {
            return vit()->findChild<QWidget*>(QStringLiteral("setting-") + QString::fromLatin1(name));
        };
        QVERIFY(settings && !settings->isVisible());  // attention takes none
        QSignalSpy asked(vit(), &ui::ModelPane::gradientViewRequested);
        vit()->setMethod(engine::ViewMethod::IntegratedGradients);
        QVERIFY(settings->isVisible() && box("steps")->isVisible() && box("baseline")->isVisible());
        QVERIFY(!box("samples")->isVisible() && !box("window")->isVisible());
        QVERIFY(waitIdle(*m_window));
        qobject_cast<QSpinBox*>(box("steps"))->setValue(8);
        QVERIFY(waitIdle(*m_window));
        QCOMPARE(asked.count(), 2);
        const auto request = asked.last().at(1).value<engine::ViewRequest>();
        QCOMPARE(request.settings.count(engine::MethodSetting::Steps), 8);
        QVERIFY(request.settings.isDefault(engine::MethodSetting::Samples));

        vit()->setMethod(engine::ViewMethod::Occlusion);
        QVERIFY(box("window")->isVisible() && !box("steps")->isVisible());
        QCOMPARE(qobject_cast<QSpinBox*>(box("window"))->text(), QStringLiteral("auto"));
        QVERIFY(waitIdle(*m_window));
        QVERIFY(asked.last().at(1).value<engine::ViewRequest>().settings.isDefault(engine::MethodSetting::Steps));
        m_window->findChild<QAction*>(QStringLiteral("undo"))->trigger();  // back to IG at 8 steps
        QVERIFY(waitIdle(*m_window));
        QVERIFY(vit()->method() == engine::ViewMethod::IntegratedGradients);
        QCOMPARE(qobject_cast<QSpinBox*>(box("steps"))->value(), 8);
        m_window->findChild<QAction*>(QStringLiteral("undo"))->trigger();  // 50 steps
        QCOMPARE(qobject_cast<QSpinBox*>(box("steps"))->value(), 50);
        QVERIFY(waitIdle(*m_window));
    }

    // Similarity is the click's second meaning: with it shown, a click asks how alike every
    // position is to the one clicked (a CNN's unit, a ViT's patch) and keeps the method.
    void similarityFollowsTheClick()
    {
        QSignalSpy asked(cnn(), &ui::ModelPane::gradientViewRequested);
        cnn()->setMethod(engine::ViewMethod::Similarity);
        cnn()->setUnit(std::make_pair(2, 1));
        QVERIFY(waitIdle(*m_window));
        QVERIFY(cnn()->method() == engine::ViewMethod::Similarity);
        const auto request = asked.last().at(1).value<engine::ViewRequest>();
        QVERIFY(request.query == std::make_pair(2, 1));
        const auto state = cnn()->findChild<QLabel*>(QStringLiteral("state"))->text();
        QVERIFY2(state.startsWith(QStringLiteral("similarity")), qPrintable(state));
        vit()->setMethod(engine::ViewMethod::Similarity);
        vit()->setQuery(std::make_pair(3, 4));
        QVERIFY(waitIdle(*m_window));
        QVERIFY(vit()->method() == engine::ViewMethod::Similarity);
        cnn()->clearQuery();
        vit()->clearQuery();
    }

    // Stepping a CNN's stages after a click keeps the place, not the unit's index.
    void steppingStagesKeepsThePlace()
    {
        const auto state = [this] { return cnn()->findChild<QLabel*>(QStringLiteral("state"))->text(); };
        cnn()->setUnit(std::make_pair(5, 1));  // layer3: 7 x 7
        QVERIFY(waitIdle(*m_window));
        QVERIFY2(state().contains(QStringLiteral("layer3 @5,1")), qPrintable(state()));
        cnn()->setFocus();
        QTest::keyClick(cnn(), Qt::Key_Up);  // layer2: 14 x 14
        QVERIFY(waitIdle(*m_window));
        QVERIFY2(state().contains(QStringLiteral("layer2 @11,3")), qPrintable(state()));
        QTest::keyClick(cnn(), Qt::Key_Up);  // layer1: 28 x 28
        QVERIFY(waitIdle(*m_window));
        QVERIFY2(state().contains(QStringLiteral("layer1 @22,6")), qPrintable(state()));
        QTest::keyClick(cnn(), Qt::Key_Escape);
        QVERIFY(waitIdle(*m_window));
    }

    // Another image through the same models keeps what each pane's boxes say.
    void anotherImageKeepsThePaneSettings()
    {
        emit vit()->grid()->cellClicked(2, 1);
        cnn()->setMethod(engine::ViewMethod::ScoreCam);
        emit cnn()->grid()->cellClicked(2, 0);
        QVERIFY(waitIdle(*m_window));
        QSignalSpy shown(m_window.get(), &ui::MainWindow::analysisShown);
        m_window->openImage(QFileInfo(fmnistImage()).dir().filePath(QStringLiteral("0008-sandal.png")));
        QVERIFY(shown.wait(60000));
        QVERIFY(waitIdle(*m_window));
        QCOMPARE(vit()->layer(), QStringLiteral("2"));
        QCOMPARE(vit()->head(), QStringLiteral("1"));
        QCOMPARE(cnn()->layer(), QStringLiteral("layer2"));
        QVERIFY(cnn()->method() == engine::ViewMethod::ScoreCam);
        m_window->openImage(fmnistImage());
        QVERIFY(shown.wait(60000));
        QVERIFY(waitIdle(*m_window));
    }

    void headGridSelectsLayerAndHead()
    {
        const auto* grid = vit()->grid();
        QCOMPARE(grid->rows(), 6);     // blocks
        QCOMPARE(grid->columns(), 4);  // heads
        emit vit()->grid()->cellClicked(2, 1);
        QVERIFY(vit()->method() == engine::ViewMethod::Attention);
        QCOMPARE(vit()->layer(), QStringLiteral("2"));
        QCOMPARE(vit()->head(), QStringLiteral("1"));
        QCOMPARE(grid->cellToolTip(2, 1), QStringLiteral("block 2 · head 1"));
        // The CNN's grid holds its stages, one per row.
        QCOMPARE(cnn()->grid()->rows(), 4);  // conv1, layer1..3
        QCOMPARE(cnn()->grid()->columns(), 1);
        QCOMPARE(cnn()->grid()->cellToolTip(2, 0), QStringLiteral("layer2"));
        emit cnn()->grid()->cellClicked(2, 0);
        QCOMPARE(cnn()->layer(), QStringLiteral("layer2"));
        QVERIFY(waitIdle(*m_window));
    }

    void clickingACnnUnitShowsItsFields()
    {
        const QImage before = cnn()->overlay();
        cnn()->setUnit(std::make_pair(3, 4));
        QVERIFY(cnn()->method() == engine::ViewMethod::EffectiveField);
        QVERIFY(waitIdle(*m_window));
        QVERIFY(cnn()->overlay() != before);
        QVERIFY(cnn()->findChild<QLabel*>(QStringLiteral("state"))->text().contains(QStringLiteral(" @3,4")));
        cnn()->setMethod(engine::ViewMethod::GradCam);
        QVERIFY(waitIdle(*m_window));
    }

    void exportWritesThePngWithItsDescription()
    {
        const QString path = m_dir.filePath(QStringLiteral("vit.png"));
        vit()->exportOverlay(path, fmnistImage());
        const QImage image(path);
        QCOMPARE(image.size(), vit()->overlay().size());
        std::map<std::string, std::string> text;
        for (const auto& [key, value] : io::readPngText(readFile(path)))
            text[key] = value;
        QCOMPARE(text["attnviz:method"], std::string("attention"));
        QCOMPARE(text["attnviz:image"], fmnistImage().toStdString());
        // The name suggested says what is in it (the window puts it beside the image).
        QCOMPARE(vit()->exportStem(), QStringLiteral("vit-fmnist-attention-block-5-head-mean"));
        QCOMPARE(cnn()->exportStem(), QStringLiteral("cnn-fmnist-gradcam-layer3"));
    }

    // Help says what runs here, lists the keys and the methods' papers; the Input size
    // box says the size the models run at by default; Reset view brings back the start.
    void helpVersionsInputSizeAndReset()
    {
        QStringList texts;
        for (auto* menu : m_window->findChildren<QMenu*>())
            for (auto* action : menu->actions())
                texts << action->text();
        QVERIFY(texts.contains(QStringLiteral("&Keyboard and mouse")));
        QVERIFY(texts.contains(QStringLiteral("&Methods")));
        QVERIFY(texts.contains(QStringLiteral("&Reset view")));
        QVERIFY(texts.contains(QStringLiteral("CNN stage column…")));
        auto* size = m_window->findChild<QComboBox*>(QStringLiteral("inputSize"));
        QCOMPARE(size->itemText(0), QStringLiteral("each model's own (28 px)"));
        // Reset view: the start's method, layer, head and rendering, no place, no zoom.
        vit()->setMethod(engine::ViewMethod::Rollout);
        vit()->setColormap(QStringLiteral("gray"));
        cnn()->setUnit(std::make_pair(1, 1));
        vit()->overlayView()->setViewport(4.0, {0.3, 0.3});
        QVERIFY(waitIdle(*m_window));
        QAction* reset = nullptr;
        for (auto* menu : m_window->findChildren<QMenu*>())
            for (auto* action : menu->actions())
                if (action->text() == QStringLiteral("&Reset view"))
                    reset = action;
        reset->trigger();
        QVERIFY(waitIdle(*m_window));
        QVERIFY(vit()->method() == engine::ViewMethod::Attention);
        QVERIFY(cnn()->method() == engine::ViewMethod::GradCam);
        QCOMPARE(vit()->overlayView()->zoom(), 1.0);
        QCOMPARE(vit()->findChild<QLabel*>(QStringLiteral("state"))->text(),
                 QStringLiteral("attention · block 5 · head mean"));
        QVERIFY(!cnn()->findChild<QLabel*>(QStringLiteral("state"))->text().contains(QStringLiteral("@")));
        QCOMPARE(vit()->findChild<QComboBox*>(QStringLiteral("colormap"))->currentText(), QStringLiteral("viridis"));
        // Recent models are remembered beside recent images.
        QVERIFY(ui::settings::recentModels(ui::Side::ViT).contains(fmnistModel(ui::Side::ViT)));
        QVERIFY(ui::settings::recentModels(ui::Side::CNN).contains(fmnistModel(ui::Side::CNN)));
    }

    // Edit → Undo takes back the panes' view changes one at a time, in either pane, a
    // click's place included; Redo brings them again.
    void undoAndRedoViewChanges()
    {
        auto* undo = m_window->findChild<QAction*>(QStringLiteral("undo"));
        auto* redo = m_window->findChild<QAction*>(QStringLiteral("redo"));
        QVERIFY(undo && redo);
        const auto state = [](ui::ModelPane* pane) {
            return pane->findChild<QLabel*>(QStringLiteral("state"))->text();
        };
        const auto start = state(vit());
        emit vit()->grid()->cellClicked(2, 1);  // attention, block 2, head 1: one change
        vit()->setMethod(engine::ViewMethod::Rollout);
        cnn()->setUnit(std::make_pair(1, 1));  // the CNN's erf at a place
        QVERIFY(waitIdle(*m_window));
        undo->trigger();  // the CNN back to Grad-CAM, no place
        QVERIFY(waitIdle(*m_window));
        QVERIFY(cnn()->method() == engine::ViewMethod::GradCam);
        QVERIFY(!state(cnn()).contains(QStringLiteral("@")));
        undo->trigger();  // the ViT back to attention at block 2, head 1
        QVERIFY(vit()->method() == engine::ViewMethod::Attention);
        QCOMPARE(state(vit()), QStringLiteral("attention · block 2 · head 1"));
        undo->trigger();
        QCOMPARE(state(vit()), start);
        redo->trigger();
        QCOMPARE(state(vit()), QStringLiteral("attention · block 2 · head 1"));
        redo->trigger();
        redo->trigger();
        QVERIFY(waitIdle(*m_window));
        QVERIFY(vit()->method() == engine::ViewMethod::Rollout);
        QVERIFY2(state(cnn()).contains(QStringLiteral("layer3 @1,1")), qPrintable(state(cnn())));
    }

    // Each model's top-5 in its own chart, five rows each, with the other model's
    // probabilities of the same classes.
    void predictionsNameEveryClass()
    {
        QVERIFY(m_window->plots()->showPlot(QStringLiteral("predictions")));
        for (auto* view : m_window->plots()->findChildren<QChartView*>()) {
            auto* axis = view->chart()->findChild<QBarCategoryAxis*>();
            if (!axis || !view->isVisible())
                continue;
            QCOMPARE(axis->count(), 5);
            QVERIFY(view->chart()->title().contains(QStringLiteral("top-5")));
            QCOMPARE(view->chart()->series().size(), 1);
            QCOMPARE(qobject_cast<QAbstractBarSeries*>(view->chart()->series().at(0))->count(), 2);
        }
        QVERIFY(m_window->plots()->showPlot(QStringLiteral("distance")));
    }

    void zoomMovesBothPanes()
    {
        auto* left = vit()->overlayView();
        auto* right = cnn()->overlayView();
        const QPointF centre(left->width() / 2.0, left->height() / 2.0);
        QWheelEvent wheel(centre, left->mapToGlobal(centre), QPoint(), QPoint(0, 120), Qt::NoButton, Qt::NoModifier,
                          Qt::NoScrollPhase, false);
        QApplication::sendEvent(left, &wheel);
        QVERIFY(left->zoom() > 1.0);
        QCOMPARE(right->zoom(), left->zoom());
        QTest::mouseDClick(right, Qt::LeftButton);
        QCOMPARE(left->zoom(), 1.0);
    }

    void montageAndGridExport()
    {
        const QString montage = m_dir.filePath(QStringLiteral("montage.png"));
        vit()->exportMontage(montage);
        const QImage image(montage);
        QVERIFY(image.width() >= 4 * 224 && image.height() >= 6 * 224);  // 6 blocks x 4 heads
        QCOMPARE(image.text(QStringLiteral("attnviz:layer")), QStringLiteral("0,1,2,3,4,5"));
        QVERIFY_THROWS_EXCEPTION(std::runtime_error, cnn()->exportMontage(montage));
        const QString grid = m_dir.filePath(QStringLiteral("grid.png"));
        vit()->exportGrid(grid);
        QCOMPARE(QImage(grid).size(), vit()->grid()->size());
    }

    void plotsCanBeExported()
    {
        auto* plots = m_window->plots();
        QCOMPARE(plots->plotCount(), 11);
        QVERIFY(plots->plotTitle(0).contains(QStringLiteral("attention distance")));
        for (int i = 0; i < 3; ++i) {
            const QString path = m_dir.filePath(QStringLiteral("plot%1.png").arg(i));
            plots->exportPlot(path, i);
            const QImage image(path);
            QVERIFY(image.width() > 100 && image.height() > 100);
            QCOMPARE(image.text(QStringLiteral("Title")), plots->plotTitle(i));
        }
        // No folder compared yet: nothing to export, and no file appears.
        const QString cka = m_dir.filePath(QStringLiteral("cka-none.png"));
        QVERIFY_THROWS_EXCEPTION(std::runtime_error, plots->exportPlot(cka, 3));
        QVERIFY(!QFileInfo::exists(cka));
    }

    // The faithfulness plot scores the maps on screen when it is shown, again when they
    // change, and not for a repaint of the same maps; its curves are the engine's.
    void faithfulnessPlotFollowsTheShownMaps()
    {
        auto* plots = m_window->plots();
        QSignalSpy finished(&m_window->controller(), &ui::AnalysisController::faithfulnessFinished);
        QVERIFY(!plots->hasFaithfulness());  // nothing is computed until someone looks
        QVERIFY(plots->showPlot(QStringLiteral("faithfulness")));
        QTRY_VERIFY_WITH_TIMEOUT(plots->hasFaithfulness(), 60000);
        QCOMPARE(finished.count(), 1);
        auto plot = finished.at(0).at(0).value<std::shared_ptr<const ui::FaithfulnessPlot>>();
        QCOMPARE(int(plot->sides.size()), 2);
        const auto request = vit()->faithfulnessRequest();
        QVERIFY(request);
        QCOMPARE(plot->sides[0].caption, request->caption);
        QVERIFY(!plot->sides[0].predictedClass.isEmpty());  // attention explains no class
        QVERIFY(plot->sides[1].predictedClass.isEmpty());   // Grad-CAM's caption names its class
        const auto direct = engine::faithfulness(*request->pane->model, request->pane->trace.input, request->map);
        QCOMPARE(plot->sides[0].scores.deletion.probabilities.size(), direct.deletion.probabilities.size());
        QVERIFY(std::abs(plot->sides[0].scores.deletion.auc - direct.deletion.auc) < 1e-6);
        QVERIFY(std::abs(plot->sides[0].scores.insertion.auc - direct.insertion.auc) < 1e-6);
        auto* chart = plots->findChild<QChartView*>(QStringLiteral("faithfulnessPlot"))->chart();
        QCOMPARE(chart->series().size(), 4);
        QVERIFY(chart->series().at(0)->name().contains(QStringLiteral("AUC %1").arg(direct.deletion.auc, 0, 'f', 3)));
        QVERIFY(chart->title().contains(request->caption));
        // A recolouring shows the same maps: nothing to score.
        auto* alpha = vit()->findChild<QSlider*>();
        alpha->setValue(alpha->value() == 30 ? 40 : 30);
        QVERIFY(waitIdle(*m_window));
        QCOMPARE(finished.count(), 1);
        // Another block is another map.
        vit()->stepLayer(-1);
        QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 2, 60000);
        plot = finished.at(1).at(0).value<std::shared_ptr<const ui::FaithfulnessPlot>>();
        QVERIFY(plot->sides[0].caption != request->caption);
        // Off screen, a change costs nothing: another tab, or the dock closed on this one ...
        QVERIFY(plots->showPlot(QStringLiteral("distance")));
        vit()->stepLayer(-1);
        QVERIFY(waitIdle(*m_window));
        QCOMPARE(finished.count(), 2);
        QVERIFY(plots->showPlot(QStringLiteral("faithfulness")));
        QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 3, 60000);
        auto* dock = qobject_cast<QDockWidget*>(plots->parentWidget());
        dock->close();
        vit()->stepLayer(-1);
        QVERIFY(waitIdle(*m_window));
        QCOMPARE(finished.count(), 3);
        // ... and opening the dock again scores the maps it shows.
        dock->show();
        QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 4, 60000);
        // A CNN showing an effective field has no curve, and the plot says why.
        cnn()->setUnit(std::make_pair(3, 3));
        QVERIFY(waitIdle(*m_window));
        QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 5, 60000);
        chart = plots->findChild<QChartView*>(QStringLiteral("faithfulnessPlot"))->chart();
        QCOMPARE(chart->series().size(), 2);
        QVERIFY2(chart->title().contains(QStringLiteral("CNN: no curve, its erf map answers about one place")),
                 qPrintable(chart->title()));
        QVERIFY(plots->showPlot(QStringLiteral("distance")));
    }

    // An image with NAME.mask.png beside it: the Trust tab scores the maps on screen
    // against that mask as the engine does, and both pictures outline it in white (no
    // colour map reaches pure white, so only the outline can be); a mask of the wrong
    // size is named and not used, and deletion and insertion are still scored.
    void trustTabScoresTheShownMapsAgainstTheMask()
    {
        const auto whitePixels = [](const QImage& overlay) {
            int count = 0;  // in the square picture, left of the colour bar
            for (int y = 0; y < overlay.height(); ++y)
                for (int x = 0; x < overlay.height(); ++x)
                    count += QColor(overlay.pixel(x, y)) == QColor(255, 255, 255) ? 1 : 0;
            return count;
        };
        const auto openMasked = [this](const QString& name, int maskSide) {
            const QString image = m_dir.filePath(name + QStringLiteral(".png"));
            if (!QFile::copy(fmnistImage(), image))
                return false;
            QImage mask(maskSide, maskSide, QImage::Format_Grayscale8);
            mask.fill(Qt::black);
            for (int y = 6; y < 22 && y < maskSide; ++y)
                for (int x = 6; x < 22 && x < maskSide; ++x)
                    mask.setPixelColor(x, y, Qt::white);
            if (!mask.save(m_dir.filePath(name + QStringLiteral(".mask.png"))))
                return false;
            QSignalSpy shown(m_window.get(), &ui::MainWindow::analysisShown);
            m_window->openImage(image);
            return shown.wait(60000) && waitIdle(*m_window);
        };
        auto* plots = m_window->plots();
        auto* trust = plots->trust();
        QVERIFY(plots->showPlot(QStringLiteral("trust")));
        QTRY_VERIFY_WITH_TIMEOUT(plots->hasFaithfulness(), 60000);
        QVERIFY2(trust->title().contains(QStringLiteral("no ground-truth mask")), qPrintable(trust->title()));
        QCOMPARE(whitePixels(vit()->overlay()), 0);

        QVERIFY(openMasked(QStringLiteral("masked"), 28));
        QTRY_VERIFY_WITH_TIMEOUT(plots->hasFaithfulness(), 60000);
        QVERIFY2(trust->title().contains(QStringLiteral("masked.mask.png")), qPrintable(trust->title()));
        QCOMPARE(trust->table()->rowCount(), 2);
        for (auto* pane : {vit(), cnn()}) {
            const auto request = pane->faithfulnessRequest();
            QVERIFY(request && request->pane->mask.defined());
            const int row = pane == vit() ? 0 : 1;
            const auto energy = engine::energyInMask(request->map, request->pane->mask);
            const auto iou = engine::topCellsIoU(request->map, request->pane->mask);
            QCOMPARE(trust->table()->item(row, 3)->text(), QString::number(energy, 'f', 3));
            QCOMPARE(trust->table()->item(row, 4)->text(), QString::number(iou, 'f', 3));
            QVERIFY(whitePixels(pane->overlay()) > 0);
        }
        const QString exported = m_dir.filePath(QStringLiteral("trust.png"));
        plots->exportPlot(exported);
        QCOMPARE(QImage(exported).text(QStringLiteral("Title")), trust->title());

        QVERIFY(openMasked(QStringLiteral("badmask"), 20));
        QTRY_VERIFY_WITH_TIMEOUT(plots->hasFaithfulness(), 60000);
        QVERIFY2(trust->title().contains(QStringLiteral("not used")) && trust->title().contains(QStringLiteral("20")),
                 qPrintable(trust->title()));
        QCOMPARE(trust->table()->item(0, 3)->text(), QStringLiteral("—"));
        QVERIFY(trust->table()->item(0, 5)->text().toDouble() > 0);
        QCOMPARE(whitePixels(vit()->overlay()), 0);

        QSignalSpy shown(m_window.get(), &ui::MainWindow::analysisShown);
        m_window->openImage(fmnistImage());
        QVERIFY(shown.wait(60000));
        QVERIFY(plots->showPlot(QStringLiteral("distance")));
    }

    // The audit's dialog offers every method of the audit of the models shown, those with
    // many passes of their own per image unchecked; OK needs one method.
    void auditDialogStartsWithTheQuickMethods()
    {
        const std::vector<engine::Family> both{engine::Family::ViT, engine::Family::CNN};
        ui::AuditDialog dialog(m_dir.path(), both);
        QCOMPARE(dialog.methods(), ui::AuditDialog::quickMethods(both));
        std::set<engine::ViewMethod> offered;
        for (const auto family : both)
            for (const auto method : engine::auditableMethods(family))
                offered.insert(method);
        const auto boxes = dialog.findChildren<QCheckBox*>();
        QCOMPARE(std::size_t(boxes.size()), offered.size());
        const auto occlusion = engine::viewMethodFromName("occlusion");
        QVERIFY(engine::methodInfo(occlusion).runsManyPasses());
        QVERIFY(!contains(dialog.methods(), occlusion));
        QVERIFY(contains(dialog.methods(), engine::viewMethodFromName("gradcam")));
        auto* ok = dialog.findChild<QDialogButtonBox*>()->button(QDialogButtonBox::Ok);
        for (auto* box : boxes) {
            const auto method = engine::viewMethodFromName(box->objectName().mid(6).toStdString());  // "audit-..."
            const bool slow = engine::methodInfo(method).runsManyPasses();
            QCOMPARE(box->text().contains(QStringLiteral("slow")), slow);
            box->setChecked(slow);
        }
        QVERIFY(contains(dialog.methods(), occlusion));
        QVERIFY(ok->isEnabled());
        for (auto* box : boxes)
            box->setChecked(false);
        QVERIFY(dialog.methods().empty());
        QVERIFY(!ok->isEnabled());
        // A CNN alone is offered no ViT method.
        ui::AuditDialog cnnOnly(m_dir.path(), {engine::Family::CNN});
        QVERIFY(!cnnOnly.findChild<QCheckBox*>(QStringLiteral("audit-attention")));
    }

    // Analysis → Audit methods on a folder: copies of the shown models audited over images
    // with masks beside them, one bar per score and method, as the core audit tallies
    // them; the chart exports whole. Cancelled, nothing arrives. By default the methods of
    // at most one pass of their own per image.
    void auditOfAFolderDrawsEveryMethod()
    {
        const QString folder = m_dir.filePath(QStringLiteral("audited"));
        QVERIFY(QDir().mkpath(folder));
        QImage mask(28, 28, QImage::Format_Grayscale8);
        mask.fill(Qt::black);
        for (int y = 4; y < 24; ++y)
            for (int x = 8; x < 20; ++x)
                mask.setPixelColor(x, y, Qt::white);
        for (const auto* name : {"a", "b", "c"}) {
            QVERIFY(QFile::copy(fmnistImage(), folder + QStringLiteral("/%1.png").arg(QLatin1String(name))));
            QVERIFY(mask.save(folder + QStringLiteral("/%1.mask.png").arg(QLatin1String(name))));
        }
        auto* plots = m_window->plots();
        QSignalSpy finished(&m_window->controller(), &ui::AnalysisController::auditFinished);
        m_window->auditMethods(folder);
        m_window->controller().cancel();
        QVERIFY(waitIdle(*m_window));
        QCOMPARE(finished.count(), 0);
        QVERIFY(!plots->hasAudit());

        m_window->auditMethods(folder);
        QTRY_VERIFY_WITH_TIMEOUT(plots->hasAudit(), 120000);
        const auto audit = finished.at(0).at(0).value<std::shared_ptr<const ui::FolderAuditResult>>();
        QCOMPARE(int(audit->imagesUsed), 3);  // the masks are not images of their own
        QCOMPARE(int(audit->withMask), 3);
        QCOMPARE(int(audit->models.size()), 2);
        std::size_t methods = 0;
        for (const auto& model : audit->models) {
            QVERIFY(!model.model);  // the copies are released
            methods += model.methods.size();
        }
        QCOMPARE(methods, engine::quickAuditableMethods(engine::Family::ViT).size()
                              + engine::quickAuditableMethods(engine::Family::CNN).size());
        auto* chart = plots->findChild<QChartView*>(QStringLiteral("auditPlot"))->chart();
        auto* bars = qobject_cast<QHorizontalBarSeries*>(chart->series().at(0));
        QVERIFY(bars);
        QCOMPARE(bars->count(), 3);  // pointing game, energy, IoU
        const auto* set = bars->barSets().at(1);
        QCOMPARE(std::size_t(set->count()), methods);
        // The top bar is the ViT's first method (bars run from the bottom up).
        const auto& first = audit->models.front().methods.front();
        QVERIFY(std::abs(set->at(set->count() - 1) - first.energy.mean()) < 1e-9);
        QCOMPARE(int(first.energy.values.size()), 3);
        QCOMPARE(int(first.spearman.size()), int(audit->models.front().randomisationSteps.size()));
        const QString exported = m_dir.filePath(QStringLiteral("audit.png"));
        plots->exportPlot(exported);
        const QImage image(exported);
        QVERIFY2(image.height() >= int(34 * methods), "the whole chart, not the part the dock shows");
        QCOMPARE(image.text(QStringLiteral("Title")), chart->title());
        QVERIFY(plots->showPlot(QStringLiteral("distance")));
    }

    void receptiveFieldPlotAddsEffectiveSizes()
    {
        auto* plots = m_window->plots();
        auto* chart = plots->findChild<QChartView*>(QStringLiteral("fieldsPlot"))->chart();
        QCOMPARE(chart->series().size(), 2);  // theoretical only until someone looks
        QVERIFY(!plots->hasFieldSizes());
        // Shown, then cancelled: nothing arrives ...
        QVERIFY(plots->showPlot(QStringLiteral("fields")));
        m_window->controller().cancel();
        QVERIFY(waitIdle(*m_window));
        QVERIFY(!plots->hasFieldSizes());
        // ... and showing the plot again measures them.
        QVERIFY(plots->showPlot(QStringLiteral("distance")));
        QVERIFY(plots->showPlot(QStringLiteral("fields")));
        QTRY_VERIFY_WITH_TIMEOUT(plots->hasFieldSizes(), 30000);
        chart = plots->findChild<QChartView*>(QStringLiteral("fieldsPlot"))->chart();
        QCOMPARE(chart->series().size(), 4);
        QVERIFY(chart->title().contains(QStringLiteral("effective")));
        // The legend cannot show a dash: the effective curves say so, and are drawn last
        // (on top of a theoretical curve they may lie on) with larger points.
        for (int i = 0; i < 4; ++i) {
            auto* line = qobject_cast<QLineSeries*>(chart->series().at(i));
            const bool effective = line->name().contains(QStringLiteral("effective"));
            QCOMPARE(effective, i >= 2);
            QCOMPARE(line->name().endsWith(QStringLiteral("(dashed)")), effective);
            QCOMPARE(line->pen().style(), effective ? Qt::DashLine : Qt::SolidLine);
        }
        // Another CNN: only its sizes are measured; the ViT's, on the same trace, are kept.
        QSignalSpy progress(&m_window->controller(), &ui::AnalysisController::progress);
        QSignalSpy measured(&m_window->controller(), &ui::AnalysisController::fieldSizesFinished);
        QSignalSpy shown(m_window.get(), &ui::MainWindow::analysisShown);
        m_window->openModel(ui::Side::CNN, copyOfShippedCnn());
        QVERIFY(shown.wait(60000));
        QTRY_VERIFY_WITH_TIMEOUT(measured.count() == 1, 30000);
        QVERIFY(waitIdle(*m_window));
        int measuring = 0;
        for (const auto& args : progress)
            measuring += args.at(0).toString().contains(QStringLiteral("effective receptive fields")) ? 1 : 0;
        QCOMPARE(measuring, 1);  // the CNN only
        const auto sizes = measured.at(0).at(0).value<std::shared_ptr<const ui::FieldSizes>>();
        QCOMPARE(int(sizes->vit.size()), 6);
        QCOMPARE(int(sizes->cnn.size()), 4);
        QVERIFY(plots->showPlot(QStringLiteral("distance")));
    }

    // Weights holding NaN or infinity load, with a warning under the model's name.
    void brokenWeightsAreNamedInThePane()
    {
        const QString folder = m_dir.filePath(QStringLiteral("cnn-nan"));
        QDir().mkpath(folder);
        auto file = io::readSafetensors((copyOfShippedCnn() + QStringLiteral("/model.safetensors")).toStdString());
        const float nan = std::nanf("");
        std::memcpy(file.tensors.at("fc.bias").bytes.data(), &nan, sizeof nan);
        io::writeSafetensors((folder + QStringLiteral("/model.safetensors")).toStdString(), file.tensors,
                             file.metadata);
        QFile::copy(copyOfShippedCnn() + QStringLiteral("/config.json"), folder + QStringLiteral("/config.json"));
        QSignalSpy shown(m_window.get(), &ui::MainWindow::analysisShown);
        m_window->openModel(ui::Side::CNN, folder);
        QVERIFY(shown.wait(60000));
        const auto title = cnn()->findChild<QLabel*>(QStringLiteral("title"))->text();
        QVERIFY2(title.contains(QStringLiteral("Warning: 1 tensor holds NaN or infinite values: fc.bias")),
                 qPrintable(title));
        QVERIFY(waitIdle(*m_window));
    }

    void layerSimilarityOverAFolder()
    {
        auto* plots = m_window->plots();
        QVERIFY(waitIdle(*m_window));
        // A folder without images is an error; the window keeps what it showed.
        QTemporaryDir empty;
        m_window->compareLayers(empty.path());
        QTRY_VERIFY_WITH_TIMEOUT(m_window->errorText().contains(QStringLiteral("no images")), 30000);
        QVERIFY(!plots->hasSimilarity());
        QVERIFY(vit()->hasAnalysis());
        // Cancelled before it finishes: no result arrives.
        const QString samples = QFileInfo(fmnistImage()).path();
        m_window->compareLayers(samples);
        m_window->controller().cancel();
        QVERIFY(waitIdle(*m_window));
        QVERIFY(!plots->hasSimilarity());
        QVERIFY2(m_window->errorText().contains(QStringLiteral("cancelled")), qPrintable(m_window->errorText()));
        // The shipped samples: three heat maps, exported with the folder in the PNG.
        m_window->compareLayers(samples);
        QTRY_VERIFY_WITH_TIMEOUT(plots->hasSimilarity(), 60000);
        QVERIFY(m_window->errorText().isEmpty());
        const auto count = QString::number(io::imageFilesIn(samples.toStdString()).size());
        QVERIFY2(plots->plotTitle(3).startsWith(QStringLiteral("Linear CKA over %1 of the %1 images").arg(count)),
                 qPrintable(plots->plotTitle(3)));
        const QString path = m_dir.filePath(QStringLiteral("cka.png"));
        plots->exportPlot(path, 3);
        const QImage image(path);
        QVERIFY(image.width() > 300 && image.height() > 100);
        QCOMPARE(image.text(QStringLiteral("attnviz:folder")), samples);
    }

    // Skip connections and the ViT's tokens come from the traces on screen: no pass of
    // their own, drawn with the analysis.
    void skipPlotAndHeadTableFollowTheAnalysis()
    {
        auto* plots = m_window->plots();
        QVERIFY(plots->showPlot(QStringLiteral("skip")));
        auto* chart = m_window->findChild<QChartView*>(QStringLiteral("skipPlot"))->chart();
        QStringList names;
        for (auto* series : chart->series())
            names << series->name();
        QVERIFY2(names.contains(QStringLiteral("ViT attention")) && names.contains(QStringLiteral("ViT MLP, CLS"))
                     && names.contains(QStringLiteral("CNN residual blocks")),
                 qPrintable(names.join(QStringLiteral(", "))));
        const auto& trace = vit()->analysis()->trace;
        // One point per block for each ViT branch; the engine's own ratios.
        auto* attention = static_cast<QLineSeries*>(chart->series()[names.indexOf(QStringLiteral("ViT attention"))]);
        QCOMPARE(attention->count(), trace.attention.depth());
        engine::SkipAccumulator sums;
        sums.add(trace.residuals, trace.tokens.prefixTokens(), trace.tokens.hasCls);
        QVERIFY(std::abs(attention->at(0).y() - sums.result()[0].spatialRatio()) < 1e-9);

        QVERIFY(plots->showPlot(QStringLiteral("tokens")));
        auto* table = plots->tokens()->table();
        const int heads = int(trace.attention.heads());
        QCOMPARE(table->rowCount(), trace.attention.depth() * heads);
        // A click on a head shows its attention map in the ViT pane.
        const int row = heads + 2;  // block 1, head 2 when sorted by block
        QCOMPARE(table->item(row, 0)->data(Qt::DisplayRole).toInt(), 1);
        QCOMPARE(table->item(row, 1)->data(Qt::DisplayRole).toInt(), 2);
        emit table->cellClicked(row, 3);
        QCOMPARE(vit()->layer(), QStringLiteral("1"));
        QCOMPARE(vit()->head(), QStringLiteral("2"));
        QVERIFY(waitIdle(*m_window));
        // Sorted by entropy the lowest comes first.
        table->sortByColumn(3, Qt::AscendingOrder);
        QVERIFY(table->item(0, 3)->data(Qt::DisplayRole).toDouble()
                <= table->item(1, 3)->data(Qt::DisplayRole).toDouble());
        // CSV: a header and a line per head; the shipped ViT has no registers (empty fields).
        const QString csv = m_dir.filePath(QStringLiteral("heads.csv"));
        plots->tokens()->exportCsv(csv);
        QFile file(csv);
        QVERIFY(file.open(QIODevice::ReadOnly));
        const auto lines = file.readAll().trimmed().split('\n');
        QCOMPARE(lines.size(), table->rowCount() + 1);
        QVERIFY(lines[1].endsWith(","));
        const QString png = m_dir.filePath(QStringLiteral("tokens.png"));
        plots->exportPlot(png, 6);
        QVERIFY(QImage(png).width() > 300);
    }

    // Localisation over a folder and probes on a labelled tree run beside the views.
    void localizationAndProbesOverFolders()
    {
        auto* plots = m_window->plots();
        const QString samples = QFileInfo(fmnistImage()).path();
        const QString none = m_dir.filePath(QStringLiteral("localization-none.png"));
        QVERIFY_THROWS_EXCEPTION(std::runtime_error, plots->exportPlot(none, 7));
        QVERIFY(!QFileInfo::exists(none));
        m_window->localize(samples);
        QTRY_VERIFY_WITH_TIMEOUT(plots->hasLocalization(), 60000);
        QVERIFY2(plots->plotTitle(7).contains(QStringLiteral("ViT: the own input position is the most similar")),
                 qPrintable(plots->plotTitle(7)));
        const QString png = m_dir.filePath(QStringLiteral("localization.png"));
        plots->exportPlot(png, 7);
        QCOMPARE(QImage(png).text(QStringLiteral("attnviz:folder")), samples);

        // Two classes of six sample images, a fifth of each held out.
        const QString tree = m_dir.filePath(QStringLiteral("labelled"));
        const auto files = QDir(samples).entryList({QStringLiteral("*.png")}, QDir::Files, QDir::Name);
        for (int i = 0; i < 12; ++i) {
            const QString dir = tree + (i % 2 ? QStringLiteral("/odd") : QStringLiteral("/even"));
            QDir().mkpath(dir);
            QVERIFY(QFile::copy(samples + QLatin1Char('/') + files[i], dir + QLatin1Char('/') + files[i]));
        }
        m_window->probeLayers(tree);
        QTRY_VERIFY_WITH_TIMEOUT(plots->hasProbes(), 60000);
        QVERIFY(m_window->errorText().isEmpty());
        auto* chart = m_window->findChild<QChartView*>(QStringLiteral("probesPlot"))->chart();
        QStringList names;
        for (auto* series : chart->series())
            names << series->name();
        QVERIFY2(names.contains(QStringLiteral("ViT CLS token"))
                     && names.contains(QStringLiteral("CNN global average pool")),
                 qPrintable(names.join(QStringLiteral(", "))));
        QVERIFY(plots->plotTitle(8).contains(QStringLiteral("ImageFolder tree")));
    }

    // The Input setting runs both models at that resolution, and back at their own.
    void inputSizeSettingRunsBothModelsAtIt()
    {
        auto* size = m_window->findChild<QComboBox*>(QStringLiteral("inputSize"));
        QVERIFY(size);
        QSignalSpy shown(m_window.get(), &ui::MainWindow::analysisShown);
        size->setCurrentIndex(size->findData(224));
        QVERIFY(shown.wait(120000));
        QVERIFY(waitIdle(*m_window));
        QCOMPARE(vit()->analysis()->trace.input.sizes(), (c10::IntArrayRef{1, 1, 224, 224}));
        QCOMPARE(cnn()->analysis()->trace.input.sizes(), (c10::IntArrayRef{1, 1, 224, 224}));
        QCOMPARE(vit()->analysis()->trace.tokens.gridH, 56);  // patch 4
        size->setCurrentIndex(size->findData(0));
        QVERIFY(shown.wait(60000));
        QVERIFY(waitIdle(*m_window));
        QCOMPARE(vit()->analysis()->trace.input.size(2), 28);
    }

    void brokenImageShowsAnErrorAndKeepsTheAnalysis()
    {
        const QString broken = m_dir.filePath(QStringLiteral("broken.png"));
        {
            QFile f(broken);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write("\x89PNG\r\n\x1a\n not an image");
        }
        const QImage before = vit()->overlay();
        // The error line moves and shrinks nothing: the pictures stay where they are.
        const auto placeOf = [this](ui::ModelPane* pane) {
            auto* view = pane->overlayView();
            return QRect(view->mapTo(m_window.get(), view->pictureRect().topLeft()), view->pictureRect().size());
        };
        const QRect vitPlace = placeOf(vit()), cnnPlace = placeOf(cnn());
        m_window->openImage(broken);
        QTRY_VERIFY_WITH_TIMEOUT(!m_window->errorText().isEmpty(), 30000);
        QVERIFY2(m_window->errorText().contains(QStringLiteral("cannot decode")), qPrintable(m_window->errorText()));
        QTest::qWait(50);
        QCOMPARE(placeOf(vit()), vitPlace);
        QCOMPARE(placeOf(cnn()), cnnPlace);
        QVERIFY(waitIdle(*m_window));
        QCOMPARE(vit()->overlay(), before);
        QVERIFY(vit()->hasAnalysis());
        QTest::keyClick(vit(), Qt::Key_Up);  // still usable
        QVERIFY(vit()->overlay() != before);
    }

    void unsupportedModelShowsAnErrorAndKeepsTheAnalysis()
    {
        // A "model" that is not one: the window names the problem and keeps the ViT it had.
        const QString bogus = m_dir.filePath(QStringLiteral("bogus.safetensors"));
        {
            QFile f(bogus);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write("\x10\x00\x00\x00\x00\x00\x00\x00{\"a\": 1}       ");
        }
        m_window->openImage(fmnistImage());
        QVERIFY(waitIdle(*m_window));
        const auto title = vit()->findChild<QLabel*>(QStringLiteral("title"))->text();
        m_window->openModel(ui::Side::ViT, bogus);
        QTRY_VERIFY_WITH_TIMEOUT(!m_window->errorText().isEmpty(), 30000);
        QVERIFY2(m_window->errorText().contains(QStringLiteral("safetensors")), qPrintable(m_window->errorText()));
        QVERIFY(waitIdle(*m_window));
        QCOMPARE(vit()->findChild<QLabel*>(QStringLiteral("title"))->text(), title);
        // A CNN offered as the ViT is refused by family.
        m_window->openModel(ui::Side::ViT, fmnistModel(ui::Side::CNN));
        QTRY_VERIFY_WITH_TIMEOUT(m_window->errorText().contains(QStringLiteral("needs a ViT")), 30000);
        QVERIFY(waitIdle(*m_window));
        QCOMPARE(vit()->findChild<QLabel*>(QStringLiteral("title"))->text(), title);
        // The refused model is not kept: the next image opens with the ViT on screen.
        QSignalSpy shown(m_window.get(), &ui::MainWindow::analysisShown);
        m_window->openImage(QFileInfo(fmnistImage()).dir().filePath(QStringLiteral("0002-trouser.png")));
        QVERIFY(shown.wait(30000));
        QVERIFY(m_window->errorText().isEmpty());
        QCOMPARE(vit()->findChild<QLabel*>(QStringLiteral("title"))->text(), title);
    }

    // The whole image with the model's crop outlined: a 2:1 image whose middle half the
    // 28x28 models see; a click outside the crop asks nothing, one inside asks there.
    void wholeImageShowsTheCropOutlined()
    {
        QImage wide(56, 28, QImage::Format_RGB888);
        for (int y = 0; y < 28; ++y)
            for (int x = 0; x < 56; ++x)
                wide.setPixelColor(x, y, QColor(x * 4, x * 4, x * 4));
        const QString path = m_dir.filePath(QStringLiteral("wide.png"));
        QVERIFY(wide.save(path));
        QSignalSpy shown(m_window.get(), &ui::MainWindow::analysisShown);
        m_window->openImage(path);
        QVERIFY(shown.wait(60000));
        QVERIFY(waitIdle(*m_window));
        vit()->setMethod(engine::ViewMethod::Attention);
        vit()->setQuery(std::nullopt);
        const QSize cropOnly = vit()->overlay().size();
        auto* whole = vit()->findChild<QCheckBox*>(QStringLiteral("wholeImage"));
        whole->setChecked(true);
        QVERIFY(vit()->showsWholeImage());
        const QImage overlay = vit()->overlay();
        const int bar = cropOnly.width() - cropOnly.height();  // the colour bar beside a square picture
        const int pictureWidth = overlay.width() - bar;
        QCOMPARE(pictureWidth, 2 * overlay.height());
        // The crop's outline at a quarter of the width; the dimmed outside is darker than
        // the same column of the image would be.
        QCOMPARE(QColor(overlay.pixel(pictureWidth / 4, overlay.height() / 2)), QColor(255, 255, 255));
        vit()->queryAt(QPointF(0.1, 0.5));
        QVERIFY(!vit()->findChild<QLabel*>(QStringLiteral("state"))->text().contains(QStringLiteral("query patch")));
        vit()->queryAt(QPointF(0.5, 0.5));
        QVERIFY2(vit()->findChild<QLabel*>(QStringLiteral("state"))->text().contains(QStringLiteral("query patch 3,3")),
                 qPrintable(vit()->findChild<QLabel*>(QStringLiteral("state"))->text()));
        vit()->setQuery(std::nullopt);
        whole->setChecked(false);
        QCOMPARE(vit()->overlay().size(), cropOnly);
        m_window->openImage(fmnistImage());
        QVERIFY(shown.wait(60000));
        QVERIFY(waitIdle(*m_window));
    }

    // Opening a model for one side runs only that side: the other keeps its trace (the
    // same analysis object), its layer, head and query, and the picture it showed.
    // A CLIP ViT (tests/fixtures/text/legrad_clip, its tokenizer copied beside it): the
    // prompt box appears; Enter makes the prompt a class and shows LeGrad's map of it; a
    // second prompt joins the first; one asked before is shown without the model; a
    // folder without a tokenizer says which file to put there.
    void aPromptBecomesAClassAndShowsItsMap()
    {
        const QString text = QStringLiteral(ATTNVIZ_TEXT_FIXTURES);
        const QString folder = m_dir.filePath(QStringLiteral("clip-prompts"));
        QVERIFY(QDir().mkpath(folder));
        for (const auto* name : {"legrad_clip/open_clip_pytorch_model.bin", "legrad_clip/open_clip_config.json",
                                 "clip_bpe/bpe_simple_vocab_16e6.txt.gz"})
            QVERIFY(QFile::copy(text + QLatin1String(name),
                                folder + QLatin1Char('/') + QFileInfo(QLatin1String(name)).fileName()));
        QSignalSpy shown(m_window.get(), &ui::MainWindow::analysisShown);
        auto* prompt = vit()->findChild<QLineEdit*>(QStringLiteral("prompt"));
        QVERIFY(prompt && !prompt->isVisibleTo(vit()));  // the shipped ViT has no text tower
        QVERIFY(!cnn()->findChild<QLineEdit*>(QStringLiteral("prompt"))->isVisibleTo(cnn()));
        m_window->openModel(ui::Side::ViT, folder);
        QVERIFY(shown.wait(60000));
        QVERIFY(waitIdle(*m_window));
        QVERIFY(prompt->isVisibleTo(vit()));
        QVERIFY(vit()->findChild<QLabel*>(QStringLiteral("title"))->text().contains(QStringLiteral("type a prompt")));
        const auto ask = [&](const QString& words) {
            prompt->setText(words);
            QTest::keyClick(prompt, Qt::Key_Return);
        };
        ask(QStringLiteral("a photo of a boot"));
        QVERIFY(shown.wait(60000));
        QVERIFY(waitIdle(*m_window));
        const auto* classBox = vit()->findChild<QComboBox*>(QStringLiteral("class"));
        QCOMPARE(classBox->currentText(), QStringLiteral("a photo of a boot"));
        QCOMPARE(vit()->method(), engine::ViewMethod::LeGrad);  // attention explains no class
        const auto state = vit()->findChild<QLabel*>(QStringLiteral("state"))->text();
        QVERIFY2(state.contains(QStringLiteral("legrad")) && state.contains(QStringLiteral("a photo of a boot")),
                 qPrintable(state));
        QVERIFY(m_window->errorText().isEmpty());
        // a second prompt keeps the first: two classes, the map of the new one
        vit()->setMethod(engine::ViewMethod::GradCam);
        ask(QStringLiteral("tench"));
        QVERIFY(shown.wait(60000));
        QVERIFY(waitIdle(*m_window));
        QCOMPARE(vit()->analysis()->model->spec().labels, (std::vector<std::string>{"a photo of a boot", "tench"}));
        QCOMPARE(classBox->currentText(), QStringLiteral("tench"));
        QCOMPARE(vit()->method(), engine::ViewMethod::GradCam);  // it explains a class: it stays
        // asked before: its class at once, no model run
        ask(QStringLiteral("a photo of a boot"));
        QVERIFY(!m_window->controller().busy() || waitIdle(*m_window));
        QCOMPARE(shown.count(), 3);  // no analysis since the second prompt
        QCOMPARE(classBox->currentText(), QStringLiteral("a photo of a boot"));
        // a label set as zero-shot classes (Analysis → Zero-shot classes: ImageNet): the
        // class box lists them best match first, and a prompt typed afterwards joins them
        QAction* imagenet = nullptr;
        for (auto* action : m_window->findChildren<QAction*>())
            if (action->text() == QStringLiteral("Zero-shot classes: &ImageNet"))
                imagenet = action;
        QVERIFY(imagenet);
        imagenet->trigger();
        QVERIFY(shown.wait(60000));
        QVERIFY(waitIdle(*m_window));
        const auto& zeroShot = *vit()->analysis();
        QCOMPARE(zeroShot.model->spec().labels.size(), std::size_t(1000));
        QCOMPARE(classBox->count(), 1001);
        QCOMPARE(classBox->currentData().toInt(), -1);  // top-1
        const auto logits = zeroShot.trace.logits.reshape({-1});
        QCOMPARE(int64_t(classBox->itemData(1).toInt()), logits.argmax().item<int64_t>());
        QVERIFY(logits[classBox->itemData(2).toInt()].item<float>()
                <= logits[classBox->itemData(1).toInt()].item<float>());
        ask(QStringLiteral("a photo of a boot"));
        QVERIFY(shown.wait(60000));
        QVERIFY(waitIdle(*m_window));
        QCOMPARE(vit()->analysis()->model->spec().labels.size(), std::size_t(1001));
        QCOMPARE(classBox->currentText(), QStringLiteral("a photo of a boot"));
        // the fixture folder itself has no tokenizer: one line says what to put there
        m_window->openModel(ui::Side::ViT, text + QStringLiteral("legrad_clip"));
        QVERIFY(shown.wait(60000));
        QVERIFY(waitIdle(*m_window));
        ask(QStringLiteral("a dog"));
        QTRY_VERIFY_WITH_TIMEOUT(m_window->errorText().contains(QStringLiteral("put tokenizer.json")), 30000);
        QVERIFY(waitIdle(*m_window));
    }

    void openingACnnLeavesTheViTPaneAsItWas()
    {
        QVERIFY(waitIdle(*m_window));
        emit vit()->grid()->cellClicked(2, 1);
        vit()->setQuery(std::make_pair(1, 2));
        const auto* vitAnalysis = vit()->analysis();
        const QImage vitPicture = vit()->overlay();
        const auto vitState = vit()->findChild<QLabel*>(QStringLiteral("state"))->text();
        const QDir copy(copyOfShippedCnn());
        QSignalSpy shown(m_window.get(), &ui::MainWindow::analysisShown);
        m_window->openModel(ui::Side::CNN, copy.path());
        QVERIFY(shown.wait(60000));
        QVERIFY(waitIdle(*m_window));
        QCOMPARE(cnn()->analysis()->modelPath, copy.absolutePath());
        QCOMPARE(vit()->analysis(), vitAnalysis);
        QCOMPARE(vit()->layer(), QStringLiteral("2"));
        QCOMPARE(vit()->head(), QStringLiteral("1"));
        QCOMPARE(vit()->findChild<QLabel*>(QStringLiteral("state"))->text(), vitState);
        QCOMPARE(vit()->overlay(), vitPicture);
        // A new image runs both again.
        m_window->openImage(fmnistImage());
        QVERIFY(shown.wait(60000));
        QVERIFY(waitIdle(*m_window));
        QVERIFY(vit()->analysis() != vitAnalysis);
        m_window->openModel(ui::Side::CNN, fmnistModel(ui::Side::CNN));
        QVERIFY(shown.wait(60000));
        QVERIFY(waitIdle(*m_window));
    }

    // The Tokens tab's Test-time register: on an image without artifacts (a black one), the
    // reason in one line; on the ViT with a planted artifact (tests/fixtures/registers), its
    // unit found on the image on screen, and the artifact's CLS mass gone to the register.
    void testTimeRegisterComparesTheTokens()
    {
        QVERIFY(waitIdle(*m_window));
        const QString black = m_dir.filePath(QStringLiteral("black28.png"));
        QImage blank(28, 28, QImage::Format_RGB888);
        blank.fill(Qt::black);
        QVERIFY(blank.save(black));
        QSignalSpy shown(m_window.get(), &ui::MainWindow::analysisShown);
        m_window->openImage(black);
        QVERIFY(shown.wait(60000));
        auto* plots = m_window->plots();
        QVERIFY(plots->showPlot(QStringLiteral("tokens")));
        auto* tokens = plots->tokens();
        tokens->registerButton()->setChecked(true);
        QTRY_VERIFY_WITH_TIMEOUT(tokens->registerSummary().startsWith(QStringLiteral("No test-time register")), 30000);
        QVERIFY2(tokens->registerSummary().contains(QStringLiteral("no artifact patch")),
                 qPrintable(tokens->registerSummary()));
        QVERIFY(!tokens->registerComparison());

        const QString noise = m_dir.filePath(QStringLiteral("noise64.png"));
        QImage image(64, 64, QImage::Format_RGB888);
        QRandomGenerator random(27);
        for (int y = 0; y < 64; ++y)
            for (int x = 0; x < 64; ++x)
                image.setPixel(x, y, random.generate() & 0xffffff);
        QVERIFY(image.save(noise));
        m_window->openModel(ui::Side::ViT, QStringLiteral(ATTNVIZ_VIT_FIXTURES "../registers/planted_vit"));
        QVERIFY(shown.wait(60000));
        m_window->openImage(noise);
        QVERIFY(shown.wait(60000));
        // The button stays down: the new image is asked about by itself.
        QTRY_VERIFY_WITH_TIMEOUT(tokens->registerComparison(), 30000);
        const auto* comparison = tokens->registerComparison();
        QCOMPARE(comparison->pane.get(), vit()->analysis());
        QCOMPARE(comparison->search.ranked.front().block, 0);
        QCOMPARE(comparison->search.ranked.front().unit, int64_t(5));
        const auto& e = comparison->effect;
        const auto last = e.clsOnArtifactsWithout.size(0) - 1;
        QVERIFY(e.clsOnArtifactsWith[last].item<double>() < 0.2 * e.clsOnArtifactsWithout[last].item<double>());
        QVERIFY(tokens->registerSummary().contains(QStringLiteral("block 0: ")));
        QVERIFY(tokens->registerSummary().contains(QStringLiteral("The top class stays.")));
        for (const auto* name : {"normsWithout", "normsWith", "clsWithout", "clsWith"}) {
            const auto* map = tokens->findChild<QLabel*>(QLatin1String(name));
            QVERIFY(map && map->isVisible());
            QCOMPARE(map->pixmap().width(), 4 * 18);  // a 4 x 4 grid, 18 px a patch
        }

        tokens->registerButton()->setChecked(false);
        m_window->openModel(ui::Side::ViT, fmnistModel(ui::Side::ViT));
        QVERIFY(shown.wait(60000));
        m_window->openImage(fmnistImage());
        QVERIFY(shown.wait(60000));
        QVERIFY(waitIdle(*m_window));
    }

    // A SigLIP has no CLS token: its attention pool is the default attention layer, the
    // last row of the head grid, and the window says what the blocks' maps are instead.
    void aSiglipShowsItsAttentionPool()
    {
        QDir folder(m_dir.filePath(QStringLiteral("siglip")));
        QVERIFY(folder.mkpath(QStringLiteral(".")));
        QVERIFY(QFile::copy(QStringLiteral(ATTNVIZ_VIT_FIXTURES "timm_siglip/model.safetensors"),
                            folder.filePath(QStringLiteral("model.safetensors"))));
        std::ofstream(folder.filePath(QStringLiteral("config.json")).toStdString())
            << R"({"architecture": "vit_base_patch16_siglip_224", "num_classes": 0, "global_pool": "map",)"
               R"( "model_args": {"num_heads": 4}, "pretrained_cfg": {"input_size": [3, 64, 64]}})";
        QSignalSpy shown(m_window.get(), &ui::MainWindow::analysisShown);
        m_window->openModel(ui::Side::ViT, folder.path());
        QVERIFY(shown.wait(60000));
        QVERIFY(waitIdle(*m_window));
        QVERIFY2(m_window->errorText().isEmpty(), qPrintable(m_window->errorText()));
        QVERIFY(vit()->method() == engine::ViewMethod::Attention);
        QCOMPARE(vit()->layer(), QStringLiteral("pool"));
        QVERIFY(vit()->findChild<QLabel*>(QStringLiteral("state"))->text().contains(QStringLiteral("attention pool")));
        QCOMPARE(vit()->grid()->rows(), 3);  // 2 blocks, then the pool
        QCOMPARE(vit()->grid()->columns(), 4);
        QVERIFY(vit()->grid()->toolTip().contains(QStringLiteral("no CLS token")));
        // A click in the default state (layer pool) asks the last block about that patch.
        vit()->queryAt(QPointF(0.5, 0.5));
        QVERIFY2(vit()
                     ->findChild<QLabel*>(QStringLiteral("state"))
                     ->text()
                     .startsWith(QStringLiteral("attention · block 1 · head mean · query patch 2,2")),
                 qPrintable(vit()->findChild<QLabel*>(QStringLiteral("state"))->text()));
        vit()->clearQuery();
        emit vit()->grid()->cellClicked(0, 2);  // a block: its mean patch row
        QCOMPARE(vit()->layer(), QStringLiteral("0"));
        QVERIFY(vit()->findChild<QLabel*>(QStringLiteral("state"))->text().contains(QStringLiteral("block 0")));
        m_window->openModel(ui::Side::ViT, fmnistModel(ui::Side::ViT));
        QVERIFY(shown.wait(60000));
        QVERIFY(waitIdle(*m_window));
        QVERIFY(vit()->grid()->toolTip().isEmpty());
    }

    // Every visible control has a tooltip and no text of the window is cut, at the
    // default size and a larger one, on every plot tab. Last: showing the faithfulness and
    // receptive-field tabs computes what the cases above expect not to be computed yet.
    void everyControlIsExplainedAndNoTextIsCut_data()
    {
        QTest::addColumn<QSize>("size");
        QTest::newRow("default") << QSize(1180, 1080);
        QTest::newRow("larger") << QSize(1400, 1100);
    }
    void everyControlIsExplainedAndNoTextIsCut()
    {
        QFETCH(QSize, size);
        const QSize before = m_window->size();
        m_window->resize(size);
        auto* tabs = m_window->plots()->findChild<QTabWidget*>();
        QStringList problems;
        for (int tab = 0; tab < tabs->count(); ++tab) {
            tabs->setCurrentIndex(tab);
            QVERIFY(waitIdle(*m_window));
            QTest::qWait(50);  // layouts and charts settle
            for (const auto& problem : unexplainedOrCut(*m_window))
                if (!problems.contains(problem))
                    problems << problem;
        }
        tabs->setCurrentIndex(0);
        m_window->resize(before);
        QVERIFY2(problems.isEmpty(), qPrintable(problems.join(QLatin1Char('\n'))));
    }
};

QTEST_MAIN(TestMainWindow)
#include "tst_mainwindow.moc"
