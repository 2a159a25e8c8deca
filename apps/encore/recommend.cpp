// encore recommend: top items for a user (dot product, played items filtered), for a new user folded in
// from a list of items, or for every user (--all-users). With several models, their ensemble blends the
// members' user scores (encore/query/ensemble_queries.hpp): weights from --ensemble FILE, else
// every model weighted 1.
#include <memory>
#include <sstream>

#include <fmt/format.h>

#include "commands.hpp"
#include "common.hpp"
#include "encore/util/error.hpp"

namespace encore::cli {

namespace {
struct Args : QueryArgs, EnsembleArgs {
    std::string user, items, items_file, plays;
    std::vector<std::string> item;
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

std::vector<float> parse_plays(const std::string& text, std::size_t count) {
    std::vector<float> plays;
    if (text.empty()) return plays;
    auto p = split_list(text, ',');
    if (p.size() != count) throw OptionError(fmt::format("--plays has {} values for {} items", p.size(), count));
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
    return plays;
}
}  // namespace

Command add_recommend(CLI::App& app) {
    auto* cmd = app.add_subcommand("recommend", "Recommendations for a user, a list of items, or every user");
    auto a = std::make_shared<Args>();
    add_query_options(cmd, *a, "--all-users");
    auto* cand = add_ensemble_options(cmd, *a);
    auto* user = cmd->add_option("--user", a->user, "User id");
    auto* items = cmd->add_option("--items", a->items, "A new user: comma-separated item keys or names")->type_name("A,B,...");
    auto* item = cmd->add_option("--item", a->item,
                                 "A new user: one played item per --item (repeat it; a name may contain commas)")
                     ->type_name("NAME");
    auto* file = cmd->add_option("--items-file", a->items_file,
                                 "A new user: played items listed in FILE, one key or name per line")
                     ->type_name("FILE");
    auto* all = cmd->add_flag("--all-users", a->all, "Every user (batch): writes query\\trank\\tresult\\tscore");
    for (auto* o : {items, item, file}) {
        user->excludes(o);
        all->excludes(o);
    }
    items->excludes(item)->excludes(file);
    item->excludes(file);
    user->excludes(all);
    cmd->add_option("--plays", a->plays,
                    "With a new user: comma-separated play counts, one per item in order (default: each item at its "
                    "typical listener's weight)")
        ->type_name("N,N,...");
    cmd->add_flag("--include-played", a->include_played, "Keep items the user already played");
    cmd->add_option("--explain", a->explain, "Show the N played items that contributed most to each result")
        ->expected(0, 1)->default_str("3")->check(CLI::Range(1, 1000))->type_name("INT");
    return {cmd, [a, cmd, cand] {
                const bool new_user = !a->items.empty() || !a->item.empty() || !a->items_file.empty();
                if (!a->all && a->user.empty() && !new_user)
                    throw OptionError("recommend: give --user ID, --item NAME (repeatable), --items A,B,..., "
                                      "--items-file FILE or --all-users");
                if (!a->plays.empty() && !new_user) throw OptionError("--plays: only with --item, --items or --items-file");
                if (cmd->count("--explain") > 0 && a->explain == 0) a->explain = 3;
                if (a->all && a->explain > 0) throw OptionError("recommend: --explain is for single queries, not --all-users");
                if (!a->ensemble.empty() && cand->count() > 0)
                    throw OptionError("--candidates: the ensemble file sets the candidates");
                if (!a->active() && cand->count() > 0)
                    throw OptionError("--candidates: only for an ensemble (several models)");
                const auto rec = open_recommender(*a, *a);
                check_search_flags(cmd, rec);
                check_index_serves(rec, false);
                const auto filter = ItemFilter::from_files(rec.model(), a->only, a->exclude);
                const Query q{.n = a->n,
                              .filter = &filter,
                              .filter_played = !a->include_played,
                              .explain = a->explain,
                              .search = a->search};
                const std::string ensemble =
                    rec.ensemble() ? fmt::format(", ensemble of {} models", rec.members()) : std::string();
                if (a->all) {
                    run_batch(*a, rec, "recommend", rec.model().users,
                              [&](const Batch& b) { return rec.recommend_batch({}, q, b); });
                    return 0;
                }
                if (!a->user.empty()) {
                    const auto u = rec.user(a->user);
                    print_results(rec.model(), fmt::format("Recommendations for user {}{}:", a->user, ensemble),
                                  rec.recommend(u, q), a->json, rec.user_query(u));
                    return 0;
                }
                std::vector<std::int32_t> ids;
                if (!a->items_file.empty()) {
                    ids = read_item_list(rec.model(), a->items_file);
                } else {
                    for (const auto& s : a->item.empty() ? split_list(a->items, ',') : a->item) ids.push_back(rec.item(s));
                }
                if (ids.empty()) throw OptionError("recommend: the new user has no items");
                nlohmann::json query_items = nlohmann::json::array();
                for (auto i : ids) query_items.push_back(rec.item_query(i));
                const auto plays = parse_plays(a->plays, ids.size());
                nlohmann::json query = {{"id", nullptr}, {"name", "new user"}, {"items", query_items}};
                print_results(rec.model(), "Recommendations for a new user:", rec.recommend_items(ids, plays, q), a->json,
                              query);
                return 0;
            }};
}

}  // namespace encore::cli
