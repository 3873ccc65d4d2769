#pragma once

#include "core/engine/study/linearprobe.h"
#include "core/io/imagefolder.h"

namespace attnviz::imaging {

// An ImageFolder split for the layer probes: images decoded and preprocessed for `p` a
// minibatch at a time, so a large tree never sits in memory.
engine::ProbeData probeDataFrom(const io::ImageFolderSplit& split, const engine::Preprocessing& p);

// IDX files when `path` holds the training split's, else an ImageFolder tree (split per
// options.testRoot or options.heldOut; limits spread evenly over the classes). Throws
// std::runtime_error or io::FormatError with one line.
engine::LabelledSet openLabelledSet(const std::string& path, const engine::LabelledSetOptions& options);

}  // namespace attnviz::imaging
