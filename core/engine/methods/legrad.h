#pragma once

// LeGrad, the `legrad` method: the gradient of each block's own reading of the class (or
// prompt) with respect to that block's attention, summed over the last blocks.

#include "core/engine/methods/gradientsupport.h"
#include "core/engine/model/classifier.h"

#include <torch/torch.h>

namespace attnviz::engine {

// LeGrad (Bousselham et al., ICCV 2025), as the authors' code defines it for CLIP
// (WalBouss/LeGrad legrad/wrapper.py, LeWrapper.compute_legrad_clip): for each block l
// from `startLayer` (-1: the last two blocks, LeWrapper's default layer_index=-2),
//   s_l  = the class's logit with block l's output as the last block's, the CLS token
//          replaced by the mean of all tokens (VisionTransformer::visitReadoutGradients);
//   E_l  = mean over heads and query rows of ReLU(ds_l / dA_l), dA_l [H, T, T];
// the sum of E_l over the blocks, its patch columns as [gridH, gridW], min-max normalised
// (zeros where the sum is flat). The authors upsample to pixels before normalising; here
// the grid is normalised, the overlay upsamples. For an attention-pooling head (SigLIP;
// compute_legrad_siglip): s_l is the score of block l's output put through the pool with
// no final norm, as the authors do, and E_l the mean over heads of ReLU(ds_l / dA_l) at
// the pool's first latent, dA_l [H, 1, T]. The authors then zero the cells where the
// neutral prompt "a photo of a" maps above 0.8 (apply_correction), and so does attnviz
// when the model carries that prompt's embedding (VisionTransformer::neutralPrompt, which the
// loader sets when the SigLIP's tokenizer is beside it); without it the map is left uncorrected.
ClassMaps legrad(const Classifier& vit, const torch::Tensor& input, int classIndex, int startLayer = -1);

}  // namespace attnviz::engine
