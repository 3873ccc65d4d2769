#include "core/io/shippeddata.h"

#include <filesystem>
#include <system_error>

namespace attnviz::io {
namespace {

namespace fs = std::filesystem;

struct DataRoots {
    fs::path models;     // holds vit-shapes/, cnn-shapes/, ...
    fs::path resources;  // holds samples/, scenes/
};

DataRoots findRoots()
{
    std::error_code error;
    const auto program = fs::read_symlink("/proc/self/exe", error);
    if (!error) {
        const auto bin = program.parent_path();
        const auto share = bin / ".." / "share" / "attnviz";
        if (fs::exists(share / "models" / "vit-shapes", error))
            return {fs::weakly_canonical(share / "models"), fs::weakly_canonical(share)};
        const auto repo = bin / ".." / "..";
        if (fs::exists(repo / "models" / "vit-shapes", error))
            return {fs::weakly_canonical(repo / "models"), fs::weakly_canonical(repo / "resources")};
    }
    const fs::path source(ATTNVIZ_SOURCE_DIR);
    return {source / "models", source / "resources"};
}

const DataRoots& roots()
{
    static const DataRoots found = findRoots();
    return found;
}

}  // namespace

std::string shippedModel(const std::string& name)
{
    return (roots().models / name).string();
}

std::string shippedResource(const std::string& relative)
{
    return (roots().resources / relative).string();
}

}  // namespace attnviz::io
