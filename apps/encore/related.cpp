// encore related: items most similar to an item, or for every item (--all). Parses and prints; the
// Recommender (encore/serve/recommender.hpp) answers, exactly, through --index, or by the ensemble of
// several models (weights from --ensemble FILE, else every model weighted 1).
#include <memory>

#include <fmt/format.h>

#include "commands.hpp"
#include "common.hpp"
#include "encore/util/error.hpp"

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
                if (!a->ensemble.empty() && cand->count() > 0)
                    throw OptionError("--candidates: the ensemble file sets the candidates");
                if (!a->active() && cand->count() > 0)
                    throw OptionError("--candidates: only for an ensemble (several models)");
                const auto rec = open_recommender(*a, *a);
                check_search_flags(cmd, rec);
                check_index_serves(rec, true);
                const auto filter = ItemFilter::from_files(rec.model(), a->only, a->exclude);
                const Query q{.n = a->n, .filter = &filter, .search = a->search};
                if (a->all) {
                    run_batch(*a, rec, "related", rec.model().items,
                              [&](const Batch& b) { return rec.related_batch({}, q, b); });
                    return 0;
                }
                const auto id = rec.item(a->item);
                std::string title = fmt::format("Related to {} ({})", rec.item_name(id), rec.item_key(id));
                if (rec.ensemble()) title += fmt::format(", ensemble of {} models", rec.members());
                print_results(rec.model(), title + ":", rec.related(id, q), a->json, rec.item_query(id));
                return 0;
            }};
}

}  // namespace encore::cli
