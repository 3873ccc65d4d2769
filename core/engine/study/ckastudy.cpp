#include "core/engine/study/ckastudy.h"

#include "core/engine/cancellation.h"
#include "core/engine/engineerror.h"
#include "core/engine/study/cka.h"

#include <algorithm>

namespace attnviz::engine {

std::size_t ckaUsableImages(std::size_t available, int batchSize)
{
    const auto tail = available % std::size_t(std::max(batchSize, 1));
    return tail > 0 && tail < 4 ? available - tail : available;
}

CkaStudy compareLayers(const std::vector<CkaModel>& models, std::size_t images, int batchSize,
                       const CkaBatchLoader& load, const CkaProgress& progress)
{
    if (batchSize < 4)
        throw EngineError("CKA needs minibatches of at least 4 images, not " + std::to_string(batchSize));
    CkaStudy study;
    study.batchSize = batchSize;
    study.imagesUsed = ckaUsableImages(images, batchSize);
    if (study.imagesUsed < 4)
        throw EngineError("CKA needs at least 4 images, got " + std::to_string(images));
    std::vector<std::pair<std::size_t, std::size_t>> pairs;  // (row model, column model)
    for (std::size_t i = 0; i < models.size(); ++i)
        pairs.emplace_back(i, i);
    for (std::size_t i = 0; i < models.size(); ++i)
        for (std::size_t j = i + 1; j < models.size(); ++j)
            pairs.emplace_back(i, j);

    torch::NoGradGuard noGrad;
    std::vector<CkaAccumulator> accumulators;
    std::vector<std::vector<std::string>> layerNames(models.size());
    for (std::size_t first = 0; first < study.imagesUsed; first += std::size_t(batchSize)) {
        throwIfCancelled();
        const auto count = std::min(std::size_t(batchSize), study.imagesUsed - first);
        std::vector<LayerRepresentations> layers;  // per model, each value [count, ...]
        for (std::size_t m = 0; m < models.size(); ++m) {
            layers.push_back(ckaLayers(models[m].model->activations(load(first, count, models[m]))));
            layerNames[m] = layers.back().names;
        }
        if (accumulators.empty())
            for (const auto& [i, j] : pairs)
                accumulators.emplace_back(int(layers[i].names.size()), int(layers[j].names.size()));
        for (std::size_t p = 0; p < pairs.size(); ++p)
            accumulators[p].add(layers[pairs[p].first].values, layers[pairs[p].second].values);
        if (progress && !progress(first + count, study.imagesUsed))
            throw EngineError("CKA stopped after " + std::to_string(first + count) + " of "
                              + std::to_string(study.imagesUsed) + " images");
    }
    for (std::size_t p = 0; p < pairs.size(); ++p) {
        const auto [i, j] = pairs[p];
        study.matrices.push_back({models[i].role, models[j].role, layerNames[i], layerNames[j],
                                  accumulators[p].result(), accumulators[p].degenerateRows(),
                                  accumulators[p].degenerateCols()});
    }
    // The self pairs come first, one per model, in the models' order.
    for (std::size_t m = 0; m < models.size(); ++m) {
        std::vector<std::string> names;
        const auto& flags = study.matrices[m].rowDegenerate;
        for (std::size_t l = 0; l < flags.size(); ++l)
            if (flags[l])
                names.push_back(layerNames[m][l]);
        study.degenerateLayers.emplace_back(models[m].role, std::move(names));
    }
    return study;
}

std::string degenerateSummary(const CkaStudy& study)
{
    std::string out;
    for (const auto& [role, names] : study.degenerateLayers) {
        if (names.empty())
            continue;
        out += (out.empty() ? "" : "; ") + role + ":";
        for (std::size_t i = 0; i < names.size(); ++i)
            out += (i ? ", " : " ") + names[i];
    }
    return out;
}

}  // namespace attnviz::engine
