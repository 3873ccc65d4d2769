#pragma once

#include "core/engine/training/imageset.h"
#include "core/io/imagefolder.h"

namespace attnviz::imaging {

// Every image of an ImageFolder tree decoded to RGB bytes, for training and evaluation
// on a generated benchmark (all images one size; 40,000 at 64 x 64 take 490 MB).
// Decoding stops between images when the engine's cancellation scope says so (throws
// engine::Cancelled). Throws ImageError naming the first image that cannot be decoded
// or whose size differs from the first's.
engine::ImageSet readImageFolderSet(const io::ImageFolder& folder);

}  // namespace attnviz::imaging
