// encore index: an approximate nearest-neighbour index (.enci) over a model's item factors, for
// related --index (cosine) and recommend --index (dot).
#include <chrono>
#include <filesystem>
#include <memory>

#include <fmt/format.h>

#include "commands.hpp"
#include "common.hpp"
#include "encore/retrieval/ann.hpp"
#include "encore/util/error.hpp"
#include "encore/util/progress.hpp"

namespace encore::cli {

namespace {
struct Args {
    std::string model, output, kind = "graph", metric = "cosine";
    IndexBuildOptions build;
    bool no_verify = false, quiet = false;
};
}  // namespace

Command add_index(CLI::App& app) {
    auto* cmd = app.add_subcommand("index", "Build an approximate nearest-neighbour index over a model's items");
    auto a = std::make_shared<Args>();
    cmd->add_option("model", a->model, "Model file (.encm)")->type_name("FILE")->required();
    cmd->add_option("-o,--output", a->output, "Index file to write (.enci)")->type_name("FILE")->required();
    cmd->add_option("--kind", a->kind, "graph (HNSW-style) or forest (Annoy-style trees)")->type_name("KIND")
        ->capture_default_str()->check(CLI::IsMember({"graph", "forest"}));
    cmd->add_option("--metric", a->metric, "cosine (for related) or dot (for recommend)")->type_name("METRIC")
        ->capture_default_str()->check(CLI::IsMember({"cosine", "dot"}));
    cmd->add_option("--trees", a->build.trees, "forest: number of trees")->type_name("INT")->capture_default_str()->check(CLI::Range(1, 10000));
    cmd->add_option("--leaf-size", a->build.leaf_size, "forest: most items in a leaf")->type_name("INT")->capture_default_str()->check(CLI::Range(2, 1 << 20));
    cmd->add_option("--search-k", a->build.search_k, "forest: default query effort (candidates; default 100 x trees)")->type_name("INT")
        ->check(CLI::Range(1, 1 << 30));
    cmd->add_option("--M", a->build.M, "graph: links per node (2M on the bottom layer)")->type_name("INT")->capture_default_str()->check(CLI::Range(2, 256));
    cmd->add_option("--ef-construction", a->build.ef_construction, "graph: beam width while building")->type_name("INT")
        ->capture_default_str()->check(CLI::Range(1, 100000));
    cmd->add_option("--alpha", a->build.prune_alpha,
                    "graph: neighbour pruning (1 = HNSW's heuristic; more keeps longer links, as in Vamana)")->type_name("NUMBER")
        ->capture_default_str()->check(CLI::Range(1.0f, 2.0f));
    cmd->add_option("--ef", a->build.ef, "graph: default query beam width (default 64)")->type_name("INT")->check(CLI::Range(1, 1 << 20));
    cmd->add_option("--seed", a->build.seed, "Random seed (the index depends on it, not on --threads)")->type_name("INT")->capture_default_str();
    cmd->add_flag("--no-verify", a->no_verify, "Skip checksum verification when loading the model");
    add_threads(cmd, a->build.threads);
    add_quiet(cmd, a->quiet);
    return {cmd, [a, cmd] {
                const bool forest = a->kind == "forest";
                for (const char* opt : {"--trees", "--leaf-size", "--search-k"})
                    if (!forest && cmd->count(opt) > 0) throw OptionError(fmt::format("{} is a --kind forest option", opt));
                for (const char* opt : {"--M", "--ef-construction", "--alpha", "--ef"})
                    if (forest && cmd->count(opt) > 0) throw OptionError(fmt::format("{} is a --kind graph option", opt));
                auto model = load_model(a->model, !a->no_verify);
                a->build.kind = a->kind;
                a->build.metric = parse_metric(a->metric);
                auto start = std::chrono::steady_clock::now();
                std::unique_ptr<AnnIndex> index;
                {
                    Progress progress(fmt::format("index ({})", a->kind),
                                      forest ? a->build.trees : static_cast<double>(model.n_items()), a->quiet,
                                      forest ? "trees" : "items");
                    a->build.progress = &progress;
                    index = build_index(model.item_factors, a->build);
                    progress.finish();
                }
                index->save(a->output);
                const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
                info(a->quiet, fmt::format("index: {} {} over {} items x {} factors in {:.1f}s -> {} ({:.1f} MB)", a->kind,
                                           a->metric, index->size(), index->dim(), seconds, a->output,
                                           static_cast<double>(std::filesystem::file_size(a->output)) / 1e6));
                return 0;
            }};
}

void add_index_options(CLI::App* cmd, std::string& index, int& search) {
    auto* opt = cmd->add_option("--index", index, "Answer through an approximate index (.enci from encore index)")->type_name("FILE");
    cmd->add_option("--search-k", search, "With a forest --index: candidates per query (default: the index's)")->type_name("INT")
        ->check(CLI::Range(1, 1 << 30))->needs(opt);
    cmd->add_option("--ef", search, "With a graph --index: beam width per query (default: the index's)")->type_name("INT")
        ->check(CLI::Range(1, 1 << 20))->needs(opt);
}

std::unique_ptr<AnnIndex> open_index_for(CLI::App* cmd, const std::string& path) {
    if (path.empty()) return nullptr;
    auto index = open_index(path);
    if (index->kind() == "graph" && cmd->count("--search-k") > 0)
        throw OptionError(fmt::format("--search-k is for a forest index; {} is a graph index (use --ef)", path));
    if (index->kind() == "forest" && cmd->count("--ef") > 0)
        throw OptionError(fmt::format("--ef is for a graph index; {} is a forest index (use --search-k)", path));
    return index;
}

}  // namespace encore::cli
