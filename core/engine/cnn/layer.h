#pragma once

#include "core/engine/methods/receptivefield.h"
#include "core/engine/model/classifier.h"

#include <torch/torch.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

// A convolutional network described as a tree of layers, the way torchvision and timm
// compose their modules. The one description runs the forward pass, names the layers
// whose outputs are recorded (the stage strip, Grad-CAM, CKA, the effective fields) and
// composes the theoretical receptive field, so the three cannot disagree.
namespace attnviz::engine::cnn {

// Which outputs a forward pass keeps: Stage outputs go into the trace (one per stage:
// the strip, `rf`, the default Grad-CAM layer), Block outputs into Activations::features
// (CKA rows, effective-field units). A layer may be both.
enum Record : unsigned { kNone = 0, kStage = 1, kBlock = 2, kBoth = 3 };

// A tensor under its state-dict name; buffers (batch-norm running statistics) are state
// rather than trainable parameters.
struct NamedTensor {
    std::string name;
    torch::Tensor* tensor;
    bool isBuffer;
};

using FeatureSink = std::vector<std::pair<std::string, torch::Tensor>>;

// What one run of the network does besides computing: train-mode batch norm, which
// outputs to record and which one to replace (Ablation-CAM).
struct RunContext {
    bool training = false;
    FeatureSink* stages = nullptr;
    FeatureSink* blocks = nullptr;
    const LayerReplacement* replacement = nullptr;
    bool replaced = false;
    std::vector<ResidualNorms>* residuals = nullptr;  // every Residual's two summands, measured
};

// What the receptive-field composition collects: every conv and pool (state-dict
// names) and every recorded output, in forward order.
struct FieldSink {
    std::vector<ReceptiveField> fields;
};

class Layer {
public:
    virtual ~Layer() = default;

    // x: [N, C, H, W] (channels-last [N, H, W, C] between Permute layers).
    virtual torch::Tensor forward(const torch::Tensor& x, RunContext& context) const = 0;
    // The field of this layer's output units given its input's; convs and pools add
    // themselves to `sink`.
    virtual ReceptiveField field(const ReceptiveField& in, FieldSink& sink) const
    {
        (void)sink;
        return in;
    }
    virtual void collect(std::vector<NamedTensor>& out) { (void)out; }
    // Weighted layers (convs, linear) on the main path, shortcuts and gates excluded.
    virtual int depth() const { return 0; }

    std::string name;  // state-dict module path ("layer1.0.conv1"); "" for modules without one
    unsigned record = kNone;
};

using LayerPtr = std::unique_ptr<Layer>;

// Layers applied in order; records and replaces the outputs of its children that ask.
class Sequence : public Layer {
public:
    Sequence() = default;
    explicit Sequence(std::string n, unsigned r = kNone)
    {
        name = std::move(n);
        record = r;
    }

    torch::Tensor forward(const torch::Tensor& x, RunContext& context) const override;
    ReceptiveField field(const ReceptiveField& in, FieldSink& sink) const override;
    void collect(std::vector<NamedTensor>& out) override;
    int depth() const override;

    template <typename T, typename... Args>
    T& add(Args&&... args)
    {
        auto layer = std::make_unique<T>(std::forward<Args>(args)...);
        auto& ref = *layer;
        layers.push_back(std::move(layer));
        return ref;
    }
    Layer& append(LayerPtr layer)
    {
        layers.push_back(std::move(layer));
        return *layers.back();
    }
    bool empty() const { return layers.empty(); }

    std::vector<LayerPtr> layers;
};

// For a recorded layer: replaces x by context.replacement->value when the replacement
// names it, then records it where `record` says. Shared by Sequence and the network's top level.
void recordOutput(const Layer& layer, torch::Tensor& x, RunContext& context);

// The union of two fields of the same jump (two paths whose outputs are added or
// concatenated see what either sees).
ReceptiveField unionField(const ReceptiveField& a, const ReceptiveField& b);

}  // namespace attnviz::engine::cnn
