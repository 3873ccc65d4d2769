#pragma once

#include "core/engine/model/classifier.h"
#include "core/engine/training/imageset.h"

#include <cstdint>
#include <functional>

namespace attnviz::engine {

struct TrainOptions {
    int epochs = 10;
    int batchSize = 128;
    double learningRate = 1e-3;  // peak; linear warm-up over the first epoch, then cosine to 0
    double weightDecay = 0.05;
    double labelSmoothing = 0.1;
    bool augment = true;  // random 2-pixel shifts and horizontal flips
    std::uint64_t seed = 0;
    int64_t maxBatchesPerEpoch = 0;  // > 0: stop each epoch early (smoke tests)
};

struct TrainProgress {
    int epoch = 0;  // 1-based
    int epochs = 0;
    int64_t batch = 0;  // 1-based within the epoch
    int64_t batches = 0;
    double loss = 0.0;  // running mean over the epoch so far
    double imagesPerSecond = 0.0;
    double etaSeconds = 0.0;  // for the whole run
};

struct EpochSummary {
    int epoch = 0;
    double loss = 0.0;
    double trainAccuracy = 0.0;
    double seconds = 0.0;
};

struct TrainCallbacks {
    std::function<void(const TrainProgress&)> progress;  // every few batches
    std::function<void(const EpochSummary&)> epochDone;  // e.g. save a checkpoint
};

// Trains `model` in place with AdamW and cross-entropy. Stops when the current
// CancellationScope (cancellation.h) says so: asked between batches, and by the model
// within one, whose Cancelled ends the run the same way. Returns false when cancelled
// (the model then holds a partly trained epoch; only epochDone saw complete ones).
bool train(Classifier& model, const ImageSet& data, const TrainOptions& options, const TrainCallbacks& callbacks);

}  // namespace attnviz::engine
