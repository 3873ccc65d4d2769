#pragma once

#include "app/cli/arguments.h"

#include "core/engine/model/classifier.h"

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

namespace attnviz::cli {

// A number for the study commands' JSON, rounded to 6 significant digits for reading;
// NaN and infinities (undefined, or a zero denominator) become null.
nlohmann::ordered_json studyNumber(double v);

// A matrix [rows, cols] (CKA, localisation, a map) as nested JSON arrays, rounded to 4
// decimals for reading (values in [0, 1]) or, with `significant`, to 6 significant
// digits as studyNumber (small attention weights, norms); NaN entries are null.
nlohmann::ordered_json matrixJson(const torch::Tensor& m, bool significant = false);

struct StudyModel {
    std::string role;  // "vit" or "cnn"
    std::string path;
    std::unique_ptr<engine::Classifier> model;
};

// The models a study command was given as --vit / --cnn, in that order; at least one is
// required (a usage error otherwise). With vitOnly, --vit is required and --cnn refused.
std::vector<StudyModel> studyModels(const Arguments& args, bool vitOnly = false);

}  // namespace attnviz::cli
