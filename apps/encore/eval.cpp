// encore eval: seeded random split of the interactions, train each model on the rest, ranking metrics at
// k on the held-out part, one row per model (the work is encore/eval/evaluate.hpp; this parses and prints).
#include <memory>

#include <iostream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "commands.hpp"
#include "common.hpp"
#include "encore/eval/evaluate.hpp"
#include "encore/util/json.hpp"
#include "encore/util/error.hpp"

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

void print_text(const EvalReport& report) {
    const int k = report.k;
    std::cout << fmt::format("k={}  test fraction {}  seed {}  ({} users evaluated)\n", k, report.test_fraction,
                             report.seed, report.rows[0].metrics.users);
    const std::string hit_head = report.related_hits ? fmt::format(" {:>16}", fmt::format("related_hit@{}", k)) : "";
    std::cout << fmt::format("{:<10} {:>14} {:>10} {:>10} {:>8} {:>14} {:>14}{}\n", "model",
                             fmt::format("precision@{}", k), fmt::format("map@{}", k), fmt::format("ndcg@{}", k), "auc",
                             "train_seconds", "train_peak_MB", hit_head);
    for (const auto& r : report.rows)
        std::cout << fmt::format("{:<10} {:>14.4f} {:>10.4f} {:>10.4f} {:>8.4f} {:>14.2f} {:>14}{}\n", r.name,
                                 r.metrics.precision, r.metrics.map, r.metrics.ndcg, r.metrics.auc, r.train_seconds,
                                 r.train_peak_mb >= 0 ? fmt::format("{:.1f}", r.train_peak_mb) : std::string("n/a"),
                                 report.related_hits ? fmt::format(" {:>16.4f}", r.related.hit_rate) : "");
    for (const auto& r : report.rows)
        if (r.has_weights) {
            std::vector<std::string> members;
            for (const auto& m : r.weights.members) members.push_back(m.kind);
            std::cout << fmt::format("ensemble weights ({}): related {:.4f} bias {:.4f}; recommend {:.4f} bias {:.4f}\n",
                                     fmt::join(members, ","), fmt::join(r.weights.related.weights, ", "),
                                     r.weights.related.bias, fmt::join(r.weights.recommend.weights, ", "),
                                     r.weights.recommend.bias);
        }
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
                const auto models =
                    parse_eval_models(compare ? split_model_names(a->models) : std::vector<std::string>{a->model});
                EvalRequest request;
                for (auto kind : models.kinds)  // rejects bad options before the data is read
                    request.models.push_back(to_model_options(a->train, kind, a->threads, a->quiet));
                request.ensemble = models.ensemble;
                request.ensemble_fit = a->fit;
                request.test_fraction = a->test_fraction;
                request.seed = model_seed(a->train);
                request.k = a->k;
                request.related_hits = a->related_hits;
                request.threads = a->threads;
                request.reporter = stderr_reporter(a->quiet);
                check_eval_request(request);
                const auto report = evaluate(load_or_ingest(a->in, cmd, a->threads, a->quiet), request);
                if (a->json)
                    std::cout << json_text(report.to_json(!compare), 2) << "\n";
                else
                    print_text(report);
                return 0;
            }};
}

}  // namespace encore::cli
