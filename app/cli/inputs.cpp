#include "app/cli/inputs.h"

#include "core/engine/engineerror.h"
#include "core/engine/tensorconvert.h"
#include "core/io/idxdataset.h"
#include "core/io/imagefiles.h"
#include "core/io/imagefolder.h"
#ifdef ATTNVIZ_HAVE_IMAGING
#include "core/imaging/imagedecoder.h"
#include "core/imaging/imagefolderset.h"
#include "core/imaging/preprocess.h"
#endif

#include <iostream>

namespace attnviz::cli {

InputSet::InputSet(const Arguments& args, bool folderAllowed)
{
    const int given = int(bool(args.value("image"))) + int(folderAllowed && bool(args.value("images")))
                      + int(bool(args.value("tensor")));
    if (given != 1)
        throw UsageError(folderAllowed ? "give exactly one of --image IMG, --images DIR and --tensor FILE"
                                       : "give exactly one of --image IMG and --tensor FILE.safetensors");
    if (auto tensor = args.value("tensor"))
        m_tensors = io::readSafetensors(*tensor);
    else if (auto image = args.value("image"))
        m_paths = {*image};
    else
        m_paths = io::imageFilesIn(*args.value("images"));
#ifdef ATTNVIZ_HAVE_IMAGING
    if (!m_tensors)
        m_images.emplace(m_paths);
#endif
}

torch::Tensor InputSet::at(std::size_t i, const std::string& role, const engine::ModelSpec& spec) const
{
    const auto channels = spec.preprocessing.inputSize[0];
    if (m_tensors) {
        const auto& tensors = m_tensors->tensors;
        const auto it = tensors.count(role + ".input") ? tensors.find(role + ".input") : tensors.find("input");
        if (it == tensors.end())
            throw engine::EngineError("the --tensor file has neither '" + role + ".input' nor 'input'");
        const auto& shape = it->second.shape;
        if (shape.size() != 4 || shape[0] != 1 || shape[1] != channels)
            throw engine::EngineError("tensor '" + it->first + "' has shape " + it->second.shapeString()
                                      + ", expected [1, " + std::to_string(channels) + ", H, W]");
        return engine::toTorch(it->second).to(torch::kFloat32);
    }
#ifdef ATTNVIZ_HAVE_IMAGING
    return imaging::preprocessImage(imaging::decodeImageRgb(m_paths.at(i)), spec.preprocessing).tensor;
#else
    (void)i;
    throw UsageError("this build has no image support (built without OpenCV); use --tensor");
#endif
}

torch::Tensor InputSet::batch(std::size_t first, std::size_t count, const std::string& role,
                              const engine::ModelSpec& spec) const
{
#ifdef ATTNVIZ_HAVE_IMAGING
    if (m_images)
        return m_images->batch(first, count, spec.preprocessing);
#endif
    std::vector<torch::Tensor> inputs;  // the tensor file's one input
    for (std::size_t i = first; i < first + count && i < size(); ++i)
        inputs.push_back(at(i, role, spec));
    return torch::cat(inputs);
}

LabelledImages readLabelledImages(const std::string& dir, const std::string& idxSplit, int limit)
{
    if (io::holdsIdxSplit(dir, idxSplit))
        return {engine::toImageSet(io::readIdxDataset(dir, idxSplit)).first(limit), {}};
#ifdef ATTNVIZ_HAVE_IMAGING
    auto folder = io::evenlySpaced(io::readImageFolder(dir), std::size_t(std::max(0, limit)));
    return {imaging::readImageFolderSet(folder), std::move(folder.classes)};
#else
    (void)limit;
    throw UsageError("'" + dir + "' has no IDX files of split '" + idxSplit
                     + "', and this build has no image support (built without OpenCV) for an ImageFolder tree");
#endif
}

engine::LoadOptions loadOptions(const Arguments& args, const std::string& headsOption)
{
    engine::LoadOptions options;
    options.heads = args.intValue(headsOption, 0, 1);
    options.device = args.value("device").value_or("cpu");
    if (const auto size = args.value("input-size")) {
        // "448" or "448x448" / "160x256" (height x width)
        const auto x = size->find('x');
        const auto number = [&](const std::string& text) {
            if (text.empty() || text.size() > 5 || text.find_first_not_of("0123456789") != std::string::npos
                || std::stoi(text) < 16 || std::stoi(text) > 4096)
                throw UsageError("--input-size takes N or HxW with sides 16..4096, got '" + *size + "'");
            return std::stoi(text);
        };
        const int h = number(size->substr(0, x));
        options.inputSize = {h, x == std::string::npos ? h : number(size->substr(x + 1))};
    }
    return options;
}

std::unique_ptr<engine::Classifier> loadModel(const std::string& path, const engine::LoadOptions& options)
{
    auto model = engine::loadClassifier(path, options);
    for (const auto& warning : model->spec().warnings)
        std::cerr << "attnviz-cli: warning: '" << path << "': " << warning << "\n";
    return model;
}

std::unique_ptr<engine::Classifier> loadRoleModel(const Arguments& args, engine::Family role,
                                                  const std::string& headsOption)
{
    const auto options = loadOptions(args, headsOption);
    const auto option = engine::familyName(role);
    const auto path = args.required(option);
    auto model = loadModel(path, options);
    if (const auto wrong = engine::familyMismatch(model->spec(), role, path); !wrong.empty())
        throw UsageError("--" + option + ": " + wrong);
    return model;
}

}  // namespace attnviz::cli
