#include "core/engine/methods/methodsettings.h"

#include "core/engine/engineerror.h"

#include <cmath>
#include <sstream>

namespace attnviz::engine {
namespace {

std::string number(double value)
{
    std::ostringstream out;
    out << value;
    return out.str();
}

std::string rangeText(const SettingInfo& info)
{
    if (!info.choices.empty()) {
        std::string names;
        for (const auto* choice : info.choices)
            names += (names.empty() ? "" : ", ") + std::string(choice);
        return names;
    }
    return number(info.minimum) + " to " + number(info.maximum);
}

}  // namespace

const std::vector<SettingInfo>& settingTable()
{
    using S = MethodSetting;
    // clang-format off
    static const std::vector<SettingInfo> table{
        // setting, name, meaning,
        //   default, minimum, maximum, integral, choices, what the minimum means
        {S::Steps, "steps", "points on integrated gradients' path (Gauss-Legendre)",
         50, 1, 1024, true, {}},
        {S::Baseline, "baseline", "where integrated gradients' path starts: a black image or the input blurred",
         0, 0, 1, true, {"black", "blur"}},
        {S::Samples, "samples", "noisy copies of the input SmoothGrad averages",
         50, 1, 1024, true, {}},
        {S::Noise, "noise", "SmoothGrad's noise: its standard deviation over the input's value range",
         0.15, 0, 1, false, {}},
        {S::Window, "window", "occlusion's square patch, in input pixels (0: a fourteenth of the input side)",
         0, 0, 4096, true, {}, "auto"},
        {S::Stride, "stride", "occlusion's step between patches, in input pixels (0: half the window)",
         0, 0, 4096, true, {}, "auto"},
    };
    // clang-format on
    return table;
}

const SettingInfo& settingInfo(MethodSetting setting)
{
    return settingTable().at(std::size_t(setting));
}

MethodSettings::MethodSettings()
{
    for (const auto& info : settingTable())
        m_values[std::size_t(info.setting)] = info.fallback;
}

void MethodSettings::set(MethodSetting setting, double value)
{
    const auto& info = settingInfo(setting);
    const bool whole = !info.integral || value == std::floor(value);
    if (!std::isfinite(value) || !whole || value < info.minimum || value > info.maximum)
        throw EngineError(std::string(info.name) + " takes " + (info.integral ? "a whole number, " : "")
                          + rangeText(info) + ", not " + number(value));
    m_values[std::size_t(setting)] = value;
}

void MethodSettings::setFromText(MethodSetting setting, const std::string& text)
{
    const auto& info = settingInfo(setting);
    if (!info.choices.empty()) {
        for (std::size_t i = 0; i < info.choices.size(); ++i)
            if (text == info.choices[i])
                return set(setting, double(i));
        throw EngineError("unknown " + std::string(info.name) + " '" + text + "' (" + rangeText(info) + ")");
    }
    std::size_t used = 0;
    double value = 0;
    try {
        value = std::stod(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != text.size())
        throw EngineError(std::string(info.name) + " takes a number (" + rangeText(info) + "), not '" + text + "'");
    set(setting, value);
}

std::string MethodSettings::text(MethodSetting setting) const
{
    const auto& info = settingInfo(setting);
    if (!info.choices.empty())
        return info.choices.at(std::size_t(count(setting)));
    return number(value(setting));
}

}  // namespace attnviz::engine
