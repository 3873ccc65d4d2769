#include "core/io/imagefiles.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <stdexcept>

namespace attnviz::io {

bool isImageFileName(const std::string& name)
{
    auto ext = std::filesystem::path(name).extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    for (const char* known : {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"})
        if (ext == known)
            return true;
    return false;
}

std::vector<std::string> imageFilesIn(const std::string& dir)
{
    std::error_code ec;
    std::vector<std::string> out;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
        if (entry.is_regular_file() && isImageFileName(entry.path().filename().string()))
            out.push_back(entry.path().string());
    if (ec)
        throw std::runtime_error("cannot read the folder '" + dir + "': " + ec.message());
    if (out.empty())
        throw std::runtime_error("no images (.png, .jpg, .bmp, .webp, .tif) in '" + dir + "'");
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<std::string> imageFilesUnder(const std::string& dir)
{
    std::error_code ec;
    std::vector<std::string> out;
    const std::filesystem::path root(dir);
    std::filesystem::recursive_directory_iterator it(root, std::filesystem::directory_options::skip_permission_denied,
                                                     ec);
    for (; !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
        if (it->is_regular_file() && isImageFileName(it->path().filename().string()))
            out.push_back(it->path().lexically_relative(root).generic_string());
    if (ec)
        throw std::runtime_error("cannot read the folder '" + dir + "': " + ec.message());
    if (out.empty())
        throw std::runtime_error("no images (.png, .jpg, .bmp, .webp, .tif) in or below '" + dir + "'");
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace attnviz::io
