#pragma once

#include "app/cli/arguments.h"

#include "core/engine/methods/methodtable.h"
#include "core/engine/model/modelspec.h"
#include "core/engine/model/trace.h"

#include <string>

namespace attnviz::cli {

// Renders a view over the model's input as the options say (--colormap, --alpha,
// --upsample, --normalize, --keep-mass, --no-colorbar) and writes it to
// DIR/<stem>-<role>-<method>[-<variant>].png with its description, the input image's path
// (none for a tensor input) and, for a class made of a prompt, the prompt in the text
// chunk (written to a temporary name and renamed). Returns the path. Builds without
// OpenCV throw a UsageError.
std::string writeViewPng(const std::string& dir, const std::string& stem, const std::string& image,
                         const std::string& role, const std::string& modelPath, const engine::Trace& trace,
                         const engine::ViewMaps& view, const engine::ModelSpec& spec, const Arguments& args,
                         const std::string& variant = "");

// The stem of the output files of --image IMG (its stem), --images DIR (the folder's
// name) or --tensor ("tensor").
std::string outputStem(const Arguments& args);

// DIR, created when missing; a file in the way is an error.
std::string outputDirectory(const std::string& dir);

}  // namespace attnviz::cli
