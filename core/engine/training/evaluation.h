#pragma once

#include "core/engine/model/classifier.h"
#include "core/engine/training/imageset.h"

#include <vector>

namespace attnviz::engine {

struct Evaluation {
    int64_t count = 0;
    double accuracy = 0.0;
    std::vector<double> perClassAccuracy;         // recall per true class
    std::vector<std::vector<int64_t>> confusion;  // [true class][predicted class]
};

// Classifies every image (batched, inference mode) and tallies the results.
Evaluation evaluate(const Classifier& model, const ImageSet& set, int batchSize = 500);

}  // namespace attnviz::engine
