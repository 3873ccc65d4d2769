#include "core/imaging/audit/folderaudit.h"

#include "core/imaging/imagedecoder.h"
#include "core/imaging/maskfile.h"
#include "core/imaging/preprocess.h"
#include "core/io/imagefiles.h"
#include "core/io/imagefolder.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

namespace attnviz::imaging::audit {
namespace {

namespace fs = std::filesystem;

double secondsSince(std::chrono::steady_clock::time_point start)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

bool isMaskBesideItsImage(const std::string& relative)
{
    constexpr std::string_view kSuffix = ".mask.png";
    return relative.size() > kSuffix.size()
           && relative.compare(relative.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0;
}

}  // namespace

std::vector<AuditImage> benchmarkImages(const std::string& root)
{
    const auto test = fs::path(root) / "test";
    const auto folder = io::readImageFolder(test.string());
    std::vector<AuditImage> images;
    images.reserve(folder.paths.size());
    for (std::size_t i = 0; i < folder.paths.size(); ++i) {
        const auto relative = fs::relative(folder.paths[i], test);
        images.push_back({folder.paths[i], relative.generic_string(),
                          (fs::path(root) / "masks" / "test" / relative).string(), int(folder.labels[i])});
    }
    return images;
}

std::vector<AuditImage> folderImages(const std::string& dir, const std::optional<std::string>& masks)
{
    std::vector<AuditImage> images;
    for (const auto& relative : io::imageFilesUnder(dir)) {
        if (isMaskBesideItsImage(relative))
            continue;
        const auto path = (fs::path(dir) / relative).string();
        images.push_back({path, relative,
                          masks ? (fs::path(*masks) / fs::path(relative).replace_extension(".png")).string()
                                : findMaskFor(path).value_or(""),
                          -1});
    }
    return images;
}

std::vector<AuditImage> imagesToAudit(const std::string& dir)
{
    std::error_code error;
    if (fs::is_regular_file(fs::path(dir) / "index.json", error) && fs::is_directory(fs::path(dir) / "test", error))
        return benchmarkImages(dir);
    return folderImages(dir, std::nullopt);
}

std::vector<AuditImage> spreadOver(const std::vector<AuditImage>& images, std::size_t limit)
{
    std::vector<AuditImage> spread;
    for (const auto at : io::evenlySpacedIndices(images.size(), limit))
        spread.push_back(images[at]);
    return spread;
}

void Tally::add(const std::optional<double>& v)
{
    if (v)
        values.push_back(*v);
}

double Tally::mean() const
{
    double sum = 0;
    for (double v : values)
        sum += v;
    return values.empty() ? std::nan("") : sum / double(values.size());
}

double Tally::ci95() const
{
    if (values.size() < 2)
        return std::nan("");
    const double m = mean();
    double squares = 0;
    for (double v : values)
        squares += (v - m) * (v - m);
    return 1.96 * std::sqrt(squares / double(values.size() - 1)) / std::sqrt(double(values.size()));
}

double Tally::median() const
{
    auto sorted = values;
    std::sort(sorted.begin(), sorted.end());
    const auto n = sorted.size();
    if (n == 0)
        return std::nan("");
    return n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
}

std::optional<bool> MethodTally::passesRandomisation() const
{
    if (spearman.empty())
        return std::nullopt;
    return std::abs(spearman.back().mean()) < engine::kRandomisationPassBelow;
}

ModelAudit modelAudit(std::string path, std::shared_ptr<const engine::Classifier> model,
                      const std::vector<engine::ViewMethod>& methods)
{
    ModelAudit m;
    m.family = model->spec().family;
    m.path = std::move(path);
    m.tolerance = engine::pointingTolerance(model->spec().preprocessing);
    for (const auto method : methods)
        m.methods.emplace_back().method = method;
    m.model = std::move(model);
    return m;
}

FolderAudit::FolderAudit(std::vector<ModelAudit>& models, const engine::AuditOptions& options,
                         std::size_t randomisationImages, std::uint64_t seed)
    : m_models(models)
    , m_options(options)
    , m_randomisationImages(randomisationImages)
    , m_seed(seed)
{
}

std::optional<Skip> FolderAudit::audit(std::size_t index, const AuditImage& image)
{
    cv::Mat rgb, mask;
    try {
        rgb = decodeImageRgb(image.path);
    } catch (const ImageError& e) {
        return m_skipped.emplace_back(Skip{image.relative, false, e.what()});
    }
    std::optional<Skip> skipped;
    if (!image.maskPath.empty()) {
        try {
            mask = readMask(image.maskPath, rgb.cols, rgb.rows);
            ++m_withMask;
        } catch (const ImageError& e) {
            skipped = m_skipped.emplace_back(Skip{image.relative, true, e.what()});
        }
    }
    for (auto& m : m_models)
        auditModel(m, index, image, rgb, mask);
    return skipped;
}

void FolderAudit::auditModel(ModelAudit& m, std::size_t index, const AuditImage& image, const cv::Mat& rgb,
                             const cv::Mat& mask)
{
    const auto& spec = m.model->spec();
    const auto trace = m.model->forward(preprocessImage(rgb, spec.preprocessing).tensor);
    const auto modelMask = mask.empty() ? torch::Tensor() : maskForModel(mask, spec.preprocessing);
    const int label = image.label < spec.numClasses ? image.label : -1;
    auto options = m_options;
    options.tolerance = m.tolerance;
    std::vector<engine::ViewMethod> methods;
    std::vector<torch::Tensor> maps;  // the learned model's, for the randomisation check
    for (auto& t : m.methods) {
        const auto start = std::chrono::steady_clock::now();
        const auto map = engine::auditMap(*m.model, trace, t.method, label);
        const auto s = engine::scoreMap(*m.model, trace, map, modelMask, label, options);
        t.seconds.add(secondsSince(start));
        t.pointing.add(s.pointingHit ? std::optional<double>(*s.pointingHit ? 1.0 : 0.0) : std::nullopt);
        t.energy.add(s.energy);
        t.iou.add(s.iou);
        t.deletion.add(s.deletionAuc);
        t.insertion.add(s.insertionAuc);
        methods.push_back(t.method);
        maps.push_back(map);
        m_rows.push_back({image.relative, m.family, t.method, s});
    }
    if (index >= m_randomisationImages)
        return;
    const auto start = std::chrono::steady_clock::now();
    const auto curves = engine::randomisationCurves(*m.model, trace, methods, maps, label, m_seed);
    m.randomisationSeconds.add(secondsSince(start));
    m.randomisationSteps = curves.steps;
    for (std::size_t k = 0; k < m.methods.size(); ++k) {
        auto& t = m.methods[k];
        t.spearman.resize(curves.steps.size());
        for (std::size_t step = 0; step < curves.steps.size(); ++step)
            t.spearman[step].values.push_back(curves.spearman[k][step]);
    }
}

}  // namespace attnviz::imaging::audit
