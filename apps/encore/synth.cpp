// encore synth: write a Last.fm-360K-shaped synthetic play log with planted genre structure.
#include <memory>

#include <fmt/format.h>

#include "commands.hpp"
#include "common.hpp"
#include "encore/data/synth.hpp"
#include "encore/util/progress.hpp"

namespace encore::cli {

Command add_synth(CLI::App& app) {
    auto* cmd = app.add_subcommand("synth", "Write a synthetic Last.fm-360K-shaped TSV with planted taste structure");
    auto o = std::make_shared<SynthOptions>();
    auto out = std::make_shared<std::string>();
    auto quiet = std::make_shared<bool>(false);
    cmd->add_option("--users", o->users, "Users")->type_name("INT")->capture_default_str()->check(CLI::Range(1LL, 1000000000LL));
    cmd->add_option("--items", o->items, "Items (artists)")->type_name("INT")->capture_default_str()->check(CLI::Range(1LL, 1000000000LL));
    cmd->add_option("--genres", o->genres, "Planted genres")->type_name("INT")->capture_default_str()->check(CLI::Range(1, 100000));
    cmd->add_option("--max-items-per-user", o->max_items_per_user, "Items per user (most users hit this cap)")->type_name("INT")
        ->capture_default_str()->check(CLI::Range(1, 100000));
    cmd->add_option("--seed", o->seed, "Random seed")->type_name("INT")->capture_default_str();
    cmd->add_option("-o,--output", *out, "Output TSV")->type_name("FILE")->required();
    add_threads(cmd, o->threads);
    add_quiet(cmd, *quiet);
    return {cmd, [o, out, quiet] {
                o->reporter = stderr_reporter(*quiet);
                auto r = write_synth(*out, *o);
                info(*quiet, fmt::format("wrote {} rows ({:.1f} MB) to {} in {:.2f} s ({:.1f}M rows/s)", r.rows,
                                        r.bytes / 1e6, *out, r.seconds, r.seconds > 0 ? r.rows / r.seconds / 1e6 : 0.0));
                return 0;
            }};
}

}  // namespace encore::cli
