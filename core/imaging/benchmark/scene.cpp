#include "core/imaging/benchmark/scene.h"

#include <opencv2/imgproc.hpp>

#include <cmath>
#include <random>

namespace attnviz::imaging::benchmark {
namespace {

// Sizes in pixels of the 64-px scene.
constexpr double kMinRadius = 8.0;  // an object or distractor spans 2 r: 16-28 px
constexpr double kMaxRadius = 14.0;
constexpr double kMinColourDistance = 110.0;  // object and distractors against the background (RGB)
constexpr int kFixedPointShift = 4;           // polygon vertices in 1/16 px
constexpr double kFixedPointScale = 1 << kFixedPointShift;

// mt19937_64's output is fixed by the standard; the standard's distributions are not
// (each library maps to a range its own way), so the conversions are ours.
class SceneRandom {
public:
    explicit SceneRandom(std::uint64_t seed)
        : m_engine(seed)
    {
    }
    double unit() { return double(m_engine() >> 11) * 0x1.0p-53; }  // [0, 1)
    double uniform(double low, double high) { return low + (high - low) * unit(); }
    int between(int low, int high) { return low + int(m_engine() % std::uint64_t(high - low + 1)); }  // inclusive
    std::uint64_t next() { return m_engine(); }

private:
    std::mt19937_64 m_engine;
};

std::uint64_t splitMix(std::uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

using Polygon = std::vector<cv::Point2d>;  // unit coordinates: the shape fits the unit disc

// A shape is polygons filled in order, each adding to or cutting from what is there.
struct Piece {
    Polygon polygon;
    bool adds = true;
};
using Outline = std::vector<Piece>;

Polygon regularPolygon(int corners, double radius, double firstAngle, cv::Point2d centre = {})
{
    Polygon p;
    for (int i = 0; i < corners; ++i) {
        const double a = firstAngle + 2.0 * M_PI * i / corners;
        p.push_back({centre.x + radius * std::cos(a), centre.y + radius * std::sin(a)});
    }
    return p;
}

Polygon circle(double radius, cv::Point2d centre = {})
{
    return regularPolygon(48, radius, 0.0, centre);
}

Polygon rectangle(double x0, double y0, double x1, double y1)
{
    return {{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}};
}

Polygon star()
{
    Polygon p;
    for (int i = 0; i < 10; ++i) {
        const double a = -M_PI / 2 + M_PI * i / 5;
        const double r = i % 2 == 0 ? 1.0 : 0.42;
        p.push_back({r * std::cos(a), r * std::sin(a)});
    }
    return p;
}

Polygon plus(double halfWidth)
{
    const double w = halfWidth;
    return {{-w, -1}, {w, -1}, {w, -w}, {1, -w}, {1, w}, {w, w}, {w, 1}, {-w, 1}, {-w, w}, {-1, w}, {-1, -w}, {-w, -w}};
}

// A class's outline. Each is told apart by its shape alone: solids (disc, square,
// triangle, cross, star, ell), shapes with a hole or a notch (ring, crescent) and
// textures (stripes, checker).
Outline classOutline(const std::string& name)
{
    if (name == "disc")
        return {{circle(1.0)}};
    if (name == "square")
        return {{regularPolygon(4, 1.0, M_PI / 4)}};
    if (name == "triangle")
        return {{regularPolygon(3, 1.0, -M_PI / 2)}};
    if (name == "cross")
        return {{plus(0.3)}};
    if (name == "ring")
        return {{circle(1.0)}, {circle(0.55), false}};
    if (name == "star")
        return {{star()}};
    if (name == "crescent")
        return {{circle(1.0)}, {circle(0.82, {0.42, 0.0}), false}};
    if (name == "ell")
        return {{{{-0.9, -1.0}, {-0.3, -1.0}, {-0.3, 0.4}, {0.9, 0.4}, {0.9, 1.0}, {-0.9, 1.0}}}};
    if (name == "stripes")  // three parallel bars
        return {{rectangle(-0.75, -0.75, 0.75, -0.45)},
                {rectangle(-0.75, -0.15, 0.75, 0.15)},
                {rectangle(-0.75, 0.45, 0.75, 0.75)}};
    // checker: the five cells of a 3 x 3 board where row + column is even
    Outline cells;
    const double cell = 1.6 / 3;
    for (int r = 0; r < 3; ++r)
        for (int c = 0; c < 3; ++c)
            if ((r + c) % 2 == 0)
                cells.push_back(
                    {rectangle(-0.8 + c * cell, -0.8 + r * cell, -0.8 + (c + 1) * cell, -0.8 + (r + 1) * cell)});
    return cells;
}

// Placement and look of one shape, drawn from the scene's generator.
struct ShapePlan {
    int label = -1;  // a class, or -1 for a distractor
    bool scribble = false;
    Polygon points;  // distractors: the blob's corners or the scribble's path (unit coordinates)
    int thickness = 0;
    cv::Point2d centre;
    double radius = 0;
    double rotation = 0;  // radians
    cv::Vec3b colour;
};

struct Line {
    cv::Point from, to;
    cv::Vec3b colour;
};

struct ScenePlan {
    cv::Vec3b from, to;  // the background gradient
    int gradientAxis = 0;
    int hatchAxis = 0, hatchPeriod = 4, hatchAmplitude = 0;
    std::uint64_t noiseSeed = 0;
    std::vector<Line> clutter;
    std::vector<ShapePlan> distractors;
    ShapePlan object;
};

// Where along the gradient pixel (x, y) lies, in [0, 1]: along x, y, or a diagonal.
double gradientPosition(int axis, double x, double y)
{
    const double n = kSceneSize - 1;
    switch (axis) {
    case 0: return x / n;
    case 1: return y / n;
    case 2: return (x + y) / (2 * n);
    default: return (x + n - y) / (2 * n);
    }
}

cv::Vec3d backgroundAt(const ScenePlan& plan, double x, double y)
{
    const double t = gradientPosition(plan.gradientAxis, x, y);
    return cv::Vec3d(plan.from) * (1 - t) + cv::Vec3d(plan.to) * t;
}

cv::Vec3b randomColour(SceneRandom& random)
{
    return {std::uint8_t(random.between(0, 255)), std::uint8_t(random.between(0, 255)),
            std::uint8_t(random.between(0, 255))};
}

// A colour that stands out from the background under `centre`; objects and distractors
// draw theirs the same way, so colour says nothing about the class.
cv::Vec3b contrastingColour(SceneRandom& random, const ScenePlan& plan, cv::Point2d centre)
{
    const auto under = backgroundAt(plan, centre.x, centre.y);
    cv::Vec3b colour;
    for (int tries = 0; tries < 100; ++tries) {
        colour = randomColour(random);
        if (cv::norm(cv::Vec3d(colour) - under) >= kMinColourDistance)
            break;
    }
    return colour;
}

ShapePlan placedShape(SceneRandom& random)
{
    ShapePlan s;
    s.radius = random.uniform(kMinRadius, kMaxRadius);
    s.centre = {random.uniform(s.radius + 1, kSceneSize - 2 - s.radius),
                random.uniform(s.radius + 1, kSceneSize - 2 - s.radius)};
    s.rotation = random.uniform(0.0, 2 * M_PI);
    return s;
}

// A distractor: a lumpy blob or a thick open scribble, neither any class's shape,
// kept off the object (their discs, 2 px apart) so that the mask stays whole.
bool planDistractor(SceneRandom& random, const ScenePlan& plan, ShapePlan& out)
{
    for (int tries = 0; tries < 100; ++tries) {
        auto s = placedShape(random);
        if (cv::norm(s.centre - plan.object.centre) < s.radius + plan.object.radius + 2)
            continue;
        s.scribble = random.between(0, 1) == 1;
        if (s.scribble) {
            s.thickness = random.between(2, 3);
            for (int i = 0; i < 4; ++i) {
                const double a = random.uniform(0, 2 * M_PI), r = i == 0 ? 1.0 : random.uniform(0.2, 1.0);
                s.points.push_back({r * std::cos(a), r * std::sin(a)});
            }
        } else {
            for (int i = 0; i < 9; ++i) {
                const double a = 2 * M_PI * i / 9 + random.uniform(-0.17, 0.17), r = random.uniform(0.4, 1.0);
                s.points.push_back({r * std::cos(a), r * std::sin(a)});
            }
        }
        s.colour = contrastingColour(random, plan, s.centre);
        out = s;
        return true;
    }
    return false;
}

ScenePlan planScene(std::uint64_t seed, int split, std::uint64_t index)
{
    SceneRandom random(splitMix(seed ^ splitMix((std::uint64_t(split) << 48) ^ index)));
    ScenePlan plan;
    for (auto* c : {&plan.from, &plan.to})
        for (int k = 0; k < 3; ++k)
            (*c)[k] = std::uint8_t(random.between(30, 220));
    plan.gradientAxis = random.between(0, 3);
    plan.hatchAxis = random.between(0, 3);
    plan.hatchPeriod = random.between(3, 7);
    plan.hatchAmplitude = random.between(8, 24);
    plan.noiseSeed = random.next();
    const int lines = random.between(4, 8);
    for (int i = 0; i < lines; ++i)
        plan.clutter.push_back({{random.between(0, kSceneSize - 1), random.between(0, kSceneSize - 1)},
                                {random.between(0, kSceneSize - 1), random.between(0, kSceneSize - 1)},
                                randomColour(random)});
    plan.object = placedShape(random);
    plan.object.label = int(index % classNames().size());
    plan.object.colour = contrastingColour(random, plan, plan.object.centre);
    const int distractors = random.between(2, 3);
    for (int i = 0; i < distractors; ++i)
        if (ShapePlan d; planDistractor(random, plan, d))
            plan.distractors.push_back(d);
    return plan;
}

// Unit coordinates to 1/16-px fixed point: rotated, scaled by the radius, moved to the centre.
std::vector<cv::Point> placed(const Polygon& polygon, const ShapePlan& s)
{
    const double c = std::cos(s.rotation), n = std::sin(s.rotation);
    std::vector<cv::Point> out;
    for (const auto& p : polygon) {
        const double x = s.centre.x + s.radius * (c * p.x - n * p.y);
        const double y = s.centre.y + s.radius * (n * p.x + c * p.y);
        out.emplace_back(int(std::lround(x * kFixedPointScale)), int(std::lround(y * kFixedPointScale)));
    }
    return out;
}

// The shape's pixels: CV_8UC1, 255 where it is drawn. No anti-aliasing, so the mask is
// exactly the pixels that change.
cv::Mat rasterise(const ShapePlan& s)
{
    cv::Mat mask = cv::Mat::zeros(kSceneSize, kSceneSize, CV_8UC1);
    if (s.label >= 0) {
        for (const auto& piece : classOutline(classNames().at(std::size_t(s.label)))) {
            const std::vector<std::vector<cv::Point>> polygons{placed(piece.polygon, s)};
            cv::fillPoly(mask, polygons, cv::Scalar(piece.adds ? 255 : 0), cv::LINE_8, kFixedPointShift);
        }
    } else if (s.scribble) {
        const std::vector<std::vector<cv::Point>> path{placed(s.points, s)};
        cv::polylines(mask, path, false, cv::Scalar(255), s.thickness, cv::LINE_8, kFixedPointShift);
    } else {
        const std::vector<std::vector<cv::Point>> polygons{placed(s.points, s)};
        cv::fillPoly(mask, polygons, cv::Scalar(255), cv::LINE_8, kFixedPointShift);
    }
    return mask;
}

// The gradient, hatched along one axis and with per-pixel noise of +-12 when `textured`.
void paintBackground(cv::Mat& image, const ScenePlan& plan, bool textured)
{
    SceneRandom noise(plan.noiseSeed);
    for (int y = 0; y < kSceneSize; ++y)
        for (int x = 0; x < kSceneSize; ++x) {
            const int along = plan.hatchAxis == 0 ? x : plan.hatchAxis == 1 ? y : plan.hatchAxis == 2 ? x + y : x - y;
            const int hatch = ((along % plan.hatchPeriod) + plan.hatchPeriod) % plan.hatchPeriod == 0
                                  ? -plan.hatchAmplitude
                                  : 0;
            const auto base = backgroundAt(plan, x, y);
            auto& pixel = image.at<cv::Vec3b>(y, x);
            for (int k = 0; k < 3; ++k)
                pixel[k] = cv::saturate_cast<std::uint8_t>(std::lround(base[k])
                                                           + (textured ? hatch + noise.between(-12, 12) : 0));
        }
}

DrawnShape drawn(const ShapePlan& s, const cv::Mat& mask)
{
    DrawnShape d;
    d.kind = s.label >= 0 ? classNames().at(std::size_t(s.label)) : s.scribble ? "scribble" : "blob";
    const auto box = cv::boundingRect(mask);
    d.box = {box.x, box.y, box.width, box.height};
    d.colour = {s.colour[0], s.colour[1], s.colour[2]};
    d.centreX = s.centre.x;
    d.centreY = s.centre.y;
    d.radius = s.radius;
    d.rotationDegrees = s.rotation * 180.0 / M_PI;
    return d;
}

std::array<int, 3> rgb(const cv::Vec3b& c)
{
    return {c[0], c[1], c[2]};
}

}  // namespace

const std::vector<std::string>& classNames()
{
    // Sorted, as ImageFolder readers (torchvision's, ours) number the class folders.
    static const std::vector<std::string> names{"checker", "crescent", "cross", "disc",    "ell",
                                                "ring",    "square",   "star",  "stripes", "triangle"};
    return names;
}

Scene makeScene(std::uint64_t seed, int split, std::uint64_t index, const SceneOptions& options)
{
    const auto plan = planScene(seed, split, index);
    Scene scene;
    scene.label = plan.object.label;
    scene.backgroundFrom = rgb(plan.from);
    scene.backgroundTo = rgb(plan.to);
    scene.image = cv::Mat(kSceneSize, kSceneSize, CV_8UC3);
    if (options.plain) {
        const auto& c = options.plainColour;
        scene.image.setTo(cv::Scalar(c[0], c[1], c[2]));
    } else if (options.easy) {
        paintBackground(scene.image, plan, false);
    } else {
        paintBackground(scene.image, plan, true);
        for (const auto& line : plan.clutter)
            cv::line(scene.image, line.from, line.to, cv::Scalar(line.colour), 1, cv::LINE_8);
        for (const auto& d : plan.distractors) {
            const auto mask = rasterise(d);
            scene.image.setTo(cv::Scalar(d.colour), mask);
            scene.distractors.push_back(drawn(d, mask));
        }
    }
    scene.mask = rasterise(plan.object);
    scene.image.setTo(cv::Scalar(plan.object.colour), scene.mask);
    scene.object = drawn(plan.object, scene.mask);
    return scene;
}

}  // namespace attnviz::imaging::benchmark
