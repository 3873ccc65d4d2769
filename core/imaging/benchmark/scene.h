#pragma once

#include <opencv2/core.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace attnviz::imaging::benchmark {

// The colour-shapes benchmark: one object per scene whose *shape* is the class, at a
// random position, scale, rotation and colour, among distractors of the same colours and
// sizes that are no class, on a textured, cluttered background (after SMERF, Kim et al.
// 2021: the class is decided by a known set of pixels, so a map can be scored against it).
//
// 64 x 64 px: a ViT with 8-px patches sees an 8 x 8 grid and a stride-8 CNN an 8 x 8
// feature map, so a map has cells to be right or wrong in, while a model still trains on
// two CPU cores in an hour. An object spans 16-28 px, two to four patches across.
constexpr int kSceneSize = 64;

// The classes, in label order (also the folder names, sorted as ImageFolder numbers them).
const std::vector<std::string>& classNames();

// What was drawn where, for the index: boxes are [x, y, w, h] in pixels (the bounding
// box of the drawn pixels), colours RGB.
struct DrawnShape {
    std::string kind;  // a class name, or a distractor kind ("blob", "scribble")
    std::array<int, 4> box{};
    std::array<int, 3> colour{};
    double centreX = 0, centreY = 0;  // the shape's centre, in pixels
    double radius = 0;                // half its size, in pixels
    double rotationDegrees = 0;
};

struct Scene {
    cv::Mat image;  // CV_8UC3 RGB, kSceneSize x kSceneSize
    cv::Mat mask;   // CV_8UC1: 255 on the object's pixels (the pixels that decide the class), else 0
    int label = 0;  // index into classNames()
    DrawnShape object;
    std::vector<DrawnShape> distractors;
    std::array<int, 3> backgroundFrom{}, backgroundTo{};  // the gradient's two colours
};

// For tests: the same object (class, place, colour) without the rest of the scene.
struct SceneOptions {
    bool plain = false;  // a flat background of `plainColour`, no texture, clutter or distractors
    std::array<int, 3> plainColour{0, 0, 0};
    // The scene's own gradient only: no hatching, noise, clutter or distractors. The
    // first stage of a curriculum, where a model learns the shapes before the clutter.
    bool easy = false;
};

// Scene `index` of split `split` (0 train, 1 test) of the benchmark with `seed`: its
// class is index % classes, everything else follows from (seed, split, index) alone, so
// a scene never depends on how many were asked for. Integer drawing and a random
// generator whose output the C++ standard fixes (mt19937_64, with our own conversions to
// ranges) make the pixels the same on any machine.
Scene makeScene(std::uint64_t seed, int split, std::uint64_t index, const SceneOptions& options = {});

}  // namespace attnviz::imaging::benchmark
