#pragma once

#include "app/cli/arguments.h"

#include "core/engine/model/classifier.h"
#include "core/engine/training/imageset.h"
#include "core/io/safetensors.h"
#ifdef ATTNVIZ_HAVE_IMAGING
#include "core/imaging/imagebatches.h"
#endif

#include <torch/torch.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace attnviz::cli {

// --heads, --device and --input-size (N or HxW) as load options. headsOption names the
// option that overrides the model's head count (export's --heads chooses the heads to
// show, so there it is --model-heads).
engine::LoadOptions loadOptions(const Arguments& args, const std::string& headsOption = "heads");

// Where a command's model inputs come from: --image IMG, --images DIR (every image
// file in it, sorted) or --tensor FILE.safetensors (an already preprocessed input).
// Images are decoded one at a time, so a large folder never sits in memory.
class InputSet {
public:
    // Checks that exactly one of the accepted sources is given.
    InputSet(const Arguments& args, bool folderAllowed);

    std::size_t size() const { return m_tensors ? 1 : m_paths.size(); }
    // Input i as the user named it: the image's path, or "tensor" for a tensor file.
    std::string name(std::size_t i) const { return m_tensors ? std::string("tensor") : m_paths.at(i); }
    // Input i as [1, C, H, W] float32, preprocessed for `spec`; in a tensor file
    // "<role>.input" is preferred over "input".
    torch::Tensor at(std::size_t i, const std::string& role, const engine::ModelSpec& spec) const;
    // Inputs [first, first + count) stacked to [count, C, H, W]; images are decoded once
    // per minibatch however many models ask for it.
    torch::Tensor batch(std::size_t first, std::size_t count, const std::string& role,
                        const engine::ModelSpec& spec) const;

private:
    std::vector<std::string> m_paths;
    std::optional<io::SafetensorsFile> m_tensors;
#ifdef ATTNVIZ_HAVE_IMAGING
    mutable std::optional<imaging::ImageBatches> m_images;  // m_paths, a minibatch at a time
#endif
};

// The labelled images of train and evaluate: IDX files when DIR holds split `idxSplit`'s,
// else an ImageFolder tree DIR/CLASS/IMAGE (a generated benchmark's DIR/train or
// DIR/test), all of one size. `classes`: the tree's folder names (empty for IDX).
// limit > 0: the first `limit` IDX images, or `limit` spread evenly over the tree's
// classes (a tree is in class order).
struct LabelledImages {
    engine::ImageSet set;
    std::vector<std::string> classes;
};
LabelledImages readLabelledImages(const std::string& dir, const std::string& idxSplit, int limit);

// engine::loadClassifier, then the model's warnings (NaN weights, say) on stderr, one
// line each: every command loads its models through here.
std::unique_ptr<engine::Classifier> loadModel(const std::string& path, const engine::LoadOptions& options = {});

// The model given as --vit or --cnn (role "vit" / "cnn"), loaded with --heads (or
// headsOption) and --device; a model of the other family is a usage error.
std::unique_ptr<engine::Classifier> loadRoleModel(const Arguments& args, engine::Family role,
                                                  const std::string& headsOption = "heads");

}  // namespace attnviz::cli
