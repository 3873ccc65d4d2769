#pragma once

#include "core/engine/model/classifier.h"
#include "core/engine/training/imageset.h"

#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

namespace attnviz::engine {

// Layer-wise linear probes (Alain & Bengio 2016; Raghu et al. 2021): how well a
// linear classifier on one layer's pooled representation already separates the classes.

// One layer's representation of a minibatch, pooled to one vector per image.
struct PooledLayer {
    std::string name;          // "block 3", "layer2.1" (as the CKA study names layers)
    std::string pooling;       // "cls", "mean" (a ViT's patch tokens) or "gap" (a CNN)
    double relativeDepth = 0;  // (i + 1) / layers
    torch::Tensor value;       // [n, D] float32 on the CPU
};

// The layers the CKA study compares (ckaLayers), pooled: a ViT block's output as its CLS
// token (when it has one) and as the mean of its patch tokens; a CNN feature (conv1,
// maxpool, every residual block) by global average pooling. In forward order.
std::vector<PooledLayer> pooledLayers(const Activations& activations);

struct ProbeOptions {
    double l2 = 1e-4;      // weight decay λ/2 ‖W‖² on the standardised features
    int iterations = 200;  // L-BFGS iterations (strong Wolfe line search)
};

struct ProbeScore {
    double trainAccuracy = 0, testAccuracy = 0;
};

// Multinomial logistic regression on features standardised with the training set's mean
// and standard deviation, trained full-batch from zero weights (deterministic), scored
// on both sets. x [N, D] float, y [N] int64 in [0, classes).
ProbeScore fitLinearProbe(const torch::Tensor& trainX, const torch::Tensor& trainY, const torch::Tensor& testX,
                          const torch::Tensor& testY, int classes, const ProbeOptions& options = {});

// A labelled image set in two splits, read a minibatch at a time.
struct ProbeData {
    torch::Tensor trainLabels, testLabels;  // [N] int64
    int classes = 0;
    // Images [first, first + count) of one split, preprocessed for `model`: [count, C, H, W].
    std::function<torch::Tensor(bool test, std::size_t first, std::size_t count)> load;
};

// Two labelled sets held in memory (IDX files), normalised for `p` a minibatch at a time;
// the classes are 1 + the largest label.
ProbeData probeDataFrom(const ImageSet& train, const ImageSet& test, const Preprocessing& p);

// Where a probe's labelled images come from and how much of them to use.
struct LabelledSetOptions {
    std::string trainSplit = "train", testSplit = "t10k";  // IDX file prefixes
    std::string testRoot;  // an ImageFolder tree for the held-out split ("": hold out part of the root's)
    double heldOut = 0.2;  // the fraction of each class held out of a single tree
    std::size_t limit = 0, testLimit = 0;  // at most this many images per split (0: all)
};

// An opened labelled set, read for each model's preprocessing in turn.
struct LabelledSet {
    std::string description;  // "IDX files, splits train / t10k"
    std::function<ProbeData(const Preprocessing&)> forModel;
};

// The IDX files in `dir` (Fashion-MNIST's layout). Throws io::FormatError.
LabelledSet openIdxSet(const std::string& dir, const LabelledSetOptions& options);

struct ProbeLayerResult {
    std::string name, pooling;
    double relativeDepth = 0;
    ProbeScore score;
};

struct ProbeStudy {
    std::size_t trainImages = 0, testImages = 0;
    int classes = 0;
    std::vector<ProbeLayerResult> layers;
};

// Told the images run through the model so far (train, then test) out of all; returning
// false stops the study.
using ProbeProgress = std::function<bool(std::size_t done, std::size_t total)>;

// One forward pass per minibatch of `batchSize` images collects every layer's pooled
// representation; then one probe per layer and pooling. Throws EngineError when asked to
// stop or when a split is empty.
ProbeStudy probeLayers(const Classifier& model, const ProbeData& data, int batchSize = 64,
                       const ProbeOptions& options = {}, const ProbeProgress& progress = {});

}  // namespace attnviz::engine
