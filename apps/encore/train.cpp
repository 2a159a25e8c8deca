// encore train: raw logs or a .encd -> weighting -> implicit ALS -> .encm model.
#include <memory>

#include <fmt/format.h>

#include "commands.hpp"
#include "common.hpp"
#include "encore/util/progress.hpp"

namespace encore::cli {

namespace {
struct Args {
    IngestArgs in;
    TrainArgs train;
    std::string output;
    int threads = 0;
    bool quiet = false;
};
}  // namespace

Command add_train(CLI::App& app) {
    auto* cmd = app.add_subcommand("train", "Train an implicit ALS model from play logs or a .encd dataset");
    auto a = std::make_shared<Args>();
    add_ingest_options(cmd, a->in, true);
    add_train_options(cmd, a->train);
    cmd->add_option("-o,--output", a->output, "Output model (.encm)")->required();
    add_threads(cmd, a->threads);
    add_quiet(cmd, a->quiet);
    return {cmd, [a, cmd] {
                auto data = load_or_ingest(a->in, cmd, a->threads, a->quiet);
                std::string source;
                for (const auto& s : a->in.inputs) source += (source.empty() ? "" : " ") + s;
                auto model = train_model(data, a->train, a->threads, a->quiet, source);
                save_model(model, a->output);
                info(a->quiet, fmt::format("wrote {}", a->output));
                return 0;
            }};
}

}  // namespace encore::cli
