#pragma once

// export --methods pca over many images: one PCA per model and layer fitted over the
// images, so that a colour names the same part in each (engine::FeatureBasis).
#include "app/cli/arguments.h"
#include "app/cli/exportplan.h"

#include <nlohmann/json.hpp>

#include <vector>

namespace attnviz::cli {

// The most images a folder's PCA is fitted on, spread evenly over all of them.
constexpr std::size_t kPcaFitImages = 64;

// With --pca-fit folder (the default): per model with a pca figure, a basis per layer of
// it fitted over up to kPcaFitImages of `all` (every image of every shard, so that each
// shard fits the same), set on the figure's requests; images that cannot be read are left
// out. Returns what was fitted ({} with --pca-fit image or without a pca figure). A
// --pca-fit with no pca figure is a UsageError.
nlohmann::ordered_json fitExportPca(std::vector<ExportModel>& models, const std::vector<ExportImage>& all,
                                    const Arguments& args);

}  // namespace attnviz::cli
