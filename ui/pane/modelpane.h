#pragma once

#include "ui/analysiscontroller.h"
#include "ui/appsettings.h"
#include "ui/overlayview.h"
#include "ui/pane/choicecombo.h"
#include "ui/pane/methodsettingsbox.h"
#include "ui/pane/panestate.h"
#include "ui/pane/thumbnailgrid.h"

#include "core/engine/methods/methodtable.h"
#include "core/imaging/viewimage.h"

#include <opencv2/core.hpp>

#include <QWidget>

#include <memory>
#include <optional>
#include <string>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QFormLayout;
class QLabel;
class QLineEdit;
class QSlider;
class QVBoxLayout;

namespace attnviz::ui {

// One model's column: what it predicts, the controls of the view, and the overlay.
// Views derived from the cached trace render at once on the GUI thread; views that
// need gradients are requested from the controller (gradientViewRequested) and shown
// when viewReady() delivers them. What it holds besides widgets (the request, the views
// computed, where a click lands) is panestate.h's; the head grid's content headgrid.h's.
class ModelPane : public QWidget {
    Q_OBJECT
public:
    explicit ModelPane(Side side, QWidget* parent = nullptr);

    void setAnalysis(std::shared_ptr<const PaneAnalysis> analysis);
    void viewReady(const std::shared_ptr<const engine::ViewMaps>& view);
    // The gradient view this pane waits for will not come; the previous picture stays.
    void viewAbandoned();
    bool hasAnalysis() const { return bool(m_analysis); }
    const PaneAnalysis* analysis() const { return m_analysis.get(); }

    // Keyboard browsing: layers with Up/Down and PgUp/PgDn, heads with Left/Right.
    void stepLayer(int delta);
    void stepHead(int delta);
    void setMethod(engine::ViewMethod method);
    // A ViT: the attention map of one block's head (the head table's click).
    void showHead(int layer, int head);
    // A CLIP or SigLIP ViT: the map of the class `classIndex`, a prompt, with the method
    // shown when it explains a class, else LeGrad.
    void showPromptClass(int classIndex);
    // The prompt typed into the prompt box and Enter pressed.
    void askAbout(const QString& prompt);
    void setColormap(const QString& name);
    // The place a click asks about is kept in units of the model input, so that a CNN's
    // stages, stepped through, show the unit at the same place (not the same index).
    // ViT: the query patch (row, col), shown with attention.
    void setQuery(std::optional<std::pair<int, int>> patch);
    // CNN: the unit (row, col) of the current layer whose fields are shown (ViewMethod::EffectiveField).
    void setUnit(std::optional<std::pair<int, int>> unit);
    // A click at (x, y) in [0, 1) of this pane's picture as shown: ViT, the patch there
    // becomes the query, with attention; CNN, the unit there of the current layer shows
    // its effective field. Esc brings back the method shown before.
    void queryAt(QPointF location);
    // A place of the whole image clicked in the other pane: marked here, and used by the
    // method shown if it takes a place, but the method stays. Ignored where this model's
    // input does not reach.
    void queryAtImage(QPointF imageUnit);
    // Forgets the place (the query patch, the unit) and goes back to the method a click
    // switched from; Esc, in either pane.
    void clearQuery();
    // As at the first start: the first method of its family (ViT attention, CNN gradcam),
    // the last layer, head mean, top-1, no place, the default rendering, no zoom.
    void resetView();
    // The view boxes and the place, for Edit → Undo; setView makes them so without
    // reporting a change.
    PaneView view() const;
    void setView(const PaneView& view);
    // Whether the overlay shows the whole image with the model's crop outlined.
    bool showsWholeImage() const;
    ThumbnailGrid* grid() const { return m_grid; }
    OverlayView* overlayView() const { return m_view; }

    // The map on screen, to be scored by deletion and insertion; none while nothing is
    // shown, for an effective field and for a model without classes.
    std::optional<FaithfulnessRequest> faithfulnessRequest() const;
    // Why faithfulnessRequest() has none, for the plot to say ("CNN: erf …"); empty where it has one.
    QString whyNoFaithfulness() const;
    engine::ViewMethod method() const;
    QString layer() const;
    QString head() const;
    const QImage& overlay() const { return m_view->image(); }
    bool waitingForGradients() const { return m_waiting; }
    // Writes the overlay as shown, with its description and the input image's path in the
    // PNG text chunk.
    void exportOverlay(const QString& path, const QString& image = {}) const;
    // A file name for the view shown, without the image's: "vit-fmnist-attention-block-5".
    QString exportStem() const;
    // ViT: every block x head of the attention (with the current query, colormap and
    // normalisation) as one montage PNG. Throws for a CNN.
    void exportMontage(const QString& path) const;
    // The thumbnail grid as shown.
    void exportGrid(const QString& path) const;
    // The rendering settings a user expects back next time (QSettings).
    void saveSettings() const;
    void restoreSettings();

signals:
    void gradientViewRequested(std::shared_ptr<const attnviz::ui::PaneAnalysis> pane,
                               attnviz::engine::ViewRequest request);
    void statusMessage(QString text);
    // Enter in the prompt box with a text that is none of the model's classes yet.
    void promptAsked(QString prompt);
    // A click on this pane's picture at a place of the whole image (x, y in [0, 1)).
    void imageClicked(QPointF imageUnit);
    void queryCleared();
    // What the model is asked changed (a box, a click, a key, Reset view): before and after.
    void viewChanged(attnviz::ui::PaneView before, attnviz::ui::PaneView after);
    void rendered();

protected:
    void keyPressEvent(QKeyEvent* event) override;

private:
    void buildControls();
    void buildHeader(QVBoxLayout* layout);
    ChoiceCombo* addCombo(const QString& objectName, void (ModelPane::*onChange)());
    void buildViewControls();       // what the model is asked: method, layer, head, class, CAM input
    void buildRenderingControls();  // how it is drawn: colormap, alpha, normalisation, ...
    QFormLayout* controlsForm();
    void describeModel();  // the title card and the top predictions
    void fillModelControls();
    void askPrompt();  // Enter in the prompt box
    // The class box's order of the classes: a text tower's (prompts, a label set) best match
    // first, so that the label set's top matches lead; a classifier's in its own order.
    std::vector<int> classOrder() const;
    PaneSelection selection() const;
    engine::ViewRequest request() const { return paneRequest(selection()); }
    PaneGeometry geometry() const;  // with the whole-image box as it is now
    imaging::ViewImageOptions imageOptions() const;
    std::string className(const engine::ViewMaps& view) const;
    // The controls changed what is asked of the model: derive the view from the trace,
    // show it from the views already computed, or ask the worker for it.
    void refresh();
    void updateControlStates(const engine::MethodInfo& info);
    void requestFromModel(const engine::ViewRequest& request);
    // The key of what the controls ask of the worker, or none for a view the GUI thread
    // reads off the trace (MethodInfo::onWorker).
    std::optional<std::string> modelRequestKey() const;
    bool showComputed(const std::string& key);    // false when not computed yet
    bool stillComputing(const std::string& key);  // true when it is the request on the worker
    // Only the rendering changed: draw the view shown again (no model work).
    void rerender();
    void recolor();  // rerender() and the grid
    void selectGridCell();
    void render(const engine::ViewMaps& view);
    imaging::MapRange renderRange(const engine::ViewMaps& view, const torch::Tensor& map) const;
    void showHover(QPointF unit);
    void pictureClicked(QPointF unit);
    enum class PlaceFrom { ThisPicture, OtherPicture };
    void placeAt(std::optional<cv::Point2d> inputUnit, PlaceFrom from);
    void placeAtCell(std::optional<GridCell> cell);  // the centre of a cell of gridSize(), as a click here
    void derivePlaceCells();                         // m_query, m_unit from m_place on the current grid
    GridCell gridSize() const;                       // of the ViT's tokens, or of the CNN's current layer
    void keepSelection(const QString& layer, const QVariant& head, const QVariant& classIndex);
    const cv::Mat& picture() const;  // what the overlay is drawn on
    void updateGrid();
    void selectCell(int row, int column);
    void drawReceptiveBox(cv::Mat& image) const;
    void drawQueryPatch(cv::Mat& image) const;
    void drawUnitCell(cv::Mat& image) const;
    void applyRendering(const settings::PaneRendering& rendering);
    QString viewCaption(const engine::ViewMaps& view) const;

    Side m_side;
    std::shared_ptr<const PaneAnalysis> m_analysis;
    cv::Mat m_picture;       // the model input as a picture, enlarged for display
    cv::Mat m_wholePicture;  // the whole decoded image, scaled for display
    PaneGeometry m_geometry;
    std::optional<engine::ViewMaps> m_shown;
    ViewCache m_views;  // views that needed the model; cleared with a new trace
    cv::Mat m_rendered;
    std::optional<cv::Point2d> m_place;  // the place asked about, in [0, 1) of the model input
    std::optional<GridCell> m_query;     // ViT: the patch at m_place
    std::optional<GridCell> m_unit;      // CNN: the unit of the current layer at m_place (erf: or the centre)
    // A click on this picture switched the method (before, after); Esc switches back.
    std::optional<std::pair<engine::ViewMethod, engine::ViewMethod>> m_placeSwitch;
    std::optional<PaneView> m_lastView;  // as last refreshed; none right after a new analysis
    bool m_waiting = false;
    bool m_filling = false;

    QLabel* m_title = nullptr;
    QLabel* m_predictions = nullptr;
    ChoiceCombo* m_method = nullptr;
    ChoiceCombo* m_layer = nullptr;
    ChoiceCombo* m_head = nullptr;
    ChoiceCombo* m_class = nullptr;
    QLineEdit* m_prompt = nullptr;  // a model with a text tower only
    QFormLayout* m_form = nullptr;
    ChoiceCombo* m_camInput = nullptr;        // ViT CAMs: norm1 output or residual stream
    MethodSettingsBox* m_settings = nullptr;  // the method's own: IG's steps, SmoothGrad's noise, ...
    ChoiceCombo* m_colormap = nullptr;
    ChoiceCombo* m_normalization = nullptr;
    ChoiceCombo* m_upsampling = nullptr;
    QSlider* m_alpha = nullptr;
    QLabel* m_alphaValue = nullptr;
    QDoubleSpinBox* m_keepMass = nullptr;
    QCheckBox* m_wholeImage = nullptr;
    QLabel* m_state = nullptr;
    OverlayView* m_view = nullptr;
    ThumbnailGrid* m_grid = nullptr;
};

}  // namespace attnviz::ui
