#include "core/io/imagefolder.h"

#include "core/io/imagefiles.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <stdexcept>

namespace attnviz::io {

ImageFolder readImageFolder(const std::string& root)
{
    std::error_code ec;
    std::vector<std::string> classDirs;
    for (const auto& entry : std::filesystem::directory_iterator(root, ec))
        if (entry.is_directory())
            classDirs.push_back(entry.path().filename().string());
    if (ec)
        throw std::runtime_error("cannot read the folder '" + root + "': " + ec.message());
    if (classDirs.empty())
        throw std::runtime_error("'" + root + "' has no class subfolders (an ImageFolder tree: ROOT/CLASS/IMAGE)");
    std::sort(classDirs.begin(), classDirs.end());
    ImageFolder out;
    out.classes = classDirs;
    for (std::size_t c = 0; c < classDirs.size(); ++c) {
        const auto dir = (std::filesystem::path(root) / classDirs[c]).string();
        auto files = imageFilesUnder(dir);  // throws for a class without images
        // torchvision's order: folder by folder (sorted paths), the files of each sorted.
        std::stable_sort(files.begin(), files.end(), [](const std::string& a, const std::string& b) {
            const std::filesystem::path pa(a), pb(b);
            return std::pair(pa.parent_path().string(), pa.filename().string())
                   < std::pair(pb.parent_path().string(), pb.filename().string());
        });
        for (const auto& relative : files) {
            out.paths.push_back((std::filesystem::path(dir) / relative).string());
            out.labels.push_back(int64_t(c));
        }
    }
    return out;
}

ImageFolderSplit splitImageFolder(const ImageFolder& all, double heldOut)
{
    if (!(heldOut > 0.0 && heldOut < 1.0))
        throw std::runtime_error("the held-out fraction must lie between 0 and 1");
    ImageFolderSplit out;
    out.train.classes = out.test.classes = all.classes;
    std::vector<int64_t> seen(all.classes.size(), 0);
    for (std::size_t i = 0; i < all.paths.size(); ++i) {
        const auto label = all.labels[i];
        const double k = double(seen[std::size_t(label)]++);
        auto& part = std::floor((k + 1) * heldOut) > std::floor(k * heldOut) ? out.test : out.train;
        part.paths.push_back(all.paths[i]);
        part.labels.push_back(label);
    }
    return out;
}

ImageFolder evenlySpaced(const ImageFolder& all, std::size_t n)
{
    if (n == 0 || n >= all.paths.size())
        return all;
    ImageFolder out;
    out.classes = all.classes;
    for (const auto at : evenlySpacedIndices(all.paths.size(), n)) {
        out.paths.push_back(all.paths[at]);
        out.labels.push_back(all.labels[at]);
    }
    return out;
}

std::vector<std::size_t> evenlySpacedIndices(std::size_t size, std::size_t n)
{
    if (n == 0 || n >= size)
        n = size;
    std::vector<std::size_t> out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
        out.push_back(i * size / n);
    return out;
}

}  // namespace attnviz::io
