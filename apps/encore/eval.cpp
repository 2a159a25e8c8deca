// encore eval: seeded random split of the interactions, train on the rest, ranking metrics at k.
#include <memory>

#include <iostream>

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
    TrainArgs train;
    std::string model = "als";
    int k = 10;
    double test_fraction = 0.2;
    bool json = false;
    int threads = 0;
    bool quiet = false;
};
}  // namespace

Command add_eval(CLI::App& app) {
    auto* cmd = app.add_subcommand("eval", "Hold out a random part of the plays, train on the rest, report ranking metrics");
    auto a = std::make_shared<Args>();
    add_ingest_options(cmd, a->in, true);
    add_train_options(cmd, a->train);
    cmd->add_option("--model", a->model, "Model to evaluate (als)")->capture_default_str();
    cmd->add_option("--k", a->k, "Cut-off for the metrics")->capture_default_str()->check(CLI::Range(1, 100000));
    cmd->add_option("--test-fraction", a->test_fraction, "Share of interactions held out")->capture_default_str();
    cmd->add_flag("--json", a->json, "JSON output");
    add_threads(cmd, a->threads);
    add_quiet(cmd, a->quiet);
    return {cmd, [a, cmd] {
                if (a->model != "als") throw OptionError(fmt::format("--model: unknown model '{}' (known: als)", a->model));
                if (!(a->test_fraction > 0 && a->test_fraction < 1)) throw OptionError("--test-fraction must be in (0, 1)");
                auto data = load_or_ingest(a->in, cmd, a->threads, a->quiet);
                auto split = random_split(data.by_user, a->test_fraction, a->train.seed);
                Dataset train = data;
                train.by_user = split.train;
                train.by_item = split.train.transpose(a->threads);
                double secs = 0;
                auto model = train_model(train, a->train, a->threads, a->quiet, "eval split", &secs);
                QueryOptions q;
                q.n = a->k;
                q.threads = a->threads;
                Progress progress("evaluate", static_cast<double>(model.n_users()), a->quiet, "users");
                q.progress = &progress;
                auto recs = recommend_all(model, ItemFilter{}, q);
                progress.finish();
                std::vector<std::vector<ScoredItem>> lists(recs.size());
                for (std::size_t u = 0; u < recs.size(); ++u)
                    for (const auto& r : recs[u]) lists[u].push_back({r.id, r.score});
                auto m = ranking_metrics_at_k(lists, split.test, a->k);
                const int k = a->k;
                if (a->json) {
                    nlohmann::json out = {{fmt::format("precision@{}", k), m.precision}, {fmt::format("map@{}", k), m.map},
                                          {fmt::format("ndcg@{}", k), m.ndcg}, {"auc", m.auc}, {"train_seconds", secs},
                                          {"users_evaluated", m.users}, {"model", a->model},
                                          {"test_fraction", a->test_fraction}, {"seed", a->train.seed}};
                    std::cout << out.dump(2) << "\n";
                    return 0;
                }
                std::cout << fmt::format("model {}  k={}  test fraction {}  seed {}  ({} users evaluated)\n", a->model, k,
                                         a->test_fraction, a->train.seed, m.users);
                std::cout << fmt::format("{:>14} {:>10} {:>10} {:>10} {:>14}\n", fmt::format("precision@{}", k),
                                         fmt::format("map@{}", k), fmt::format("ndcg@{}", k), "auc", "train_seconds");
                std::cout << fmt::format("{:>14.4f} {:>10.4f} {:>10.4f} {:>10.4f} {:>14.2f}\n", m.precision, m.map, m.ndcg,
                                         m.auc, secs);
                return 0;
            }};
}

}  // namespace encore::cli
