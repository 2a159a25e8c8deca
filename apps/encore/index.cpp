// encore index: an approximate nearest-neighbour index (.enci) over a model's item factors, for
// related --index (cosine) and recommend --index (dot).
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "commands.hpp"
#include "common.hpp"
#include "encore/retrieval/ann.hpp"
#include "encore/util/error.hpp"
#include "encore/util/progress.hpp"

namespace encore::cli {

namespace {
struct Args {
    std::string model, output;
    std::map<std::string, std::string> values;  // index option -> text, as given
    std::map<std::string, CLI::Option*> options;
    IndexBuildOptions build;
    bool no_verify = false, quiet = false;
};
}  // namespace

Command add_index(CLI::App& app) {
    auto* cmd = app.add_subcommand("index", "Build an approximate nearest-neighbour index over a model's items");
    auto a = std::make_shared<Args>();
    cmd->add_option("model", a->model, "Model file (.encm)")->type_name("FILE")->required();
    cmd->add_option("-o,--output", a->output, "Index file to write (.enci)")->type_name("FILE")->required();
    for (const auto& spec : option_registry())
        if (spec.group == OptionGroup::index)
            a->options[spec.name] = add_registry_option(cmd, spec, "--" + spec.name, a->values[spec.name]);
    cmd->add_flag("--no-verify", a->no_verify, "Skip checksum verification when loading the model");
    add_threads(cmd, a->build.threads);
    add_quiet(cmd, a->quiet);
    return {cmd, [a, cmd] {
                // The kind first: every other option given is checked against it.
                if (a->options.at("kind")->count() > 0)
                    with_flag("--kind", [&] { set_index_option(a->build, "kind", a->values.at("kind")); });
                for (const auto& [name, opt] : a->options) {
                    if (name == "kind" || opt->count() == 0) continue;
                    const auto& spec = find_option(name, {OptionGroup::index});
                    if (!spec.applies_to(a->build.kind))
                        throw OptionError(fmt::format("--{} is a --kind {} option", name, fmt::join(spec.kinds, "|")));
                    with_flag("--" + name, [&] { set_index_option(a->build, name, a->values.at(name)); });
                }
                const bool forest = a->build.kind == "forest";
                const std::string metric(metric_name(a->build.metric));
                auto model = load_model(a->model, !a->no_verify);
                auto start = std::chrono::steady_clock::now();
                std::unique_ptr<AnnIndex> index;
                {
                    Progress progress(fmt::format("index ({})", a->build.kind),
                                      forest ? a->build.trees : static_cast<double>(model.n_items()), stderr_reporter(a->quiet),
                                      forest ? "trees" : "items");
                    a->build.progress = &progress;
                    index = build_index(model.item_factors, a->build);
                    progress.finish();
                }
                index->save(a->output);
                const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
                info(a->quiet, fmt::format("index: {} {} over {} items x {} factors in {:.1f}s -> {} ({:.1f} MB)",
                                           a->build.kind, metric, index->size(), index->dim(), seconds, a->output,
                                           static_cast<double>(std::filesystem::file_size(a->output)) / 1e6));
                return 0;
            }};
}

void add_index_options(CLI::App* cmd, std::string& index, int& search) {
    auto* opt = cmd->add_option("--index", index, "Answer through an approximate index (.enci from encore index)")->type_name("FILE");
    for (const char* name : {"search-k", "ef"})
        add_registry_option(cmd, find_option(name, {OptionGroup::query}), fmt::format("--{}", name), search)->needs(opt);
}

void check_index_serves(const Recommender& rec, bool related) {
    const AnnIndex* given = rec.index(!related);  // the one --index opened, when it is of the other metric
    if (!rec.index(related) && given)
        check_index(rec.model(), *given, related ? AnnMetric::cosine : AnnMetric::dot, related ? "related" : "recommend");
}

void check_search_flags(CLI::App* cmd, const Recommender& rec) {
    for (const AnnIndex* index : {rec.index(true), rec.index(false)}) {
        if (!index) continue;
        if (index->kind() == "graph" && cmd->count("--search-k") > 0)
            throw OptionError("--search-k is for a forest index; this is a graph index (use --ef)");
        if (index->kind() == "forest" && cmd->count("--ef") > 0)
            throw OptionError("--ef is for a graph index; this is a forest index (use --search-k)");
    }
}

}  // namespace encore::cli
