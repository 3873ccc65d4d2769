#pragma once

// What `attnviz-cli export` is asked to do, checked before any image is read: the images
// of this shard, and per model the requests each method's figure is made of.
#include "app/cli/arguments.h"
#include "app/cli/prompts.h"

#include "core/engine/evaluation/faithfulness.h"
#include "core/engine/methods/methodtable.h"
#include "core/engine/model/classifier.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace attnviz::cli {

struct ExportImage {
    std::string path;      // as opened
    std::string relative;  // under the input folder, '/' separated: where its outputs go
};

struct ExportImages {
    std::vector<ExportImage> images;
    // --list: the lines naming a file named before (b.png and ./b.png, or the file by its
    // absolute path), left out so that each image is exported once.
    std::vector<std::string> repeated;
};

// --images DIR (recursively, sorted by relative path) or --list FILE (one path a line,
// relative to the list's folder unless absolute; a file named twice is one image).
ExportImages exportImages(const Arguments& args);

// --shard I/N as {I, N}: the images at positions I, I + N, I + 2N, ... of the stable order.
std::pair<int, int> shardOption(const Arguments& args);

// One method's figure: a grid whose rows are `layers` and whose columns are the heads of
// each row's requests; requests[r][c] gives cell (r, c) (a request may give several).
struct MethodPlan {
    engine::ViewMethod method;
    std::vector<std::vector<engine::ViewRequest>> requests;
    int prompt = -1;  // --text: the prompt every request explains (its class), one figure each
};

struct ExportModel {
    std::string role;  // "vit" | "cnn"
    std::string path;
    std::unique_ptr<engine::Classifier> model;
    std::vector<MethodPlan> methods;
    std::optional<PromptClasses> prompts;  // a CLIP or SigLIP ViT's --text, --labels, --template
};

// --methods a,b,c: each model gets the ones its family offers; a method neither offers is
// an error. Default: attention for a ViT, Grad-CAM for a CNN. --layers all|A-B|list and
// --heads all|mean|max|min|list shape each method's figure where the method has layers
// and heads: ViT blocks (numbers, "pool") and CNN layers (names) each go to the model that
// has them; heads apply to attention, a fusion also to the rollouts. A model with --text
// prompts gets a figure per prompt of each class-specific method (its top-1 class with
// --labels, as without prompts).
void planMethods(std::vector<ExportModel>& models, const Arguments& args);

// One figure per trace (images of one input size): the plan's requests computed, a
// gradient CAM's for all the images in one pass, and joined into one grid per image.
std::vector<engine::ViewMaps> computePlannedViews(const engine::Classifier& model,
                                                  const std::vector<const engine::Trace*>& traces,
                                                  const MethodPlan& plan);

// --faithfulness-steps, --deletion-substrate, --insertion-substrate.
engine::FaithfulnessOptions faithfulnessOptions(const Arguments& args);

}  // namespace attnviz::cli
