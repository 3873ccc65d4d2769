#pragma once

#include "core/io/modelconfig.h"

#include <string>
#include <vector>

namespace attnviz::io {

// The ImageNet-1k class names bundled with the program (resources/labels).
const std::vector<std::string>& imagenetLabels();

// Class names from a text file, one a line (empty lines skipped, CRLF accepted); throws
// FormatError when the file cannot be read or names none.
std::vector<std::string> readLabelFile(const std::string& path);

// The ten Fashion-MNIST class names in label order.
const std::vector<std::string>& fashionMnistLabels();

// Names for `numClasses` outputs: the config's names when they match the count, the
// bundled ImageNet names for 1000 classes, otherwise "class N".
std::vector<std::string> labelsFor(const ModelConfig& config, int numClasses);

}  // namespace attnviz::io
