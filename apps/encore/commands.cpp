#include "commands.hpp"

#include "encore/util/error.hpp"

namespace encore::cli {

namespace {
std::vector<Command>& registry() {
    static std::vector<Command> commands;
    return commands;
}
}  // namespace

// The subcommands, in the order `encore --help` lists them. Each add_X lives in X.cpp.
void register_all(CLI::App& app) {
    for (auto add : {add_synth, add_ingest, add_train, add_related, add_recommend, add_similar_users, add_eval,
                     add_ensemble, add_info, add_index, add_options, add_precompute, add_serve})
        registry().push_back(add(app));
}

int run_selected(CLI::App& app) {
    for (auto& c : registry())
        if (c.app->parsed()) return c.run();
    (void)app;
    throw Error("no command given (see encore --help)");
}

}  // namespace encore::cli
