#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace attnviz::io {

// A labelled image tree as torchvision's ImageFolder reads it: every subfolder of the
// root is a class (sorted by name, index in that order), and every image file anywhere
// below it is one of its examples, in torchvision's order (folder by folder, sorted).
// Unlike torchvision, symbolic links to folders are not followed (a link loop cannot
// hang it), and only the formats the decoder takes count (not .ppm / .pgm).
struct ImageFolder {
    std::vector<std::string> classes;
    std::vector<std::string> paths;  // full paths
    std::vector<int64_t> labels;     // per path, an index into classes
};

// Throws std::runtime_error with one line when the root cannot be read, has no class
// subfolder, or a class has no image.
ImageFolder readImageFolder(const std::string& root);

// The examples split for a probe: within each class, in path order, example i goes to
// the held-out part when floor((i + 1) h) > floor(i h), so a fraction h of every class
// (spread evenly over its names) is held out and the split never changes.
struct ImageFolderSplit {
    ImageFolder train, test;
};
ImageFolderSplit splitImageFolder(const ImageFolder& all, double heldOut);

// n examples spread evenly over the set (all when n == 0 or n >= size), for --limit:
// a tree is in class order, so its first n would leave classes out.
ImageFolder evenlySpaced(const ImageFolder& all, std::size_t n);
// The indices of that choice among `size` items: i * size / n for i < n (all when n == 0
// or n >= size).
std::vector<std::size_t> evenlySpacedIndices(std::size_t size, std::size_t n);

}  // namespace attnviz::io
