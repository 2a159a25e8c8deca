// encore related: items most similar to an item (cosine of item factors, or the model's own similarity),
// or for every item (--all). With several models, their ensemble ranks the union of their candidates
// (encore/query/ensemble_queries.hpp): weights from --ensemble FILE, else every model weighted 1.
#include <memory>

#include <fmt/format.h>

#include "commands.hpp"
#include "common.hpp"
#include "encore/models/ensemble.hpp"
#include "encore/retrieval/ann.hpp"
#include "encore/query/ensemble_queries.hpp"
#include "encore/util/error.hpp"
#include "encore/util/progress.hpp"

namespace encore::cli {

namespace {
struct Args : QueryArgs, EnsembleArgs {
    std::string item;
    bool all = false;
};
}  // namespace

Command add_related(CLI::App& app) {
    auto* cmd = app.add_subcommand("related", "Items most related to an item (cosine similarity; several models: their ensemble)");
    auto a = std::make_shared<Args>();
    add_query_options(cmd, *a, "--all");
    auto* cand = add_ensemble_options(cmd, *a);
    auto* item = cmd->add_option("--item", a->item, "Item key or display name");
    auto* all = cmd->add_flag("--all", a->all, "Every item (batch): writes query\\trank\\tresult\\tscore");
    item->excludes(all);
    return {cmd, [a, cmd, cand] {
                if (!a->all && a->item.empty()) throw OptionError("related: give --item NAME_OR_ID or --all");
                const bool ensemble_mode = a->active();
                if (ensemble_mode && !a->index.empty())
                    throw OptionError("--index: not available with several models or --ensemble (the ensemble scans exactly)");
                if (!a->ensemble.empty() && cand->count() > 0)
                    throw OptionError("--candidates: the ensemble file sets the candidates");
                if (!ensemble_mode && cand->count() > 0)
                    throw OptionError("--candidates: only for an ensemble (several models)");
                auto model = load_model(a->model, !a->no_verify);
                auto filter = ItemFilter::from_files(model, a->only, a->exclude);
                QueryOptions q;
                q.n = a->n;
                q.threads = a->threads;
                if (ensemble_mode) {
                    auto members = load_ensemble_members(model, *a, !a->no_verify);
                    const auto& ptrs = members->models;
                    const Ensemble& ensemble = members->ensemble;
                    EnsembleScorer scorer(ptrs);
                    if (a->all) {
                        run_batch(*a, model, "related", model.items, q, [&](const QueryOptions& qo) {
                            return ensemble_related_all(scorer, ensemble, filter, qo);
                        });
                        return 0;
                    }
                    auto id = resolve_item(model, a->item);
                    print_results(model,
                                  fmt::format("Related to {} ({}), ensemble of {} models:", model.item_label(id),
                                              model.items[id], ptrs.size()),
                                  ensemble_related(scorer, ensemble, id, filter, q), a->json, item_json(model, id));
                    return 0;
                }
                auto index = open_index_for(cmd, a->index);
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
