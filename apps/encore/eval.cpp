// encore eval: seeded random split of the interactions, train each model on the rest, ranking metrics at
// k on the held-out part, one row per model.
#include <memory>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>

#include "commands.hpp"
#include "common.hpp"
#include "encore/eval/metrics.hpp"
#include "encore/eval/split.hpp"
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
                                 "Comma-separated models compared on the same split: als,lsa,bpr,lmf,knn,popular");
    one->excludes(many);
    cmd->add_option("--k", a->k, "Cut-off for the metrics")->capture_default_str()->check(CLI::Range(1, 100000));
    cmd->add_option("--test-fraction", a->test_fraction, "Share of interactions held out")->capture_default_str();
    cmd->add_flag("--json", a->json, "JSON output");
    add_threads(cmd, a->threads);
    add_quiet(cmd, a->quiet);
    return {cmd, [a, cmd, many] {
                const bool compare = many->count() > 0;
                std::vector<std::string> names = compare ? split_list(a->models) : std::vector<std::string>{a->model};
                if (names.empty()) throw OptionError("--models: give at least one model");
                std::vector<ModelKind> kinds;
                for (const auto& n : names) {
                    kinds.push_back(parse_model_kind(n));
                    to_model_options(a->train, kinds.back(), a->threads, a->quiet);  // reject bad options up front
                }
                if (!(a->test_fraction > 0 && a->test_fraction < 1)) throw OptionError("--test-fraction must be in (0, 1)");
                const auto seed = model_seed(a->train);
                auto data = load_or_ingest(a->in, cmd, a->threads, a->quiet);
                auto split = random_split(data.by_user, a->test_fraction, seed);
                Dataset train = data;
                train.by_user = split.train;
                train.by_item = split.train.transpose(a->threads);
                std::vector<Row> rows;
                for (std::size_t m = 0; m < kinds.size(); ++m) {
                    Row row;
                    row.name = names[m];
                    const double before = proc_status_bytes("VmRSS");
                    const bool peak_ok = reset_peak_rss() && before >= 0;
                    {
                        auto model = train_model(train, a->train, kinds[m], a->threads, a->quiet, "eval split", &row.seconds);
                        const double peak = proc_status_bytes("VmHWM");
                        if (peak_ok && peak >= 0) row.peak_mb = std::max(0.0, peak - before) / 1e6;
                        QueryOptions q;
                        q.n = a->k;
                        q.threads = a->threads;
                        Progress progress("evaluate " + row.name, static_cast<double>(model.n_users()), a->quiet, "users");
                        q.progress = &progress;
                        auto recs = recommend_all(model, ItemFilter{}, q);
                        progress.finish();
                        std::vector<std::vector<ScoredItem>> lists(recs.size());
                        for (std::size_t u = 0; u < recs.size(); ++u)
                            for (const auto& r : recs[u]) lists[u].push_back({r.id, r.score});
                        row.metrics = ranking_metrics_at_k(lists, split.test, a->k, a->threads);
                    }
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
                    std::cout << out.dump(2) << "\n";
                    return 0;
                }
                std::cout << fmt::format("k={}  test fraction {}  seed {}  ({} users evaluated)\n", k, a->test_fraction,
                                         seed, rows[0].metrics.users);
                std::cout << fmt::format("{:<10} {:>14} {:>10} {:>10} {:>8} {:>14} {:>14}\n", "model",
                                         fmt::format("precision@{}", k), fmt::format("map@{}", k),
                                         fmt::format("ndcg@{}", k), "auc", "train_seconds", "train_peak_MB");
                for (const auto& r : rows)
                    std::cout << fmt::format("{:<10} {:>14.4f} {:>10.4f} {:>10.4f} {:>8.4f} {:>14.2f} {:>14}\n", r.name,
                                             r.metrics.precision, r.metrics.map, r.metrics.ndcg, r.metrics.auc, r.seconds,
                                             r.peak_mb >= 0 ? fmt::format("{:.1f}", r.peak_mb) : std::string("n/a"));
                return 0;
            }};
}

}  // namespace encore::cli
