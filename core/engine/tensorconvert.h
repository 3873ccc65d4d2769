#pragma once

#include "core/io/rawtensor.h"

#include <torch/torch.h>

namespace attnviz::engine {

// A CPU tensor with the file's dtype and shape that shares the raw tensor's bytes
// instead of copying them (loading a checkpoint reads each weight once), and keeps
// them alive after the RawTensor goes. Writing into one writes into the other.
torch::Tensor toTorch(const io::RawTensor& raw);

// The tensor as contiguous F32 (I64) bytes, for dumps (moved to the CPU first).
io::RawTensor toRawF32(const torch::Tensor& tensor);
io::RawTensor toRawI64(const torch::Tensor& tensor);

}  // namespace attnviz::engine
