#pragma once

#include "core/engine/evaluation/audit.h"

#include <opencv2/core.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace attnviz::imaging::audit {

// The audit of a set of images (docs/audit.md): every method of each model scored on
// every image, the randomisation check on the first few, tallied per model and method.
// The CLI's `audit` and the window's Analysis → Audit methods on a folder run this.

struct AuditImage {
    std::string path;      // to decode
    std::string relative;  // as reported
    std::string maskPath;  // "" without a mask
    int label = -1;        // the true class (a benchmark's folder), else -1: the top-1
};

// ROOT/test of a benchmark (benchmark/benchmarkwriter.h), with its masks and classes.
std::vector<AuditImage> benchmarkImages(const std::string& root);
// Every image below `dir`; its mask at the same relative path under `masks` with a .png
// suffix, or without `masks` NAME.mask.png beside it when there is one (findMaskFor).
// Masks beside their images are not images of their own.
std::vector<AuditImage> folderImages(const std::string& dir, const std::optional<std::string>& masks);
// A benchmark when `dir` holds index.json and test/, else folderImages(dir, {}).
std::vector<AuditImage> imagesToAudit(const std::string& dir);
// `limit` images spread over the list (a benchmark is in class order); 0: all.
std::vector<AuditImage> spreadOver(const std::vector<AuditImage>& images, std::size_t limit);

// A score over images: its mean with a normal-approximation 95 % interval,
// 1.96 sd / sqrt(n) (for the pointing game's hits, the Wald interval). NaN when undefined.
struct Tally {
    std::vector<double> values;

    void add(const std::optional<double>& v);
    double mean() const;
    double ci95() const;
    double median() const;  // for timings: a noisy shared machine moves it least
};

struct MethodTally {
    engine::ViewMethod method = engine::ViewMethod::Attention;
    Tally pointing, energy, iou, deletion, insertion;
    Tally seconds;                // per image: the map and its scores (the randomisation check apart)
    std::vector<Tally> spearman;  // per randomisation step, over images

    // The check's verdict, once it ran: |mean rank correlation| after the last step
    // below engine::kRandomisationPassBelow.
    std::optional<bool> passesRandomisation() const;
};

struct ModelAudit {
    engine::Family family = engine::Family::ViT;  // its role: --vit or --cnn, the window's side
    std::string path;
    // Its weights are randomised and restored during the check: a model of its own,
    // used by nothing else meanwhile.
    std::shared_ptr<const engine::Classifier> model;
    std::vector<MethodTally> methods;
    double tolerance = 0;                         // the pointing game's, in this model's input pixels
    Tally randomisationSeconds;                   // per image: the whole check, every method and step
    std::vector<std::string> randomisationSteps;  // the modules randomised, output first
};
// A model's entry for `methods` (those it offers: engine::auditableMethods).
ModelAudit modelAudit(std::string path, std::shared_ptr<const engine::Classifier> model,
                      const std::vector<engine::ViewMethod>& methods);

// One image's scores for one model and method.
struct ScoreRow {
    std::string image;
    engine::Family family = engine::Family::ViT;
    engine::ViewMethod method = engine::ViewMethod::Attention;
    engine::ImageScores scores;
};
// An image left out (undecodable), or left out of the mask scores only (a bad mask).
struct Skip {
    std::string image;
    bool maskOnly = false;
    std::string reason;
};

class FolderAudit {
public:
    FolderAudit(std::vector<ModelAudit>& models, const engine::AuditOptions& options, std::size_t randomisationImages,
                std::uint64_t seed);

    // Image `index` of the run: the randomisation check runs on indices below
    // randomisationImages. Returns what was skipped of it, if anything.
    std::optional<Skip> audit(std::size_t index, const AuditImage& image);

    const std::vector<ScoreRow>& rows() const { return m_rows; }
    const std::vector<Skip>& skipped() const { return m_skipped; }
    std::size_t withMask() const { return m_withMask; }

private:
    void auditModel(ModelAudit& m, std::size_t index, const AuditImage& image, const cv::Mat& rgb, const cv::Mat& mask);

    std::vector<ModelAudit>& m_models;
    engine::AuditOptions m_options;
    std::size_t m_randomisationImages;
    std::uint64_t m_seed;
    std::vector<ScoreRow> m_rows;
    std::vector<Skip> m_skipped;
    std::size_t m_withMask = 0;
};

}  // namespace attnviz::imaging::audit
