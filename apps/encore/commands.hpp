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

// related/recommend: --index FILE, with --search-k (forest) or --ef (graph) as the query effort;
// open_index_for returns null without --index (index.cpp).
void add_index_options(CLI::App* cmd, std::string& index, int& search);
std::unique_ptr<AnnIndex> open_index_for(CLI::App* cmd, const std::string& path);

}  // namespace encore::cli
