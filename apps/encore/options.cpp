// encore options: the option registry (encore/options/registry.hpp) as a table or as JSON, for a kind
// or for all of them. The same table the CLI builds its flags from and the server and bindings use.
#include <iostream>
#include <memory>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "commands.hpp"
#include "common.hpp"
#include "encore/options/registry.hpp"
#include "encore/util/error.hpp"

namespace encore::cli {

namespace {
struct Args {
    std::string kind;
    bool json = false;
};

const OptionSpec& spec_of(const nlohmann::json& o) {
    for (const auto& s : option_registry())
        if (s.name == o["name"] && option_group_name(s.group) == o["group"].get<std::string>()) return s;
    throw Error(fmt::format("option '{}' is not in the registry", o["name"].get<std::string>()));
}

// One block per group: "name  type  range  default  kinds" on a line, the help under it.
void print_table(const nlohmann::json& j) {
    std::string group;
    for (const auto& o : j["options"]) {
        if (o["group"] != group) {
            group = o["group"].get<std::string>();
            std::cout << (group == "weighting" ? "" : "\n") << group << " options\n";
        }
        const auto& spec = spec_of(o);
        const std::string kind = j["kind"].is_null() ? "" : j["kind"].get<std::string>();
        std::string def = option_default_text(spec, kind);
        std::string kinds = spec.kinds.empty() ? "" : fmt::format("{}", fmt::join(spec.kinds, ","));
        std::cout << fmt::format("  {:<18} {:<7} {:<24} default {}{}\n", spec.name, option_type_name(spec.type),
                                 option_range_text(spec, kind), def.empty() ? "-" : def,
                                 kind.empty() && !kinds.empty() ? fmt::format("  [{}]", kinds) : "");
        std::cout << fmt::format("  {:<18} {}\n", "", spec.help);
    }
}
}  // namespace

Command add_options(CLI::App& app) {
    auto* cmd = app.add_subcommand("options", "List every training, weighting, index and query option");
    auto a = std::make_shared<Args>();
    cmd->add_option("--kind", a->kind, "Only the options of a model kind (als, bpr, ...) or an index kind (forest, graph), with its defaults");
    cmd->add_flag("--json", a->json, "The registry as JSON (name, group, type, help, kinds, range, choices, defaults)");
    return {cmd, [a] {
                auto j = options_json(a->kind.empty() ? std::nullopt : std::optional<std::string_view>(a->kind));
                if (a->json)
                    std::cout << j.dump(2) << "\n";
                else
                    print_table(j);
                return 0;
            }};
}

}  // namespace encore::cli
