#pragma once

// What a model pane holds besides its widgets, without Qt: the choices its controls
// offer, the request they make of the model, the views the worker computed, and the
// mapping between the picture on screen, the image, the model's crop and its grid.
// tests/ui/tst_panestate.cpp runs it without a window.

#include "core/engine/methods/methodtable.h"
#include "core/engine/methods/view.h"
#include "core/engine/model/classifier.h"
#include "core/engine/model/modelspec.h"
#include "core/engine/model/trace.h"
#include "core/imaging/preprocess.h"

#include <opencv2/core.hpp>

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace attnviz::ui {

using GridCell = std::pair<int, int>;  // (row, col) of a token grid or a feature map

// What the pane's boxes offer for one model: the methods of its family, its layers (ViT
// blocks "0".."n-1" and, with an attention pool, "pool"; a CNN's stages by name), the
// head fusions then (ViT) each head, and its class labels.
struct PaneChoices {
    std::vector<engine::ViewMethod> methods;
    std::vector<std::string> layers;
    struct Head {
        std::string name;  // "mean" | "max" | "min" | a head's index
        int index = -1;    // the head's index; -1 for a fusion of every head
    };
    std::vector<Head> heads;
    std::vector<std::string> classes;
};
PaneChoices paneChoices(const engine::ModelSpec& spec, const engine::Trace& trace);

// What the controls say, as they say it.
struct PaneSelection {
    engine::ViewMethod method = engine::ViewMethod::Attention;
    std::string layer;  // an entry of PaneChoices::layers
    PaneChoices::Head head;
    int classIndex = -1;  // -1: the top-1 class
    engine::VitCamInput camInput = engine::VitCamInput::Norm1Output;
    engine::MethodSettings settings;  // every method's settings box, as it says
    std::optional<GridCell> query;    // ViT: the patch whose attention row is shown
    std::optional<GridCell> unit;     // CNN: the unit of `layer` whose field is shown
};

// What a pane's view is, for Edit → Undo: its view boxes (item indices: the model is the
// same while the history lasts) and the place asked about, in [0, 1) of the model input.
// Rendering (colormap, alpha, ...) is not part of it.
struct PaneView {
    int method = 0, layer = 0, head = 0, classIndex = 0, camInput = 0;
    engine::MethodSettings settings;
    std::optional<cv::Point2d> place;
    bool operator==(const PaneView& other) const
    {
        return method == other.method && layer == other.layer && head == other.head && classIndex == other.classIndex
               && camInput == other.camInput && settings == other.settings && place == other.place;
    }
    bool operator!=(const PaneView& other) const { return !(*this == other); }
};

// The request the selection makes of the model: the method's own layer where the layer
// box does not apply (rollouts start at block 0), the last block for a method other
// than attention with the pool selected, heads only where the method has them.
engine::ViewRequest paneRequest(const PaneSelection& selection);

// What a box shows in place of its own choice when the view does not use that choice:
// the value the request uses ("from 0" for a rollout's layer, "mean" for a rollout asked
// for one head, "input" for saliency's layer) or kNotUsed. None: the box's own choice.
struct ShownValues {
    static constexpr const char* kNotUsed = "—";
    std::optional<std::string> layer, head, classLabel, camInput;
};
ShownValues shownValues(engine::Family family, const PaneSelection& selection);

// A ViT's attention (the CLS row, or the query patch's) of every block and head, for
// the head grid and the montage: maps [blocks, heads, gh, gw].
engine::ViewMaps everyHeadAttention(const engine::Classifier& model, const engine::Trace& trace,
                                    std::optional<GridCell> query);

// The unit of a [rows, cols] feature map whose effective field is shown: the one
// chosen, moved inside the map, else its centre.
GridCell unitOnGrid(std::optional<GridCell> chosen, int64_t rows, int64_t cols);

// The cell of a rows x cols grid at (x, y) in [0, 1] of the model input, and back: the
// place of a cell's centre.
GridCell cellAt(cv::Point2d inputUnit, int64_t rows, int64_t cols);
cv::Point2d cellCentre(GridCell cell, int64_t rows, int64_t cols);

// The views that needed the model, by request key (engine::viewRequestKey), the oldest
// forgotten beyond kCapacity, and the one request on the worker. One trace's: clear()
// with a new one.
class ViewCache {
public:
    static constexpr std::size_t kCapacity = 32;

    std::shared_ptr<const engine::ViewMaps> find(const std::string& key) const;
    void remember(const std::string& key, std::shared_ptr<const engine::ViewMaps> view);
    void clear();

    const std::string& pending() const { return m_pending; }
    bool isPending(const std::string& key) const { return !m_pending.empty() && key == m_pending; }
    void setPending(std::string key) { m_pending = std::move(key); }
    void clearPending() { m_pending.clear(); }
    std::size_t size() const { return m_views.size(); }

private:
    std::map<std::string, std::shared_ptr<const engine::ViewMaps>> m_views;
    std::deque<std::string> m_order;  // oldest first
    std::string m_pending;
};

// Where things are, in units of [0, 1) along each axis: of the picture as shown, of the
// model's input and of the decoded image. The picture is the model input enlarged, or
// the whole image with the model's crop inside it.
struct PaneGeometry {
    cv::Size input;           // the model input as shown, in pixels
    cv::Size whole;           // the whole image as shown; empty without an image
    cv::Rect2d cropInWhole;   // the model's crop in `whole`'s pixels
    cv::Size image;           // the decoded image; empty without one
    imaging::CropBox crop;    // the model's crop in the image's pixels
    bool showsWhole = false;  // the picture is `whole`, not `input`

    // `image` may be empty (a tensor input); `whole` is the image scaled for display,
    // each axis by its own factor (the sides are rounded separately).
    static PaneGeometry make(cv::Size input, cv::Size image, cv::Size whole, const imaging::CropBox& crop);

    cv::Size picture() const { return showsWhole ? whole : input; }
    cv::Rect2d inputRegion() const;  // where the model input is in the picture, in its pixels
    // None outside what the model sees.
    std::optional<cv::Point2d> inputFromPicture(cv::Point2d pictureUnit) const;
    std::optional<cv::Point2d> inputFromImage(cv::Point2d imageUnit) const;
    cv::Point2d imageFromInput(cv::Point2d inputUnit) const;
};

}  // namespace attnviz::ui
