#pragma once

// A view method's own settings, beyond what every view shares (layer, heads, class, query):
// how integrated gradients walks its path, how SmoothGrad adds noise, what occlusion
// covers. Each setting is described once, here; which ones a method takes is a column of
// its method-table row (methodlist.h). The CLI's options (`--steps 64`), the export's, the
// window's boxes and the view cache's key are all made from these two tables.

#include <array>
#include <cstddef>
#include <string>
#include <vector>

namespace attnviz::engine {

enum class MethodSetting { Steps, Baseline, Samples, Noise, Window, Stride };
inline constexpr std::size_t kMethodSettingCount = 6;

// A set of settings, one bit each (MethodSetting's value).
using SettingMask = unsigned;
constexpr SettingMask settingBit(MethodSetting setting)
{
    return 1u << unsigned(setting);
}

// The sets the method table's rows name (its `settings` column).
namespace setting_sets {
inline constexpr SettingMask None = 0;
inline constexpr SettingMask Path = settingBit(MethodSetting::Steps) | settingBit(MethodSetting::Baseline);
inline constexpr SettingMask Noise = settingBit(MethodSetting::Samples) | settingBit(MethodSetting::Noise);
inline constexpr SettingMask Occlusion = settingBit(MethodSetting::Window) | settingBit(MethodSetting::Stride);
}  // namespace setting_sets

struct SettingInfo {
    MethodSetting setting;
    const char* name;     // the option without its dashes, and the window's label: "steps"
    const char* meaning;  // one line for --help and the window's tooltip
    double fallback;      // the default
    double minimum, maximum;
    bool integral;
    std::vector<const char*> choices;    // when not empty, the value is an index into these names
    const char* minimumMeans = nullptr;  // what the minimum stands for, when it is a default: "auto"
};

// Every setting, in MethodSetting's order.
const std::vector<SettingInfo>& settingTable();
const SettingInfo& settingInfo(MethodSetting setting);

// One value per setting, each its default until set.
class MethodSettings {
public:
    MethodSettings();

    double value(MethodSetting setting) const { return m_values[std::size_t(setting)]; }
    int count(MethodSetting setting) const { return int(value(setting)); }  // an integral or a choice
    bool isDefault(MethodSetting setting) const { return value(setting) == settingInfo(setting).fallback; }
    // Throws EngineError, one line naming the setting and its range, for a value outside it.
    void set(MethodSetting setting, double value);
    // A number, or one of the choices' names ("blur"). Throws EngineError.
    void setFromText(MethodSetting setting, const std::string& text);
    std::string text(MethodSetting setting) const;  // "64", "0.15", "blur"

    bool operator==(const MethodSettings& other) const { return m_values == other.m_values; }
    bool operator!=(const MethodSettings& other) const { return !(*this == other); }

private:
    std::array<double, kMethodSettingCount> m_values{};
};

}  // namespace attnviz::engine
