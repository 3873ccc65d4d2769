#pragma once

// The text chunks attnviz writes into every PNG it exports (pngtext.h writes them), so a
// figure says how it was made. One place for the keys: the overlays (core/imaging/
// viewimage), the CLI's CKA matrices and the window's plot and grid exports use these.

namespace attnviz::io::pngkey {

// PNG's own keywords.
inline constexpr const char* kSoftware = "Software";  // always "attnviz"
inline constexpr const char* kTitle = "Title";        // a plot's title

// What was drawn.
inline constexpr const char* kModel = "attnviz:model";         // the model's path
inline constexpr const char* kImage = "attnviz:image";         // the input image's path (none for a tensor input)
inline constexpr const char* kMethod = "attnviz:method";       // a view method's name, or "cka (...)"
inline constexpr const char* kLayer = "attnviz:layer";         // the rows' layers, comma-separated
inline constexpr const char* kHead = "attnviz:head";           // the columns' heads, comma-separated
inline constexpr const char* kCamInput = "attnviz:cam_input";  // a ViT CAM: norm1 | residual
inline constexpr const char* kClass = "attnviz:class";         // "<index> <label>" of a class-specific map
inline constexpr const char* kPrompt = "attnviz:prompt";       // a CLIP / SigLIP class: the prompt, or the label
                                                               // whose templates were averaged

// How it was drawn.
inline constexpr const char* kNormalization = "attnviz:normalization";  // map | layer
inline constexpr const char* kColormap = "attnviz:colormap";
inline constexpr const char* kAlpha = "attnviz:alpha";
inline constexpr const char* kUpsampling = "attnviz:upsampling";  // nearest | bilinear
inline constexpr const char* kKeepMass = "attnviz:keep_mass";     // only below 1

// A layer-similarity (CKA) or localisation matrix.
inline constexpr const char* kRows = "attnviz:rows";              // the model along the rows
inline constexpr const char* kColumns = "attnviz:columns";        // the model along the columns
inline constexpr const char* kImages = "attnviz:images";          // how many images
inline constexpr const char* kDegenerate = "attnviz:degenerate";  // layers with an undefined CKA, or "none"
inline constexpr const char* kFolder = "attnviz:folder";          // the folder of images

}  // namespace attnviz::io::pngkey
