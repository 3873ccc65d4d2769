#pragma once

// The method settings (engine::MethodSetting: --steps, --baseline, --samples, --noise,
// --window, --stride) as options of the commands that compute views, from the settings table.

#include "app/cli/arguments.h"

#include "core/engine/methods/methodlist.h"
#include "core/engine/methods/methodsettings.h"

#include <nlohmann/json.hpp>

#include <set>
#include <string>

namespace attnviz::cli {

// `options` and every setting's name.
std::set<std::string> withMethodSettings(std::set<std::string> options);
// The settings given on the command line, the others at their defaults. Throws UsageError
// naming the option for a value out of its range.
engine::MethodSettings methodSettings(const Arguments& args);
// The settings given, "--steps, --noise" (empty when none).
std::string givenMethodSettings(const Arguments& args);
// {"steps": 50, "baseline": "black"}: the settings `method` takes, for the JSON records;
// null when it takes none.
nlohmann::ordered_json settingsJson(engine::ViewMethod method, const engine::MethodSettings& settings);

}  // namespace attnviz::cli
