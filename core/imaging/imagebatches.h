#pragma once

#include "core/engine/model/modelspec.h"

#include <opencv2/core.hpp>
#include <torch/torch.h>

#include <string>
#include <vector>

namespace attnviz::imaging {

// Consecutive minibatches of image files for work over several models (CKA, the CLI's
// folders): a minibatch is decoded once, then preprocessed for each model that asks for
// it, so a large folder never sits in memory. Decoding stops between images when the
// engine's current cancellation scope says so. Not thread-safe.
class ImageBatches {
public:
    explicit ImageBatches(std::vector<std::string> paths);

    std::size_t size() const { return m_paths.size(); }
    const std::string& path(std::size_t i) const { return m_paths.at(i); }
    // Images [first, first + count), clipped to the end, preprocessed: [n, C, H, W].
    torch::Tensor batch(std::size_t first, std::size_t count, const engine::Preprocessing& preprocessing);

private:
    std::vector<std::string> m_paths;
    std::size_t m_first = 0;  // the decoded minibatch: m_paths[m_first, m_first + m_decoded.size())
    std::vector<cv::Mat> m_decoded;
};

}  // namespace attnviz::imaging
