// encore command line: thin glue over the library. Each subcommand lives in its own file and
// registers itself through commands.hpp; errors become one line on stderr and a non-zero exit.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "commands.hpp"
#include "encore/data/string_table.hpp"
#include "encore/util/error.hpp"

namespace {

// Every option name of a command ("--factors", "-n"), option groups included.
void option_names(CLI::App* app, std::vector<std::string>& out) {
    for (const CLI::Option* o : app->get_options()) {
        for (const auto& l : o->get_lnames()) out.push_back("--" + l);
        for (const auto& s : o->get_snames()) out.push_back("-" + s);
    }
    for (CLI::App* sub : app->get_subcommands([](CLI::App* s) { return dynamic_cast<CLI::Option_group*>(s) != nullptr; }))
        option_names(sub, out);
}

std::string closest_of(const std::vector<std::string>& names, const std::string& wrong) {
    auto table = encore::StringTable::build(names);
    std::vector<std::string> picks;
    for (auto i : table.closest(wrong, 3)) picks.push_back("'" + std::string(table[i]) + "'");
    return picks.empty() ? std::string() : fmt::format("{}", fmt::join(picks, " or "));
}

// "did you mean" lines for a mistyped subcommand or option (after CLI11's own message).
void suggest(CLI::App& app, int argc, char** argv) {
    CLI::App* selected = nullptr;
    for (CLI::App* sub : app.get_subcommands([](CLI::App* s) { return dynamic_cast<CLI::Option_group*>(s) == nullptr; }))
        if (sub->parsed()) selected = sub;
    if (!selected) {
        std::vector<std::string> commands;
        for (CLI::App* sub : app.get_subcommands([](CLI::App* s) { return dynamic_cast<CLI::Option_group*>(s) == nullptr; }))
            commands.push_back(sub->get_name());
        for (int i = 1; i < argc; ++i) {
            std::string word = argv[i];
            if (word.empty() || word[0] == '-') continue;
            auto picks = closest_of(commands, word);
            if (!picks.empty()) std::fprintf(stderr, "encore: unknown command '%s'; did you mean %s?\n", word.c_str(), picks.c_str());
            return;
        }
        return;
    }
    std::vector<std::string> names;
    option_names(selected, names);
    bool after_command = false;
    for (int i = 1; i < argc; ++i) {
        std::string word = argv[i];
        if (!after_command) {
            after_command = word == selected->get_name();
            continue;
        }
        if (word == "--") break;
        if (word.size() < 2 || word[0] != '-' || (word[1] >= '0' && word[1] <= '9') || word[1] == '.') continue;
        word = word.substr(0, word.find('='));
        if (std::find(names.begin(), names.end(), word) != names.end()) continue;
        if (word[1] != '-' && word.size() > 2 &&
            std::find(names.begin(), names.end(), word.substr(0, 2)) != names.end())
            continue;  // -n10: a short option with its value
        auto picks = closest_of(names, word);
        if (!picks.empty())
            std::fprintf(stderr, "encore %s: unknown option '%s'; did you mean %s?\n", selected->get_name().c_str(),
                         word.c_str(), picks.c_str());
    }
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"encore: recommendations from implicit feedback (play logs -> ALS -> related items)"};
    app.set_version_flag("--version", std::string("encore ") + ENCORE_VERSION);
    app.require_subcommand(1);
    encore::cli::register_all(app);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int status = app.exit(e);
        if (status != 0) suggest(app, argc, argv);
        return status;
    }
    try {
        return encore::cli::run_selected(app);
    } catch (const encore::Error& e) {
        std::fprintf(stderr, "encore: error: %s\n", e.what());
        return 1;
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "encore: error: out of memory\n");
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "encore: error: %s\n", e.what());
        return 1;
    }
}
