// encore recommend: top items for a user (dot product, played items filtered), for a new user folded in
// from a list of items, or for every user (--all-users). With several models, their ensemble blends the
// members' user scores (encore/query/ensemble_queries.hpp): weights from --ensemble FILE, else
// every model weighted 1.
#include <memory>
#include <sstream>

#include <fmt/format.h>

#include "commands.hpp"
#include "common.hpp"
#include "encore/retrieval/ann.hpp"
#include "encore/query/ensemble_queries.hpp"
#include "encore/util/error.hpp"
#include "encore/util/progress.hpp"

namespace encore::cli {

namespace {
struct Args : QueryArgs, EnsembleArgs {
    std::string user, items, plays;
    int explain = 0;
    bool all = false, include_played = false;
};

std::vector<std::string> split_list(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::string cur;
    std::istringstream in(s);
    while (std::getline(in, cur, sep)) {
        auto b = cur.find_first_not_of(" \t"), e = cur.find_last_not_of(" \t");
        if (b != std::string::npos) out.push_back(cur.substr(b, e - b + 1));
    }
    return out;
}
}  // namespace

Command add_recommend(CLI::App& app) {
    auto* cmd = app.add_subcommand("recommend", "Recommendations for a user, a list of items, or every user");
    auto a = std::make_shared<Args>();
    add_query_options(cmd, *a, "--all-users");
    auto* cand = add_ensemble_options(cmd, *a);
    auto* user = cmd->add_option("--user", a->user, "User id");
    auto* items = cmd->add_option("--items", a->items, "A new user: comma-separated item keys or names");
    auto* all = cmd->add_flag("--all-users", a->all, "Every user (batch): writes query\\trank\\tresult\\tscore");
    user->excludes(items)->excludes(all);
    items->excludes(all);
    cmd->add_option("--plays", a->plays,
                    "With --items: comma-separated play counts (default: each item at its typical listener's weight)")
        ->needs(items);
    cmd->add_flag("--include-played", a->include_played, "Keep items the user already played");
    cmd->add_option("--explain", a->explain, "Show the N played items that contributed most to each result")
        ->expected(0, 1)->default_str("3")->check(CLI::Range(1, 1000));
    return {cmd, [a, cmd, cand] {
                if (!a->all && a->user.empty() && a->items.empty())
                    throw OptionError("recommend: give --user ID, --items A,B,... or --all-users");
                if (cmd->count("--explain") > 0 && a->explain == 0) a->explain = 3;
                if (a->all && a->explain > 0) throw OptionError("recommend: --explain is for single queries, not --all-users");
                const bool ensemble_mode = a->active();
                if (!ensemble_mode && cand->count() > 0)
                    throw OptionError("--candidates: only for an ensemble (several models)");
                auto model = load_model(a->model, !a->no_verify);
                if (ensemble_mode) {
                    if (!a->index.empty() || !a->items.empty() || a->explain > 0 || a->include_played)
                        throw OptionError("recommend: with several models or --ensemble, use --user or --all-users "
                                          "(no --index, --items, --explain or --include-played)");
                    if (!a->ensemble.empty() && cand->count() > 0)
                        throw OptionError("--candidates: the ensemble file sets the candidates");
                    auto members = load_ensemble_members(model, *a, !a->no_verify);
                    const auto& ptrs = members->models;
                    const Ensemble& ensemble = members->ensemble;
                    EnsembleScorer scorer(ptrs);
                    auto filter = ItemFilter::from_files(model, a->only, a->exclude);
                    QueryOptions q;
                    q.n = a->n;
                    q.threads = a->threads;
                    if (a->all) {
                        run_batch(*a, model, "recommend", model.users, q, [&](const QueryOptions& qo) {
                            return ensemble_recommend_all(scorer, ensemble, filter, qo);
                        });
                        return 0;
                    }
                    auto u = resolve_user(model, a->user);
                    nlohmann::json query = {{"id", a->user}, {"name", a->user}};
                    print_results(model,
                                  fmt::format("Recommendations for user {}, ensemble of {} models:", a->user, ptrs.size()),
                                  ensemble_recommend(scorer, ensemble, u, filter, q), a->json, query);
                    return 0;
                }
                if (!a->index.empty() && !a->items.empty())
                    throw OptionError("recommend: --index works with --user and --all-users, not --items");
                auto filter = ItemFilter::from_files(model, a->only, a->exclude);
                auto index = open_index_for(cmd, a->index);
                QueryOptions q;
                q.n = a->n;
                q.filter_played = !a->include_played;
                q.explain = a->explain;
                q.threads = a->threads;
                if (a->all) {
                    run_batch(*a, model, "recommend", model.users, q, [&](const QueryOptions& qo) {
                        return index ? recommend_all_index(model, *index, filter, qo, a->search)
                                     : recommend_all(model, filter, qo);
                    });
                    return 0;
                }
                if (!a->user.empty()) {
                    auto u = resolve_user(model, a->user);
                    auto results = index ? recommend_user_index(model, *index, u, filter, q, a->search)
                                         : recommend_user(model, u, filter, q);
                    nlohmann::json query = {{"id", a->user}, {"name", a->user}};
                    print_results(model, fmt::format("Recommendations for user {}:", a->user), results, a->json, query);
                    return 0;
                }
                std::vector<std::int32_t> ids;
                std::vector<float> plays;
                nlohmann::json query_items = nlohmann::json::array();
                for (const auto& s : split_list(a->items, ',')) {
                    ids.push_back(resolve_item(model, s));
                    query_items.push_back(item_json(model, ids.back()));
                }
                if (ids.empty()) throw OptionError("--items: no items given");
                if (!a->plays.empty()) {
                    auto p = split_list(a->plays, ',');
                    if (p.size() != ids.size())
                        throw OptionError(fmt::format("--plays has {} values for {} items", p.size(), ids.size()));
                    for (const auto& v : p) {
                        try {
                            std::size_t used = 0;
                            float x = std::stof(v, &used);
                            if (used != v.size() || !(x > 0)) throw std::invalid_argument(v);
                            plays.push_back(x);
                        } catch (const std::exception&) {
                            throw OptionError(fmt::format("--plays: '{}' is not a positive number", v));
                        }
                    }
                }
                auto results = recommend_new_user(model, ids, plays, filter, q);
                nlohmann::json query = {{"id", nullptr}, {"name", "new user"}, {"items", query_items}};
                print_results(model, "Recommendations for a new user:", results, a->json, query);
                return 0;
            }};
}

}  // namespace encore::cli
