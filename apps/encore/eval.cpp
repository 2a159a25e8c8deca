// encore eval: seeded random split of the interactions, train each model on the rest, ranking metrics at
// k on the held-out part, one row per model.
#include <memory>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "commands.hpp"
#include "common.hpp"
#include "encore/util/json.hpp"
#include "encore/eval/ensemble_fit.hpp"
#include "encore/eval/metrics.hpp"
#include "encore/eval/split.hpp"
#include "encore/retrieval/ensemble_queries.hpp"
#include "encore/util/error.hpp"
#include "encore/util/progress.hpp"

namespace encore::cli {

namespace {
struct Args {
    IngestArgs in;
    ModelArgs train;
    std::string model = "als";
    std::string models;
    int k = 10;
    double test_fraction = 0.2;
    bool json = false;
    bool related_hits = false;
    EnsembleFitOptions fit;
    int threads = 0;
    bool quiet = false;
};

// Resident memory from /proc/self/status ("VmRSS" now, "VmHWM" the high-water mark), in bytes; -1 when
// unavailable (not Linux).
double proc_status_bytes(const char* field) {
    std::ifstream in("/proc/self/status");
    std::string line;
    const std::string key = std::string(field) + ":";
    while (std::getline(in, line))
        if (line.rfind(key, 0) == 0) {
            std::istringstream s(line.substr(key.size()));
            double kb = 0;
            s >> kb;
            return kb * 1024.0;
        }
    return -1;
}

// Resets the high-water mark to the current RSS (Linux >= 4.0: "5" > /proc/self/clear_refs).
bool reset_peak_rss() {
    std::FILE* f = std::fopen("/proc/self/clear_refs", "w");
    if (!f) return false;
    bool ok = std::fputs("5", f) >= 0;
    ok = (std::fclose(f) == 0) && ok;
    return ok;
}

struct Row {
    std::string name;
    RankingMetrics metrics;
    double seconds = 0;
    double peak_mb = -1;  // training's peak resident memory above the resident memory before it
    RelatedHitRate related;
    nlohmann::json weights;  // the ensemble's fitted weights
};

std::vector<std::string> split_list(const std::string& s) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : s) {
        if (c == ',') {
            if (!cur.empty()) out.push_back(cur);
            cur.clear();
        } else if (c != ' ') {
            cur += c;
        }
    }
    if (!cur.empty()) out.push_back(cur);
    return out;
}
}  // namespace

Command add_eval(CLI::App& app) {
    auto* cmd = app.add_subcommand("eval", "Hold out a random part of the plays, train each model on the rest, report ranking metrics");
    auto a = std::make_shared<Args>();
    add_ingest_options(cmd, a->in, true);
    add_model_options(cmd, a->train, true);
    auto* one = cmd->add_option("--model", a->model, "One model to evaluate (flat JSON output)")->capture_default_str();
    auto* many = cmd->add_option("--models", a->models,
                                 "Comma-separated models compared on the same split: als,lsa,bpr,lmf,knn,popular, "
                                 "and ensemble (of the other models listed, weights fitted on the training part)");
    one->excludes(many);
    cmd->add_option("--k", a->k, "Cut-off for the metrics")->capture_default_str()->check(CLI::Range(1, 100000));
    cmd->add_option("--test-fraction", a->test_fraction, "Share of interactions held out")->capture_default_str();
    cmd->add_flag("--related-hits", a->related_hits,
                  "Also the related-items hit rate at k: held-out plays among the related lists of the user's training plays");
    cmd->add_option("--candidates", a->fit.candidates, "ensemble: each model's top-N per query forming the candidates")
        ->capture_default_str()
        ->check(CLI::Range(1, 100000));
    cmd->add_flag("--json", a->json, "JSON output");
    add_threads(cmd, a->threads);
    add_quiet(cmd, a->quiet);
    return {cmd, [a, cmd, many] {
                const bool compare = many->count() > 0;
                std::vector<std::string> names = compare ? split_list(a->models) : std::vector<std::string>{a->model};
                if (names.empty()) throw OptionError("--models: give at least one model");
                std::vector<ModelKind> kinds;  // the single models, in order
                bool ensemble = false;
                for (const auto& n : names) {
                    if (n == "ensemble") {
                        ensemble = true;
                        continue;
                    }
                    kinds.push_back(parse_model_kind(n));
                    to_model_options(a->train, kinds.back(), a->threads, a->quiet);  // reject bad options up front
                }
                if (ensemble && kinds.empty()) throw OptionError("--models: ensemble needs at least one other model");
                if (!(a->test_fraction > 0 && a->test_fraction < 1)) throw OptionError("--test-fraction must be in (0, 1)");
                const auto seed = model_seed(a->train);
                auto data = load_or_ingest(a->in, cmd, a->threads, a->quiet);
                auto split = random_split(data.by_user, a->test_fraction, seed);
                Dataset train = data;
                train.by_user = split.train;
                train.by_item = split.train.transpose(a->threads);
                auto to_lists = [](const std::vector<std::vector<Recommendation>>& recs) {
                    std::vector<std::vector<ScoredItem>> lists(recs.size());
                    for (std::size_t u = 0; u < recs.size(); ++u)
                        for (const auto& r : recs[u]) lists[u].push_back({r.id, r.score});
                    return lists;
                };
                QueryOptions q;
                q.n = a->k;
                q.threads = a->threads;
                std::vector<Row> rows;
                std::vector<Model> kept;  // the single models, for the ensemble
                for (std::size_t m = 0; m < kinds.size(); ++m) {
                    Row row;
                    row.name = std::string(model_kind_name(kinds[m]));
                    const double before = proc_status_bytes("VmRSS");
                    const bool peak_ok = reset_peak_rss() && before >= 0;
                    {
                        auto model = train_model(train, a->train, kinds[m], a->threads, a->quiet, "eval split", &row.seconds);
                        const double peak = proc_status_bytes("VmHWM");
                        if (peak_ok && peak >= 0) row.peak_mb = std::max(0.0, peak - before) / 1e6;
                        Progress progress("evaluate " + row.name, static_cast<double>(model.n_users()), a->quiet, "users");
                        QueryOptions qp = q;
                        qp.progress = &progress;
                        auto recs = recommend_all(model, ItemFilter{}, qp);
                        progress.finish();
                        row.metrics = ranking_metrics_at_k(to_lists(recs), split.test, a->k, a->threads);
                        if (a->related_hits)
                            row.related = related_hit_rate_at_k(to_lists(related_all(model, ItemFilter{}, q)), split.train,
                                                                split.test, a->k, a->threads);
                        if (ensemble) kept.push_back(std::move(model));
                    }
                    rows.push_back(row);
                }
                if (ensemble) {
                    // Weights fitted on a split of the training part only (the test part stays unseen), then
                    // applied to the models trained on the whole training part.
                    Row row;
                    row.name = "ensemble";
                    std::vector<ModelOptions> options;
                    for (auto kind : kinds) options.push_back(to_model_options(a->train, kind, a->threads, a->quiet));
                    a->fit.seed = seed;
                    a->fit.threads = a->threads;
                    a->fit.quiet = a->quiet;
                    const auto start = std::chrono::steady_clock::now();
                    auto fitted = fit_ensemble_on_split(train, options, a->fit);
                    row.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
                    for (const auto& r : rows) row.seconds += r.seconds;
                    std::vector<const Model*> ptrs;
                    for (const auto& m : kept) ptrs.push_back(&m);
                    EnsembleScorer scorer(ptrs);
                    row.metrics = ranking_metrics_at_k(to_lists(ensemble_recommend_all(scorer, fitted, ItemFilter{}, q)),
                                                       split.test, a->k, a->threads);
                    if (a->related_hits)
                        row.related = related_hit_rate_at_k(to_lists(ensemble_related_all(scorer, fitted, ItemFilter{}, q)),
                                                            split.train, split.test, a->k, a->threads);
                    nlohmann::json members = nlohmann::json::array();
                    for (auto kind : kinds) members.push_back(std::string(model_kind_name(kind)));
                    row.weights = {{"members", members},
                                   {"related", {{"weights", fitted.related.weights}, {"bias", fitted.related.bias}}},
                                   {"recommend", {{"weights", fitted.recommend.weights}, {"bias", fitted.recommend.bias}}}};
                    rows.push_back(row);
                }
                const int k = a->k;
                auto metrics_json = [&](const Row& r) {
                    nlohmann::json j = {{fmt::format("precision@{}", k), r.metrics.precision},
                                        {fmt::format("map@{}", k), r.metrics.map},
                                        {fmt::format("ndcg@{}", k), r.metrics.ndcg},
                                        {"auc", r.metrics.auc},
                                        {"train_seconds", r.seconds},
                                        {"users_evaluated", r.metrics.users}};
                    j["train_peak_mb"] = r.peak_mb >= 0 ? nlohmann::json(r.peak_mb) : nlohmann::json(nullptr);
                    if (a->related_hits) j[fmt::format("related_hit@{}", k)] = r.related.hit_rate;
                    if (!r.weights.is_null()) j["weights"] = r.weights;
                    return j;
                };
                if (a->json) {
                    nlohmann::json out;
                    if (compare) {
                        out = {{"models", nlohmann::json::object()}, {"k", k}, {"test_fraction", a->test_fraction},
                               {"seed", seed}};
                        for (const auto& r : rows) out["models"][r.name] = metrics_json(r);
                    } else {
                        out = metrics_json(rows[0]);
                        out.update({{"model", rows[0].name}, {"test_fraction", a->test_fraction}, {"seed", seed}});
                    }
                    std::cout << json_text(out, 2) << "\n";
                    return 0;
                }
                std::cout << fmt::format("k={}  test fraction {}  seed {}  ({} users evaluated)\n", k, a->test_fraction,
                                         seed, rows[0].metrics.users);
                const std::string hit_head = a->related_hits ? fmt::format(" {:>16}", fmt::format("related_hit@{}", k)) : "";
                std::cout << fmt::format("{:<10} {:>14} {:>10} {:>10} {:>8} {:>14} {:>14}{}\n", "model",
                                         fmt::format("precision@{}", k), fmt::format("map@{}", k),
                                         fmt::format("ndcg@{}", k), "auc", "train_seconds", "train_peak_MB", hit_head);
                for (const auto& r : rows)
                    std::cout << fmt::format("{:<10} {:>14.4f} {:>10.4f} {:>10.4f} {:>8.4f} {:>14.2f} {:>14}{}\n", r.name,
                                             r.metrics.precision, r.metrics.map, r.metrics.ndcg, r.metrics.auc, r.seconds,
                                             r.peak_mb >= 0 ? fmt::format("{:.1f}", r.peak_mb) : std::string("n/a"),
                                             a->related_hits ? fmt::format(" {:>16.4f}", r.related.hit_rate) : "");
                for (const auto& r : rows)
                    if (!r.weights.is_null())
                        std::cout << fmt::format("ensemble weights ({}): related {} bias {:.4f}; recommend {} bias {:.4f}\n",
                                                 fmt::join(r.weights["members"].get<std::vector<std::string>>(), ","),
                                                 fmt::format("{:.4f}", fmt::join(r.weights["related"]["weights"].get<std::vector<double>>(), ", ")),
                                                 r.weights["related"]["bias"].get<double>(),
                                                 fmt::format("{:.4f}", fmt::join(r.weights["recommend"]["weights"].get<std::vector<double>>(), ", ")),
                                                 r.weights["recommend"]["bias"].get<double>());
                return 0;
            }};
}

}  // namespace encore::cli
