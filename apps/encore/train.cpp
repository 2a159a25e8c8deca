// encore train: raw logs or a .encd -> weighting -> a model of the family (--model) -> .encm model.
#include <memory>

#include <fmt/format.h>

#include "commands.hpp"
#include "common.hpp"
#include "encore/util/progress.hpp"

namespace encore::cli {

namespace {
struct Args {
    IngestArgs in;
    ModelArgs train;
    std::string model = "als";
    std::string output;
    int threads = 0;
    bool quiet = false;
};
}  // namespace

Command add_train(CLI::App& app) {
    auto* cmd = app.add_subcommand("train", "Train a model (als, lsa, bpr, lmf, knn, popular) from play logs or a .encd dataset");
    auto a = std::make_shared<Args>();
    add_ingest_options(cmd, a->in, true);
    cmd->add_option("--model", a->model, "als|lsa|bpr|lmf|knn|popular")->capture_default_str();
    add_model_options(cmd, a->train, false);
    cmd->add_option("-o,--output", a->output, "Output model (.encm)")->required();
    add_threads(cmd, a->threads);
    add_quiet(cmd, a->quiet);
    return {cmd, [a, cmd] {
                auto kind = parse_model_kind(a->model);
                to_model_options(a->train, kind, a->threads, a->quiet);  // reject bad options before reading input
                auto data = load_or_ingest(a->in, cmd, a->threads, a->quiet);
                std::string source;
                for (const auto& s : a->in.inputs) source += (source.empty() ? "" : " ") + s;
                auto model = train_model(data, a->train, kind, a->threads, a->quiet, source);
                save_model(model, a->output);
                info(a->quiet, fmt::format("wrote {}", a->output));
                return 0;
            }};
}

}  // namespace encore::cli
