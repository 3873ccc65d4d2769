#include "app/cli/arguments.h"
#include "app/cli/commands.h"

#include "core/engine/methods/methodtable.h"

#include <nlohmann/json.hpp>

#include <iostream>
#include <sstream>

namespace attnviz::cli {
namespace {

using engine::MethodInfo;

std::string familiesName(const MethodInfo& m)
{
    switch (m.families) {
    case engine::MethodFamilies::ViT: return "ViT";
    case engine::MethodFamilies::CNN: return "CNN";
    case engine::MethodFamilies::Both: break;
    }
    return "ViT, CNN";
}

std::string headsName(const MethodInfo& m)
{
    switch (m.heads) {
    case engine::MethodHeads::Choose: return "one, all, mean, max or min";
    case engine::MethodHeads::Fuse: return "fused: mean, max or min";
    case engine::MethodHeads::None: break;
    }
    return "none";
}

std::string layerName(const MethodInfo& m)
{
    switch (m.layer) {
    case engine::MethodLayer::RolloutStart: return "first block rolled out (default 0)";
    case engine::MethodLayer::SumFrom: return "first block summed (default: the last two)";
    case engine::MethodLayer::Unit: return "the CNN layer of the unit (--query ROW,COL)";
    case engine::MethodLayer::Input: return "none: the map is over the input";
    case engine::MethodLayer::Pick: break;
    }
    switch (m.families) {
    case engine::MethodFamilies::ViT: return "a block (default the last; all)";
    case engine::MethodFamilies::CNN: return "a layer (default the last; all)";
    case engine::MethodFamilies::Both: break;
    }
    return "a block or CNN layer (default the last; all)";
}

nlohmann::ordered_json methodJson(const MethodInfo& m)
{
    nlohmann::ordered_json j;
    j["name"] = m.name;
    j["citation"] = m.citation;
    j["families"] = familiesName(m);
    j["needs_model"] = m.needsModel();
    j["many_passes"] = m.runsManyPasses();
    j["explains_class"] = m.explainsClass();
    j["heads"] = headsName(m);
    j["layer"] = layerName(m);
    j["query"] = m.query;
    j["cam_input"] = m.camInput;
    j["settings"] = nlohmann::ordered_json::array();
    for (const auto& s : engine::settingTable())
        if (m.takes(s.setting))
            j["settings"].push_back({{"option", std::string("--") + s.name},
                                     {"default", engine::MethodSettings().text(s.setting)},
                                     {"meaning", s.meaning}});
    return j;
}

const char* derivedFrom(const MethodInfo& m)
{
    switch (m.source) {
    case engine::MethodSource::Trace: return "the cached trace";
    case engine::MethodSource::Pass: return "a pass of its own";
    case engine::MethodSource::Passes: break;
    }
    return "many passes of its own";
}

// "`--steps` (50), `--baseline` (black)", or "-".
std::string ownOptions(const MethodInfo& m)
{
    std::string out;
    for (const auto& s : engine::settingTable())
        if (m.takes(s.setting))
            out += (out.empty() ? "`--" : ", `--") + std::string(s.name) + "` ("
                   + engine::MethodSettings().text(s.setting) + ")";
    return out.empty() ? "-" : out;
}

// docs/methods.md's list of methods, one table row each.
std::string markdownTable()
{
    std::ostringstream out;
    out << "| method | defined by | models | derived from | `--layer` | heads | `--class` | its own options |\n"
        << "|---|---|---|---|---|---|---|---|\n";
    for (const auto& m : engine::methodTable())
        out << "| `" << m.name << "` | " << m.citation << " | " << familiesName(m) << " | " << derivedFrom(m) << " | "
            << layerName(m) << " | " << headsName(m) << " | " << (m.explainsClass() ? "yes" : "no") << " | "
            << ownOptions(m) << " |\n";
    return out.str();
}

}  // namespace

std::string methodUsage()
{
    std::string usage = "METHOD (attnviz-cli methods says what each takes):\n";
    for (const auto families :
         {engine::MethodFamilies::ViT, engine::MethodFamilies::Both, engine::MethodFamilies::CNN}) {
        std::string names;
        std::string group;
        for (const auto& m : engine::methodTable())
            if (m.families == families) {
                names += (names.empty() ? "" : ", ") + std::string(m.name);
                group = familiesName(m);
            }
        if (!names.empty())
            usage.append("  ").append(group).append(": ").append(names).append("\n");
    }
    usage += "a METHOD's own options (analyze, export):\n";
    for (const auto& s : engine::settingTable())
        usage.append("  --")
            .append(s.name)
            .append(" (")
            .append(engine::methodsTaking(s.setting))
            .append("): ")
            .append(s.meaning)
            .append("; default ")
            .append(engine::MethodSettings().text(s.setting))
            .append("\n");
    return usage;
}

int runMethods(const std::vector<std::string>& words)
{
    const Arguments args(words, {}, {"markdown"});
    if (!args.positional().empty())
        throw UsageError("methods takes no MODEL");
    if (args.flag("markdown")) {
        std::cout << markdownTable();
        return 0;
    }
    auto all = nlohmann::ordered_json::array();
    for (const auto& m : engine::methodTable())
        all.push_back(methodJson(m));
    std::cout << all.dump(2) << "\n";
    return 0;
}

}  // namespace attnviz::cli
