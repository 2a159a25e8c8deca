// encore related: items most similar to an item (cosine of item factors), or for every item (--all).
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
    std::string model, item, output, only, exclude, index;
    int n = 10, search = 0;
    bool all = false, json = false, names = false, no_verify = false;
    int threads = 0;
    bool quiet = false;
};
}  // namespace

Command add_related(CLI::App& app) {
    auto* cmd = app.add_subcommand("related", "Items most related to an item (cosine similarity)");
    auto a = std::make_shared<Args>();
    cmd->add_option("model", a->model, "Model file (.encm)")->required();
    auto* item = cmd->add_option("--item", a->item, "Item key or display name");
    auto* all = cmd->add_flag("--all", a->all, "Every item (batch): writes query\\trank\\tresult\\tscore");
    item->excludes(all);
    cmd->add_option("-n", a->n, "Results per query")->capture_default_str()->check(CLI::Range(1, 1000000));
    cmd->add_option("-o,--output", a->output, "--all: output TSV (default: standard output)");
    cmd->add_flag("--names", a->names, "--all: write display names instead of keys");
    cmd->add_option("--only", a->only, "Only return items listed in FILE (one key or name per line)");
    cmd->add_option("--exclude", a->exclude, "Never return items listed in FILE");
    cmd->add_flag("--json", a->json, "JSON output (see README)");
    add_index_options(cmd, a->index, a->search);
    cmd->add_flag("--no-verify", a->no_verify, "Skip checksum verification when loading the model");
    add_threads(cmd, a->threads);
    add_quiet(cmd, a->quiet);
    return {cmd, [a, cmd] {
                if (!a->all && a->item.empty()) throw OptionError("related: give --item NAME_OR_ID or --all");
                auto model = load_model(a->model, !a->no_verify);
                auto filter = ItemFilter::from_files(model, a->only, a->exclude);
                auto index = open_index_for(cmd, a->index);
                QueryOptions q;
                q.n = a->n;
                q.threads = a->threads;
                if (a->all) {
                    Progress progress("related", static_cast<double>(model.n_items()), a->quiet, "items");
                    q.progress = &progress;
                    auto results = index ? related_all_index(model, *index, filter, q, a->search)
                                         : related_all(model, filter, q);
                    progress.finish();
                    write_batch_tsv(a->output, results, model.items, model, a->names);
                    return 0;
                }
                auto id = resolve_item(model, a->item);
                auto results = index ? related_items_index(model, *index, id, filter, q, a->search)
                                     : related_items(model, id, filter, q);
                print_results(model, fmt::format("Related to {} ({}):", model.item_label(id), model.items[id]), results,
                              a->json, item_json(model, id));
                return 0;
            }};
}

}  // namespace encore::cli
