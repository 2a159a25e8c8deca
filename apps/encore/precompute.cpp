// encore precompute: the serving store (encore/serve/store.hpp) from models, an optional ensemble
// file and indexes. Parses and prints; the library computes, writes and resumes.
#include <memory>

#include <fmt/format.h>

#include "commands.hpp"
#include "common.hpp"
#include "encore/serve/store.hpp"
#include "encore/util/error.hpp"

namespace encore::cli {

namespace {
struct Args {
    PrecomputeOptions o;
    std::string output;
    bool no_verify = false, quiet = false, json = false;
};
}  // namespace

Command add_precompute(CLI::App& app) {
    auto* cmd = app.add_subcommand(
        "precompute", "Write the serving store (SQLite): related items, radio neighbours, recommendations");
    auto a = std::make_shared<Args>();
    cmd->add_option("models", a->o.models, "Model files (.encm); several: their ensemble is stored too")
        ->type_name("FILE")
        ->required();
    cmd->add_option("-o,--output", a->output, "Store to write (.db); an unfinished run of it resumes")
        ->type_name("FILE")
        ->required();
    cmd->add_option("--ensemble", a->o.ensemble, "Ensemble weights (.ence from encore ensemble)")->type_name("FILE");
    cmd->add_option("--index", a->o.indexes, "Index files (.enci), each matched to the model it was built from")
        ->type_name("FILE");
    cmd->add_option("--related", a->o.related, "Related items per item and model")->capture_default_str();
    cmd->add_option("--radio", a->o.radio, "Radio neighbours per item (0 = none)")->capture_default_str();
    cmd->add_option("--recommendations", a->o.recommendations, "Recommendations per user (0 = none)")
        ->capture_default_str();
    cmd->add_option("--because", a->o.because, "Played items explaining each recommendation")->capture_default_str();
    cmd->add_option("--candidates", a->o.candidates, "Ensemble without --ensemble: each model's top-N candidates")
        ->capture_default_str();
    cmd->add_option("--ef", a->o.search, "Index query effort (graph ef / forest search-k; raised to the list length)");
    cmd->add_option("--slice", a->o.slice, "Items / users per transaction (0 = 2048)")->capture_default_str();
    cmd->add_flag("--restart", a->o.restart, "Discard an unfinished store of other inputs or options");
    cmd->add_flag("--no-verify", a->no_verify, "Skip checksum verification when opening the models");
    cmd->add_flag("--json", a->json, "Print the report as JSON on standard output");
    add_threads(cmd, a->o.threads);
    add_quiet(cmd, a->quiet);
    return {cmd, [a] {
                a->o.verify = !a->no_verify;
                const auto r = precompute(a->o, a->output, stderr_reporter(a->quiet));
                if (a->json)
                    fmt::print("{}\n", r.to_json().dump());
                else
                    info(a->quiet, r.summary());
                return 0;
            }};
}

}  // namespace encore::cli
