#pragma once

#include "core/engine/study/linearprobe.h"
#include "core/io/imagefolder.h"

namespace attnviz::imaging {

// An ImageFolder split for the layer probes: images decoded and preprocessed for `p` a
// minibatch at a time, so a large tree never sits in memory.
engine::ProbeData probeDataFrom(const io::ImageFolderSplit& split, const engine::Preprocessing& p);

}  // namespace attnviz::imaging
