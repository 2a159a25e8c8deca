#pragma once
// Option groups and helpers shared by several subcommands (ingest options, weighting and model
// options, output of query results). Glue only: every algorithm lives in the library.
#include <map>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "encore/data/dataset.hpp"
#include "encore/data/ingest.hpp"
#include "encore/data/weighting.hpp"
#include "encore/models/als.hpp"
#include "encore/models/ensemble.hpp"
#include "encore/kinds/family.hpp"
#include "encore/models/model.hpp"
#include "encore/options/registry.hpp"
#include "encore/query/queries.hpp"
#include "encore/serve/recommender.hpp"
#include "encore/serve/render.hpp"
#include "terminal_reporter.hpp"

namespace encore::cli {

struct IngestArgs {
    std::vector<std::string> inputs;
    std::string format = "auto";
    std::string names;
    bool header = false, no_header = false;
    int user_col = 0, item_col = 1, value_col = 2;
    double min_value = 0;
    bool allow_negative = false, skip_bad_lines = false;
    std::string encoding = "utf8";
};
void add_ingest_options(CLI::App* cmd, IngestArgs& args, bool inputs_may_be_dataset);
IngestOptions to_ingest_options(const IngestArgs& args, CLI::App* cmd, int threads, bool quiet);
// A single .encd input is loaded; anything else is ingested (with a summary line unless quiet).
Dataset load_or_ingest(const IngestArgs& args, CLI::App* cmd, int threads, bool quiet);
void print_ingest_summary(const Dataset& d, const IngestReport& r, bool quiet);

// Model options (the registry's weighting and model groups): each given globally (--factors 32) and,
// where per_model, per model (--bpr.factors 32, which wins over the global value for bpr). Unset
// options take the model's own default (default_model_options). Values are kept as text, checked by
// the registry when parsed and again for the kind when a model's options are built, so an error names
// the exact flag: "--bpr.factors: factors must be in [2, 4096] for bpr, got 1".
struct ModelArgs {
    std::map<std::string, std::string> values;  // "factors" or "bpr.factors" -> text
    std::map<std::string, CLI::Option*> options;
};
void add_model_options(CLI::App* cmd, ModelArgs& args, bool per_model);
// Throws OptionError naming the flag for a malformed or out-of-range value.
ModelOptions to_model_options(const ModelArgs& args, ModelKind kind, int threads, bool quiet);
// The seed given by --seed (0 when unset).
std::uint64_t model_seed(const ModelArgs& args);

// A flag for a registry option: --help shows its type (INT, NUMBER, BOOL or its choices, e.g.
// cg|cholesky), range and default (for kind, when given). The text lands in slot and is checked when
// the command applies it (set_model_option / set_index_option under with_flag), which gives the
// one-line "--factors: factors must be in [1, 4096], got 0". A bool that defaults to false is a plain
// flag (--loss); help replaces the registry's help text.
CLI::Option* add_registry_option(CLI::App* cmd, const OptionSpec& spec, const std::string& flag, std::string& slot,
                                 std::string_view kind = {}, const std::string& help = {});
// The same for an int option bound to target, checked while parsing (a CLI11 error naming the flag).
CLI::Option* add_registry_option(CLI::App* cmd, const OptionSpec& spec, const std::string& flag, int& target);
// Applies a checked setter, turning its OptionError into one that names the flag ("--flag: message").
void with_flag(const std::string& flag, const std::function<void()>& set);

// Weighting + training on a dataset -> a complete Model (ids, names, confidences, provenance).
Model train_model(const Dataset& data, const ModelArgs& args, ModelKind kind, int threads, bool quiet,
                  const std::string& source, double* train_seconds = nullptr);

// --threads / --quiet / --json, declared the same way everywhere.
void add_threads(CLI::App* cmd, int& threads);
void add_quiet(CLI::App* cmd, bool& quiet);

// The options every query command shares (related, recommend): result count, batch output, filters,
// JSON, an optional ANN index, model verification, threads, quiet.
struct QueryArgs {
    std::string model, output, only, exclude, index;
    int n = 10, search = 0;
    bool json = false, names = false, no_verify = false, quiet = false, float32 = false, no_header = false;
    int threads = 0;
};
// batch_flag names the flag that selects batch mode ("--all", "--all-users") in the help texts.
void add_query_options(CLI::App* cmd, QueryArgs& args, const std::string& batch_flag);
// Opens the batch output (-o; checked before any work), runs a batch query with progress over every
// query of `queries` and writes its TSV, or JSON Lines with --json.
void run_batch(const QueryArgs& args, const Recommender& rec, const std::string& label, const StringTable& queries,
               const std::function<std::vector<std::vector<Recommendation>>(const Batch&)>& compute);

// Several models given to related / recommend (rank by their ensemble): the positional further models,
// --ensemble FILE and --candidates N (returned, to tell whether it was given).
struct EnsembleArgs {
    std::vector<std::string> more_models;
    std::string ensemble;
    int candidates = 50;
    bool active() const { return !more_models.empty() || !ensemble.empty(); }
};
CLI::Option* add_ensemble_options(CLI::App* cmd, EnsembleArgs& args);
// The Recommender a query command asks: the model, the further models and --ensemble (an ensemble),
// --index, --no-verify, --threads.
Recommender open_recommender(const QueryArgs& args, const EnsembleArgs& ensemble);

// Query output on standard output: text table or the JSON contract (encore/serve/render.hpp).
void print_results(const Model& m, const std::string& title, const std::vector<Recommendation>& results, bool json,
                   const nlohmann::json& query_json);

}  // namespace encore::cli
