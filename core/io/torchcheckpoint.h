#pragma once

#include "core/io/rawtensor.h"

#include <string>

namespace attnviz::io {

// Reads the state dict of a torch.save zip file (.pth/.pt/.bin) without executing
// anything: a restricted unpickler that accepts only the globals a state dict needs
// (plus argparse.Namespace and numpy scalars of training checkpoints, kept as inert
// values and never called) and refuses every other one with a FormatError naming
// it. Unwraps one level of
// {"model"|"state_dict"|"teacher"|"student": ...}. Tensors come back contiguous,
// with their original dtype. Pre-1.6 (non-zip) files are refused with advice.
TensorMap readTorchCheckpoint(const std::string& path);

}  // namespace attnviz::io
