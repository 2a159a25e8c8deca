// encore ingest: play logs -> .encd dataset (ids, names, matrix both ways).
#include <memory>

#include <fmt/format.h>

#include "commands.hpp"
#include "common.hpp"
#include "encore/util/progress.hpp"

namespace encore::cli {

namespace {
struct Args {
    IngestArgs in;
    std::string output;
    int threads = 0;
    bool quiet = false;
};
}  // namespace

Command add_ingest(CLI::App& app) {
    auto* cmd = app.add_subcommand("ingest", "Read play logs into a dataset file (.encd)");
    auto a = std::make_shared<Args>();
    add_ingest_options(cmd, a->in, false);
    cmd->add_option("-o,--output", a->output, "Output dataset (.encd)")->required();
    add_threads(cmd, a->threads);
    add_quiet(cmd, a->quiet);
    return {cmd, [a, cmd] {
                IngestReport report;
                auto d = ingest(a->in.inputs, to_ingest_options(a->in, cmd, a->threads, a->quiet), &report);
                print_ingest_summary(d, report, a->quiet);
                save_dataset(d, a->output);
                info(a->quiet, fmt::format("wrote {}", a->output));
                return 0;
            }};
}

}  // namespace encore::cli
