// encore ensemble: fit an ensemble's weights (encore/eval/ensemble_fit.hpp): hold out part of the plays,
// train every model on the rest, learn from the held-out plays how to weigh the models' normalised
// scores, report the weights and write them to a .ence file. --save-models PREFIX also trains every
// model on all the data and writes PREFIX.KIND.encm, ready for `encore related A B ... --ensemble`.
#include <memory>

#include <iostream>

#include <fmt/format.h>

#include "commands.hpp"
#include "common.hpp"
#include "encore/util/json.hpp"
#include "encore/eval/ensemble_fit.hpp"
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

std::vector<std::string> comma_list(const std::string& s) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= s.size()) {
        auto end = s.find(',', start);
        if (end == std::string::npos) end = s.size();
        if (end > start) out.push_back(s.substr(start, end - start));
        start = end + 1;
    }
    return out;
}
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
                if (!(a->fit.holdout_fraction > 0 && a->fit.holdout_fraction < 1))
                    throw OptionError("--holdout-fraction must be in (0, 1)");
                const auto names = comma_list(a->models);
                if (names.empty()) throw OptionError("--models: give at least one model");
                std::vector<ModelKind> kinds;
                std::vector<ModelOptions> options;
                for (const auto& n : names) {
                    kinds.push_back(parse_model_kind(n));
                    options.push_back(to_model_options(a->train, kinds.back(), a->threads, a->quiet));
                }
                a->fit.seed = model_seed(a->train);
                a->fit.threads = a->threads;
                a->fit.quiet = a->quiet;
                auto data = load_or_ingest(a->in, cmd, a->threads, a->quiet);
                auto ensemble = fit_ensemble_on_split(data, options, a->fit);
                std::string source;
                for (const auto& s : a->in.inputs) source += (source.empty() ? "" : " ") + s;
                ensemble.info["data"] = {{"source", source}, {"users", data.n_users()}, {"items", data.n_items()}};
                save_ensemble(ensemble, a->output);
                if (!a->save_models.empty())
                    for (std::size_t m = 0; m < kinds.size(); ++m) {
                        auto model = train_model(data, a->train, kinds[m], a->threads, a->quiet, source);
                        const auto path = fmt::format("{}.{}.encm", a->save_models, names[m]);
                        save_model(model, path);
                        info(a->quiet, fmt::format("wrote {}", path));
                    }
                if (a->json) {
                    nlohmann::json out = {{"members", names},
                                          {"candidates", ensemble.candidates},
                                          {"related", {{"weights", ensemble.related.weights}, {"bias", ensemble.related.bias}}},
                                          {"recommend",
                                           {{"weights", ensemble.recommend.weights}, {"bias", ensemble.recommend.bias}}},
                                          {"info", ensemble.info}};
                    std::cout << json_text(out, 2) << "\n";
                } else {
                    std::cout << fmt::format("{:<10} {:>16} {:>16}\n", "model", "related weight", "recommend weight");
                    for (std::size_t m = 0; m < names.size(); ++m)
                        std::cout << fmt::format("{:<10} {:>16.4f} {:>16.4f}\n", names[m], ensemble.related.weights[m],
                                                 ensemble.recommend.weights[m]);
                    std::cout << fmt::format("{:<10} {:>16.4f} {:>16.4f}\n", "(bias)", ensemble.related.bias,
                                             ensemble.recommend.bias);
                }
                info(a->quiet, fmt::format("wrote {}", a->output));
                return 0;
            }};
}

}  // namespace encore::cli
