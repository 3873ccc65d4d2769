#include "core/imaging/imagebatches.h"

#include "core/engine/cancellation.h"
#include "core/imaging/imagedecoder.h"
#include "core/imaging/preprocess.h"

#include <algorithm>

namespace attnviz::imaging {

ImageBatches::ImageBatches(std::vector<std::string> paths)
    : m_paths(std::move(paths))
{
}

torch::Tensor ImageBatches::batch(std::size_t first, std::size_t count, const engine::Preprocessing& preprocessing)
{
    const auto end = std::min(first + count, m_paths.size());
    if (first >= end)
        throw std::out_of_range("no images from " + std::to_string(first) + " of " + std::to_string(m_paths.size()));
    if (first != m_first || m_decoded.size() != end - first) {
        m_decoded.clear();             // the previous minibatch goes before the next is read
        std::vector<cv::Mat> decoded;  // kept only when all of it was read
        for (std::size_t i = first; i < end; ++i) {
            engine::throwIfCancelled();
            decoded.push_back(decodeImageRgb(m_paths[i]));
        }
        m_decoded = std::move(decoded);
        m_first = first;
    }
    std::vector<torch::Tensor> inputs;
    for (const auto& image : m_decoded)
        inputs.push_back(preprocessImage(image, preprocessing).tensor);  // [1, C, H, W] each
    return torch::cat(inputs);
}

}  // namespace attnviz::imaging
