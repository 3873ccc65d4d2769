#include "app/cli/overlayoutput.h"

#include "core/engine/engineerror.h"
#ifdef ATTNVIZ_HAVE_IMAGING
#include "core/imaging/colormap.h"
#include "core/imaging/pngwriter.h"
#include "core/imaging/viewimage.h"
#include "core/io/pngmetadata.h"
#endif

#include <filesystem>
#include <stdexcept>

namespace attnviz::cli {
namespace {

#ifdef ATTNVIZ_HAVE_IMAGING
imaging::ViewImageOptions viewImageOptions(const Arguments& args)
{
    imaging::ViewImageOptions options;
    try {
        options.overlay.colormap = imaging::colormapFromName(args.value("colormap").value_or("viridis"));
        options.overlay.upsampling = imaging::upsamplingFromName(args.value("upsample").value_or("nearest"));
        options.normalization = imaging::normalizationFromName(args.value("normalize").value_or("map"));
    } catch (const std::invalid_argument& e) {
        throw UsageError(e.what());
    }
    options.overlay.alpha = args.doubleValue("alpha", 0.5, 0.0, 1.0);
    options.overlay.colorBar = !args.flag("no-colorbar");
    options.keepMass = args.doubleValue("keep-mass", 1.0, 0.01, 1.0);
    return options;
}

#endif

}  // namespace

std::string outputStem(const Arguments& args)
{
    if (auto image = args.value("image"))
        return std::filesystem::path(*image).stem().string();
    if (auto images = args.value("images")) {
        auto folder = std::filesystem::path(*images).lexically_normal();
        if (!folder.has_filename())  // "samples/"
            folder = folder.parent_path();
        const auto name = folder.filename().string();
        return name.empty() || name == "." || name == ".." ? "images" : name;
    }
    return "tensor";
}

std::string outputDirectory(const std::string& dir)
{
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec || !std::filesystem::is_directory(dir))
        throw engine::EngineError("cannot use '" + dir + "' as the output folder" + (ec ? ": " + ec.message() : ""));
    return dir;
}

std::string writeViewPng(const std::string& dir, const std::string& stem, const std::string& image,
                         const std::string& role, const std::string& modelPath, const engine::Trace& trace,
                         const engine::ViewMaps& view, const engine::ModelSpec& spec, const Arguments& args,
                         const std::string& variant)
{
#ifdef ATTNVIZ_HAVE_IMAGING
    const auto options = viewImageOptions(args);
    const auto picture = imaging::inputPicture(trace.input, spec.preprocessing);
    const auto rendered = imaging::renderView(picture, view, options);
    std::string className;
    if (view.classIndex && std::size_t(*view.classIndex) < spec.labels.size())
        className = spec.labels[std::size_t(*view.classIndex)];
    const auto name = stem + "-" + role + "-" + engine::viewMethodName(view.method)
                      + (variant.empty() ? "" : "-" + variant) + ".png";
    auto path = (std::filesystem::path(outputDirectory(dir)) / name).string();
    auto description = imaging::viewDescription(modelPath, view, className, options, image);
    if (spec.promptClasses && !className.empty())
        description.emplace_back(io::pngkey::kPrompt, className);
    imaging::writePng(path, rendered, description);
    return path;
#else
    (void)dir, (void)stem, (void)image, (void)role, (void)modelPath, (void)trace, (void)view, (void)spec, (void)args,
        (void)variant;
    throw UsageError("this build has no image support (built without OpenCV): --out-dir is unavailable, use --dump");
#endif
}

}  // namespace attnviz::cli
