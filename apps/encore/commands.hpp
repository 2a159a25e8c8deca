#pragma once
// Subcommand registry: each apps/encore/<command>.cpp defines add_<command>(), which declares its
// options on a CLI11 subcommand and returns the function that runs it.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace encore {
class AnnIndex;
class Recommender;
}

namespace encore::cli {

struct Command {
    CLI::App* app;
    std::function<int()> run;
};

void register_all(CLI::App& app);
int run_selected(CLI::App& app);

Command add_synth(CLI::App& app);
Command add_ingest(CLI::App& app);
Command add_train(CLI::App& app);
Command add_related(CLI::App& app);
Command add_recommend(CLI::App& app);
Command add_similar_users(CLI::App& app);
Command add_eval(CLI::App& app);
Command add_info(CLI::App& app);
Command add_index(CLI::App& app);
Command add_ensemble(CLI::App& app);
Command add_options(CLI::App& app);
Command add_precompute(CLI::App& app);
Command add_serve(CLI::App& app);

// related/recommend: --index FILE, with --search-k (forest) or --ef (graph) as the query effort;
// check_search_flags refuses --search-k for a graph index and --ef for a forest (index.cpp).
void add_index_options(CLI::App* cmd, std::string& index, int& search);
void check_search_flags(CLI::App* cmd, const Recommender& rec);
// The --index given serves this command (related: a cosine index, recommend: a dot index), else the
// library's error saying which index to build.
void check_index_serves(const Recommender& rec, bool related);

}  // namespace encore::cli
