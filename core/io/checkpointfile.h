#pragma once

#include "core/io/modelconfig.h"
#include "core/io/rawtensor.h"

#include <string>

namespace attnviz::io {

// The weights and configuration behind one model path, before any architecture is
// recognised. Keys are normalised: `module.` / `backbone.` prefixes removed.
struct Checkpoint {
    std::string modelPath;    // what the user gave
    std::string weightsPath;  // the file actually read
    TensorMap tensors;
    ModelConfig config;  // config.present == false when there is none
};

// A model path is a weights file (.safetensors, .pth, .pt, .bin; other names are
// sniffed) or a folder in the HF hub layout (model.safetensors or pytorch_model.bin,
// plus config.json). A config.json beside a file is read too. Throws FormatError.
Checkpoint loadCheckpoint(const std::string& modelPath);

// Two keys that become one name, e.g. `module.x` beside `x`.
class PrefixCollision : public FormatError {
public:
    using FormatError::FormatError;
};

// Removes wrapper prefixes: `module.` (DataParallel) everywhere it leads, `vit.` of
// HF classification models, and for DINO-style checkpoints keeps only the
// `backbone.` keys (dropping the DINO projection head). Throws PrefixCollision when two
// keys would become one.
TensorMap stripWrapperPrefixes(TensorMap tensors);

}  // namespace attnviz::io
