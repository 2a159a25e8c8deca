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
struct Args : QueryArgs {
    std::string item;
    bool all = false;
};
}  // namespace

Command add_related(CLI::App& app) {
    auto* cmd = app.add_subcommand("related", "Items most related to an item (cosine similarity)");
    auto a = std::make_shared<Args>();
    add_query_options(cmd, *a, "--all");
    auto* item = cmd->add_option("--item", a->item, "Item key or display name");
    auto* all = cmd->add_flag("--all", a->all, "Every item (batch): writes query\\trank\\tresult\\tscore");
    item->excludes(all);
    return {cmd, [a, cmd] {
                if (!a->all && a->item.empty()) throw OptionError("related: give --item NAME_OR_ID or --all");
                auto model = load_model(a->model, !a->no_verify);
                auto filter = ItemFilter::from_files(model, a->only, a->exclude);
                auto index = open_index_for(cmd, a->index);
                QueryOptions q;
                q.n = a->n;
                q.threads = a->threads;
                if (a->all) {
                    run_batch(*a, model, "related", model.items, q, [&](const QueryOptions& qo) {
                        return index ? related_all_index(model, *index, filter, qo, a->search) : related_all(model, filter, qo);
                    });
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
