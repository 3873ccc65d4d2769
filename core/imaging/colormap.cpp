#include "core/imaging/colormap.h"

#include <opencv2/imgproc.hpp>

#include <array>
#include <stdexcept>
#include <utility>

namespace attnviz::imaging {
namespace {

const std::array<std::pair<Colormap, const char*>, 7> kNames{{{Colormap::Viridis, "viridis"},
                                                              {Colormap::Inferno, "inferno"},
                                                              {Colormap::Magma, "magma"},
                                                              {Colormap::Plasma, "plasma"},
                                                              {Colormap::Turbo, "turbo"},
                                                              {Colormap::Jet, "jet"},
                                                              {Colormap::Gray, "gray"}}};

int openCvColormap(Colormap colormap)
{
    switch (colormap) {
    case Colormap::Viridis: return cv::COLORMAP_VIRIDIS;
    case Colormap::Inferno: return cv::COLORMAP_INFERNO;
    case Colormap::Magma: return cv::COLORMAP_MAGMA;
    case Colormap::Plasma: return cv::COLORMAP_PLASMA;
    case Colormap::Turbo: return cv::COLORMAP_TURBO;
    case Colormap::Jet: return cv::COLORMAP_JET;
    case Colormap::Gray: break;
    }
    return -1;
}

}  // namespace

Colormap colormapFromName(const std::string& name)
{
    for (const auto& [colormap, known] : kNames)
        if (name == known)
            return colormap;
    throw std::invalid_argument("unknown colormap '" + name + "' (viridis, inferno, magma, plasma, turbo, jet, gray)");
}

std::string colormapName(Colormap colormap)
{
    for (const auto& [known, name] : kNames)
        if (known == colormap)
            return name;
    return "viridis";
}

cv::Mat applyColormap(const cv::Mat& unit, Colormap colormap)
{
    CV_Assert(unit.type() == CV_32FC1);
    cv::Mat bytes;
    // Clamp to [0, 1], then 0..255 with rounding (convertTo saturates and rounds).
    cv::Mat clamped = cv::min(cv::max(unit, 0.0), 1.0);
    clamped.convertTo(bytes, CV_8U, 255.0);
    cv::Mat rgb;
    if (colormap == Colormap::Gray) {
        cv::cvtColor(bytes, rgb, cv::COLOR_GRAY2RGB);
        return rgb;
    }
    cv::Mat bgr;
    cv::applyColorMap(bytes, bgr, openCvColormap(colormap));  // OpenCV colours are BGR
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    return rgb;
}

}  // namespace attnviz::imaging
