// encore ensemble: fit an ensemble's weights (encore/eval/evaluate.hpp, ensemble_fit.hpp): hold out part of the plays,
// train every model on the rest, learn from the held-out plays how to weigh the models' normalised
// scores, report the weights and write them to a .ence file. --save-models PREFIX also trains every
// model on all the data and writes PREFIX.KIND.encm, ready for `encore related A B ... --ensemble`.
#include <memory>

#include <iostream>

#include <fmt/format.h>

#include "commands.hpp"
#include "common.hpp"
#include "encore/eval/evaluate.hpp"
#include "encore/util/json.hpp"
#include "encore/util/error.hpp"
#include "encore/util/progress.hpp"

namespace encore::cli {

namespace {
struct Args {
    IngestArgs in;
    ModelArgs train;
    std::string models = "als,bpr,knn";
    std::string output, save_models;
    EnsembleFitOptions fit;
    bool json = false;
    int threads = 0;
    bool quiet = false;
};

}  // namespace

Command add_ensemble(CLI::App& app) {
    auto* cmd = app.add_subcommand("ensemble", "Fit ensemble weights for several models on held-out plays and write them (.ence)");
    auto a = std::make_shared<Args>();
    add_ingest_options(cmd, a->in, true);
    cmd->add_option("--models", a->models, "Comma-separated members, in the order `related` will be given them")->type_name("LIST")
        ->capture_default_str();
    add_model_options(cmd, a->train, true);
    cmd->add_option("-o,--output", a->output, "Output ensemble file (.ence)")->type_name("FILE")->required();
    cmd->add_option("--save-models", a->save_models, "Also train each model on all the data and write PREFIX.KIND.encm")->type_name("PREFIX");
    cmd->add_option("--candidates", a->fit.candidates, "Each model's top-N per query forming the candidates")->type_name("INT")
        ->capture_default_str()
        ->check(CLI::Range(1, 100000));
    cmd->add_option("--holdout-fraction", a->fit.holdout_fraction, "Share of interactions held out to fit the weights")->type_name("NUMBER")
        ->capture_default_str();
    cmd->add_option("--max-users", a->fit.max_users, "Users sampled for the fitting examples")->type_name("INT")
        ->capture_default_str()
        ->check(CLI::Range(1, 1 << 30));
    cmd->add_option("--queries-per-user", a->fit.queries_per_user, "Related: query items drawn per sampled user")->type_name("INT")
        ->capture_default_str()
        ->check(CLI::Range(1, 1 << 20));
    cmd->add_flag("--json", a->json, "JSON output (the ensemble file's contents)");
    add_threads(cmd, a->threads);
    add_quiet(cmd, a->quiet);
    return {cmd, [a, cmd] {
                const auto names = split_model_names(a->models);
                EnsembleRequest request;
                for (const auto& n : names)
                    request.models.push_back(to_model_options(a->train, parse_model_kind(n), a->threads, a->quiet));
                request.fit = a->fit;
                request.fit.seed = model_seed(a->train);
                request.fit.threads = a->threads;
                request.fit.reporter = stderr_reporter(a->quiet);
                request.train_on_all = !a->save_models.empty();
                for (const auto& s : a->in.inputs) request.source += (request.source.empty() ? "" : " ") + s;
                check_ensemble_request(request);
                const auto report = fit_ensemble_on_holdout(load_or_ingest(a->in, cmd, a->threads, a->quiet), request);
                save_ensemble(report.ensemble, a->output);
                for (std::size_t m = 0; m < report.models.size(); ++m) {
                    const auto path = fmt::format("{}.{}.encm", a->save_models, names[m]);
                    save_model(report.models[m], path);
                    info(a->quiet, fmt::format("wrote {}", path));
                }
                const auto& e = report.ensemble;
                if (a->json) {
                    std::cout << json_text(report.to_json(), 2) << "\n";
                } else {
                    std::cout << fmt::format("{:<10} {:>16} {:>16}\n", "model", "related weight", "recommend weight");
                    for (std::size_t m = 0; m < names.size(); ++m)
                        std::cout << fmt::format("{:<10} {:>16.4f} {:>16.4f}\n", names[m], e.related.weights[m],
                                                 e.recommend.weights[m]);
                    std::cout << fmt::format("{:<10} {:>16.4f} {:>16.4f}\n", "(bias)", e.related.bias, e.recommend.bias);
                }
                info(a->quiet, fmt::format("wrote {}", a->output));
                return 0;
            }};
}

}  // namespace encore::cli
