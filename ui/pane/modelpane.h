#pragma once

#include "ui/analysiscontroller.h"
#include "ui/overlayview.h"
#include "ui/pane/thumbnailgrid.h"

#include "core/engine/methods/methodtable.h"
#include "core/imaging/viewimage.h"

#include <opencv2/core.hpp>

#include <QWidget>

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QSlider;

namespace attnviz::ui {

// One model's column: what it predicts, the controls of the view, and the overlay.
// Views derived from the cached trace render at once on the GUI thread; views that
// need gradients are requested from the controller (gradientViewRequested) and shown
// when viewReady() delivers them.
class ModelPane : public QWidget {
    Q_OBJECT
public:
    explicit ModelPane(Side side, QWidget* parent = nullptr);

    void setAnalysis(std::shared_ptr<const PaneAnalysis> analysis);
    void viewReady(std::shared_ptr<const engine::ViewMaps> view);
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
    void setColormap(const QString& name);
    void setQuery(std::optional<std::pair<int, int>> patch);
    // CNN: the unit (row, col) of the current layer whose fields are shown (ViewMethod::EffectiveField).
    void setUnit(std::optional<std::pair<int, int>> unit);
    // A click at (x, y) in [0, 1) of the picture as shown: ViT, the patch there becomes
    // the query; CNN, the unit there of the current layer shows its fields.
    void queryAt(QPointF location);
    // The same for a place of the whole image (the other pane's click), ignored where this
    // model's input does not reach.
    void queryAtImage(QPointF imageUnit);
    // Forgets the query patch (ViT) and the unit (CNN); Esc, in either pane.
    void clearQuery();
    // Whether the overlay shows the whole image with the model's crop outlined.
    bool showsWholeImage() const;
    ThumbnailGrid* grid() const { return m_grid; }
    OverlayView* overlayView() const { return m_view; }

    // The map on screen, to be scored by deletion and insertion; none while nothing is
    // shown, for an effective field and for a model without classes.
    std::optional<FaithfulnessRequest> faithfulnessRequest() const;
    engine::ViewMethod method() const;
    QString layer() const;
    QString head() const;
    const QImage& overlay() const { return m_view->image(); }
    bool waitingForGradients() const { return m_waiting; }
    // Writes the overlay as shown, with its description in the PNG text chunk.
    void exportOverlay(const QString& path) const;
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
    void effectiveFieldRequested(std::shared_ptr<const attnviz::ui::PaneAnalysis> pane, QString layer, int row,
                                 int col);
    void statusMessage(QString text);
    // A click on this pane's picture at a place of the whole image (x, y in [0, 1)).
    void imageClicked(QPointF imageUnit);
    void queryCleared();
    void rendered();

protected:
    void keyPressEvent(QKeyEvent* event) override;

private:
    void buildControls();
    void fillModelControls();
    engine::ViewRequest request() const;
    imaging::ViewImageOptions imageOptions() const;
    std::string className(const engine::ViewMaps& view) const;
    // The controls changed what is asked of the model: derive the view from the trace,
    // show it from the views already computed, or ask the worker for it.
    void refresh();
    // The key of what the controls ask of the model, or none for a view of the trace.
    std::optional<std::string> modelRequestKey() const;
    bool showComputed(const std::string& key);    // false when not computed yet
    bool stillComputing(const std::string& key);  // true when it is the request on the worker
    void remember(const std::string& key, std::shared_ptr<const engine::ViewMaps> view);
    // Only the rendering changed: draw the view shown again (no model work).
    void rerender();
    void recolor();  // rerender() and the grid
    void selectGridCell();
    void render(const engine::ViewMaps& view);
    void showHover(QPointF unit);
    void pictureClicked(QPointF unit);
    void queryAtInput(QPointF inputUnit);
    // Coordinates in [0, 1): of the picture as shown, of the model input, of the image.
    std::optional<QPointF> inputUnitFromPicture(QPointF pictureUnit) const;
    std::optional<QPointF> inputUnitFromImage(QPointF imageUnit) const;
    QPointF imageUnitFromInput(QPointF inputUnit) const;
    const cv::Mat& picture() const;  // what the overlay is drawn on
    cv::Rect2d inputRegion() const;  // where the model input is in it, in its pixels
    void updateGrid();
    void selectCell(int row, int column);
    void drawReceptiveBox(cv::Mat& image) const;
    void drawQueryPatch(cv::Mat& image) const;
    // ViT: the CLS (or query) attention of every block and head, for the grid and montage.
    engine::ViewMaps attentionOfEveryHead() const;
    // What a view is, in one line: "attention · block 5 · head mean · class Coat".
    QString viewCaption(const engine::ViewMaps& view) const;
    // How a view's layer is shown: "block 5", "attention pool", "layer3".
    QString layerLabel(const std::string& layer) const;
    QString gridTitle() const;        // what the head grid's cells are, in short
    QString gridExplanation() const;  // its tooltip where the title cannot say it all

    Side m_side;
    std::shared_ptr<const PaneAnalysis> m_analysis;
    cv::Mat m_picture;         // the model input as a picture, enlarged for display
    cv::Mat m_wholePicture;    // the whole decoded image, scaled for display
    cv::Rect2d m_cropInWhole;  // the model's crop in m_wholePicture's pixels
    std::optional<engine::ViewMaps> m_shown;
    // Views that needed the model, by request key, the oldest dropped beyond
    // kComputedViews; cleared with a new trace. m_pendingKey: the request on the worker.
    static constexpr std::size_t kComputedViews = 32;
    std::map<std::string, std::shared_ptr<const engine::ViewMaps>> m_computed;
    std::deque<std::string> m_computedOrder;
    std::string m_pendingKey;
    cv::Mat m_rendered;
    std::optional<std::pair<int, int>> m_query;
    std::optional<std::pair<int, int>> m_unit;
    bool m_waiting = false;
    bool m_filling = false;

    QLabel* m_title = nullptr;
    QLabel* m_predictions = nullptr;
    QComboBox* m_method = nullptr;
    QComboBox* m_layer = nullptr;
    QComboBox* m_head = nullptr;
    QComboBox* m_class = nullptr;
    QComboBox* m_camInput = nullptr;  // ViT CAMs: norm1 output or residual stream
    QComboBox* m_colormap = nullptr;
    QComboBox* m_normalization = nullptr;
    QComboBox* m_upsampling = nullptr;
    QSlider* m_alpha = nullptr;
    QDoubleSpinBox* m_keepMass = nullptr;
    QCheckBox* m_wholeImage = nullptr;
    QLabel* m_state = nullptr;
    OverlayView* m_view = nullptr;
    ThumbnailGrid* m_grid = nullptr;
};

}  // namespace attnviz::ui
