// Precompiled header: LibTorch costs ~20 s per translation unit to parse.
#pragma once
#include <torch/torch.h>
