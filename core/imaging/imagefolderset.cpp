#include "core/imaging/imagefolderset.h"

#include "core/engine/cancellation.h"
#include "core/imaging/imagedecoder.h"

#include <cstring>

namespace attnviz::imaging {

engine::ImageSet readImageFolderSet(const io::ImageFolder& folder)
{
    const auto count = int64_t(folder.paths.size());
    engine::ImageSet set;
    set.labels = torch::tensor(folder.labels, torch::kInt64);
    for (int64_t i = 0; i < count; ++i) {
        engine::throwIfCancelled();
        const auto& path = folder.paths[std::size_t(i)];
        const auto rgb = decodeImageRgb(path);  // CV_8UC3 [H, W, 3], continuous
        if (!set.images.defined())
            set.images = torch::empty({count, 3, rgb.rows, rgb.cols}, torch::kUInt8);
        if (rgb.rows != set.images.size(2) || rgb.cols != set.images.size(3))
            throw ImageError("'" + path + "' is " + std::to_string(rgb.cols) + "x" + std::to_string(rgb.rows)
                             + " px but the first image of the folder is " + std::to_string(set.images.size(3)) + "x"
                             + std::to_string(set.images.size(2)) + "; a training set must be of one size");
        const auto hwc = torch::from_blob(rgb.data, {rgb.rows, rgb.cols, 3}, torch::kUInt8);
        set.images[i].copy_(hwc.permute({2, 0, 1}));
    }
    return set;
}

}  // namespace attnviz::imaging
