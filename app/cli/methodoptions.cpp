#include "app/cli/methodoptions.h"

#include "core/engine/engineerror.h"
#include "core/engine/methods/methodtable.h"

namespace attnviz::cli {

std::set<std::string> withMethodSettings(std::set<std::string> options)
{
    for (const auto& info : engine::settingTable())
        options.insert(info.name);
    return options;
}

engine::MethodSettings methodSettings(const Arguments& args)
{
    engine::MethodSettings settings;
    for (const auto& info : engine::settingTable())
        if (const auto text = args.value(info.name)) {
            try {
                settings.setFromText(info.setting, *text);
            } catch (const engine::EngineError& e) {
                throw UsageError(std::string("--") + e.what());
            }
        }
    return settings;
}

std::string givenMethodSettings(const Arguments& args)
{
    std::string given;
    for (const auto& info : engine::settingTable())
        if (args.value(info.name))
            given += (given.empty() ? "--" : ", --") + std::string(info.name);
    return given;
}

nlohmann::ordered_json settingsJson(engine::ViewMethod method, const engine::MethodSettings& settings)
{
    const auto& info = engine::methodInfo(method);
    nlohmann::ordered_json j;
    for (const auto& setting : engine::settingTable())
        if (info.takes(setting.setting)) {
            if (!setting.choices.empty())
                j[setting.name] = settings.text(setting.setting);
            else if (setting.integral)
                j[setting.name] = settings.count(setting.setting);
            else
                j[setting.name] = settings.value(setting.setting);
        }
    return j;
}

}  // namespace attnviz::cli
