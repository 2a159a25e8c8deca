#include "common.hpp"

#include "commands.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <iostream>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <omp.h>

#include "encore/util/error.hpp"
#include "encore/util/progress.hpp"
#include "encore/util/threads.hpp"

namespace encore::cli {

void add_threads(CLI::App* cmd, int& threads) {
    cmd->add_option("--threads", threads, "Worker threads (0 = all cores)")->type_name("INT")->check(CLI::NonNegativeNumber);
}

void add_quiet(CLI::App* cmd, bool& quiet) {
    cmd->add_flag("-q,--quiet", quiet, "No progress or status output on stderr");
}

void add_ingest_options(CLI::App* cmd, IngestArgs& a, bool inputs_may_be_dataset) {
    cmd->add_option("inputs", a.inputs,
                    inputs_may_be_dataset ? "Play logs (or one .encd dataset); '-' = standard input"
                                          : "Play logs; '-' = standard input")
        ->required();
    auto* g = cmd->add_option_group("Input");
    g->add_option("--format", a.format, "auto|lastfm360k|lastfm2k|movielens|csv|tsv")->type_name("FORMAT")->capture_default_str();
    g->add_option("--names", a.names, "Display names file (artists.dat, u.item, movies.csv, or key<sep>name)")->type_name("FILE");
    auto* h = g->add_flag("--header", a.header, "The first row is a header (default: auto-detect)");
    auto* nh = g->add_flag("--no-header", a.no_header, "The first row is data");
    h->excludes(nh);
    g->add_option("--user-col", a.user_col, "csv/tsv: user column (0-based)")->type_name("INT")->capture_default_str();
    g->add_option("--item-col", a.item_col, "csv/tsv: item column (0-based)")->type_name("INT")->capture_default_str();
    g->add_option("--value-col", a.value_col, "csv/tsv: value column (0-based; -1 = each row counts 1)")->type_name("INT")
        ->capture_default_str();
    g->add_option("--min-value", a.min_value, "Keep rows with value >= X (e.g. ratings >= 4)")->type_name("NUMBER");
    g->add_flag("--allow-negative", a.allow_negative, "Keep negative values as dislikes (see docs/algorithms.md)");
    g->add_flag("--skip-bad-lines", a.skip_bad_lines, "Skip malformed rows (counted and summarised) instead of stopping");
    g->add_option("--encoding", a.encoding,
                  "Text encoding of keys and names: utf8 (invalid bytes are an error), latin1 (converted), replace "
                  "(invalid bytes become U+FFFD)")
        ->capture_default_str()
        ->type_name("ENCODING");
}

IngestOptions to_ingest_options(const IngestArgs& a, CLI::App* cmd, int threads, bool quiet) {
    IngestOptions o;
    o.format = parse_input_format(a.format);
    o.names_file = a.names;
    if (a.header) o.header = true;
    if (a.no_header) o.header = false;
    o.user_col = a.user_col;
    o.item_col = a.item_col;
    o.value_col = a.value_col;
    if (cmd->count("--min-value") > 0) o.min_value = a.min_value;
    o.allow_negative = a.allow_negative;
    o.skip_bad_lines = a.skip_bad_lines;
    o.encoding = parse_text_encoding(a.encoding);
    o.threads = threads;
    o.reporter = stderr_reporter(quiet);
    return o;
}

void print_ingest_summary(const Dataset& d, const IngestReport& r, bool quiet) {
    if (quiet && r.bad_lines == 0) return;
    if (r.bad_lines > 0) {
        // Always said, even when quiet: rows were dropped.
        std::fprintf(stderr, "encore: skipped %lld malformed line%s\n", static_cast<long long>(r.bad_lines),
                     r.bad_lines == 1 ? "" : "s");
        for (const auto& ex : r.bad_examples) std::fprintf(stderr, "  %s\n", ex.c_str());
        if (r.bad_lines > static_cast<std::int64_t>(r.bad_examples.size())) std::fprintf(stderr, "  ...\n");
    }
    if (quiet) return;
    info(false, fmt::format("ingested {} lines ({:.1f} MB) in {:.2f} s ({:.0f} MB/s): {} users, {} items, {} "
                            "non-zeros; {} duplicates summed, {} below --min-value",
                            r.lines, r.bytes / 1e6, r.seconds, r.seconds > 0 ? r.bytes / 1e6 / r.seconds : 0.0,
                            d.n_users(), d.n_items(), d.nnz(), r.duplicates, r.rows_below_min));
}

Dataset load_or_ingest(const IngestArgs& a, CLI::App* cmd, int threads, bool quiet) {
    if (a.inputs.size() == 1 && a.inputs[0] != "-" && is_dataset_file(a.inputs[0])) {
        auto d = load_dataset(a.inputs[0]);
        info(quiet, fmt::format("loaded {}: {} users, {} items, {} non-zeros", a.inputs[0], d.n_users(), d.n_items(),
                                d.nnz()));
        return d;
    }
    IngestReport report;
    auto d = ingest(a.inputs, to_ingest_options(a, cmd, threads, quiet), &report);
    print_ingest_summary(d, report, quiet);
    return d;
}

namespace {

bool is_model_option(const OptionSpec& s) { return s.group == OptionGroup::weighting || s.group == OptionGroup::model; }

// A bool whose default is false for every kind is a plain flag (--loss); others take true|false.
bool is_flag(const OptionSpec& s, std::string_view kind) {
    if (s.type != OptionType::boolean) return false;
    const auto& kinds = kind.empty() ? s.kinds : std::vector<std::string>{std::string(kind)};
    if (kinds.empty()) return option_default(s) == OptionValue(false);
    return std::all_of(kinds.begin(), kinds.end(), [&](const std::string& k) { return option_default(s, k) == OptionValue(false); });
}

std::string type_label(const OptionSpec& s) {
    switch (s.type) {
        case OptionType::integer:
        case OptionType::uint64: return "INT";
        case OptionType::number: return "NUMBER";
        case OptionType::boolean: return "BOOL";
        case OptionType::choice: return option_range_text(s);
    }
    return "";
}

// The registry's type label, default and range check on a CLI11 option.
// validate: also check the value while parsing (a CLI11 error); text slots are checked by the command
// instead, which gives the one-line "encore: error: --flag: ..." message.
CLI::Option* describe(CLI::Option* opt, const OptionSpec& spec, std::string_view kind, const std::string& help,
                      bool validate) {
    const std::string def = option_default_text(spec, kind);
    std::string range = spec.type == OptionType::integer || spec.type == OptionType::number
                            ? option_range_text(spec, kind) : "";
    std::vector<std::string> notes;
    if (!range.empty()) notes.push_back(range.starts_with("[") || range.starts_with("(") ? "in " + range : range);
    if (!def.empty()) notes.push_back("default " + def);
    std::string text = help.empty() ? spec.help : help;
    if (!notes.empty()) text += fmt::format(" ({})", fmt::join(notes, "; "));
    opt->description(text);
    if (!is_flag(spec, kind)) opt->type_name(type_label(spec));
    if (!validate) return opt;
    const std::string k(kind);
    return opt->check(CLI::Validator(
        [&spec, k](std::string& value) -> std::string {
            try {
                check_option(spec, value, k);
                return {};
            } catch (const OptionError& e) {
                return e.what();
            }
        },
        "", spec.name));
}

}  // namespace

CLI::Option* add_registry_option(CLI::App* cmd, const OptionSpec& spec, const std::string& flag, std::string& slot,
                                 std::string_view kind, const std::string& help) {
    auto* opt = is_flag(spec, kind) ? cmd->add_flag(flag, slot) : cmd->add_option(flag, slot);
    return describe(opt, spec, kind, help, false);
}

CLI::Option* add_registry_option(CLI::App* cmd, const OptionSpec& spec, const std::string& flag, int& target) {
    auto* opt = cmd->add_option_function<std::string>(flag, [&spec, &target](const std::string& text) {
        target = static_cast<int>(std::get<std::int64_t>(check_option(spec, text)));
    });
    return describe(opt, spec, {}, {}, true);
}

void with_flag(const std::string& flag, const std::function<void()>& set) {
    try {
        set();
    } catch (const OptionError& e) {
        throw OptionError(fmt::format("{}: {}", flag, e.what()));
    }
}

void add_model_options(CLI::App* cmd, ModelArgs& a, bool per_model) {
    auto* g = cmd->add_option_group("Model options");
    for (const auto& spec : option_registry()) {
        if (!is_model_option(spec)) continue;
        a.options[spec.name] = add_registry_option(g, spec, "--" + spec.name, a.values[spec.name]);
    }
    if (!per_model) return;
    auto* p = cmd->add_option_group("Per-model options", "--MODEL.OPTION VALUE, e.g. --bpr.learning-rate 0.05");
    for (const auto& kind : model_kind_names())
        for (const auto& spec : option_registry()) {
            if (!is_model_option(spec) || !spec.applies_to(kind)) continue;
            const std::string key = fmt::format("{}.{}", kind, spec.name);
            a.options[key] = add_registry_option(p, spec, "--" + key, a.values[key], kind,
                                                 fmt::format("{} for {}", spec.name, kind));
        }
}

ModelOptions to_model_options(const ModelArgs& a, ModelKind kind, int threads, bool quiet) {
    ModelOptions o = default_model_options(kind);
    const std::string name(model_kind_name(kind));
    auto given = [&](const std::string& key) {
        auto it = a.options.find(key);
        return it != a.options.end() && it->second->count() > 0;
    };
    for (const auto& spec : option_registry()) {
        if (!is_model_option(spec) || !spec.applies_to(name)) continue;
        // A per-model value wins over the global one; both are checked for this kind when given.
        for (const std::string& key : {spec.name, fmt::format("{}.{}", name, spec.name)})
            if (given(key)) with_flag("--" + key, [&] { set_model_option(o, spec.name, a.values.at(key)); });
    }
    o.threads = threads;
    o.reporter = stderr_reporter(quiet);
    return o;
}

std::uint64_t model_seed(const ModelArgs& a) {
    auto it = a.options.find("seed");
    if (it == a.options.end() || it->second->count() == 0) return 0;
    std::uint64_t seed = 0;
    with_flag("--seed", [&] {
        seed = std::get<std::uint64_t>(check_option(find_option("seed", {OptionGroup::model}), a.values.at("seed")));
    });
    return seed;
}

Model train_model(const Dataset& data, const ModelArgs& a, ModelKind kind, int threads, bool quiet,
                  const std::string& source, double* train_seconds) {
    TrainReport report;
    auto m = encore::train_model(data, to_model_options(a, kind, threads, quiet), source, &report);
    if (train_seconds) *train_seconds = report.seconds;
    return m;
}

void add_query_options(CLI::App* cmd, QueryArgs& a, const std::string& batch_flag) {
    cmd->add_option("model", a.model, "Model file (.encm)")->type_name("FILE")->required();
    add_registry_option(cmd, find_option("n", {OptionGroup::query}), "-n", a.n);
    cmd->add_option("-o,--output", a.output,
                    batch_flag + ": output file, TSV (JSON Lines with --json), written atomically (default: standard output)")
        ->type_name("FILE");
    cmd->add_flag("--names", a.names, batch_flag + ": write item display names instead of keys");
    cmd->add_flag("--no-header", a.no_header, batch_flag + ": no 'query\trank\tresult\tscore' header line in the TSV");
    cmd->add_flag("--float32", a.float32,
                  batch_flag + ": score every pair in float32 (no bf16 candidate pass; same results, slower)");
    cmd->add_option("--only", a.only, "Only return items listed in FILE (one key or name per line)")->type_name("FILE");
    cmd->add_option("--exclude", a.exclude, "Never return items listed in FILE")->type_name("FILE");
    cmd->add_flag("--json", a.json, "JSON output (see README); " + batch_flag + ": JSON Lines, one object per query");
    add_index_options(cmd, a.index, a.search);
    cmd->add_flag("--no-verify", a.no_verify, "Skip checksum verification when loading the model");
    add_threads(cmd, a.threads);
    add_quiet(cmd, a.quiet);
}

CLI::Option* add_ensemble_options(CLI::App* cmd, EnsembleArgs& e) {
    cmd->add_option("more_models", e.more_models, "Further model files (.encm): rank by the ensemble of all models given")->type_name("FILE");
    cmd->add_option("--ensemble", e.ensemble,
                    "Ensemble weights (.ence, from `encore ensemble`) for the models given, in the same order")->type_name("FILE");
    return add_registry_option(cmd, find_option("candidates", {OptionGroup::query}), "--candidates", e.candidates);
}

Recommender open_recommender(const QueryArgs& a, const EnsembleArgs& e) {
    RecommenderOptions o;
    o.models.push_back(a.model);
    o.models.insert(o.models.end(), e.more_models.begin(), e.more_models.end());
    if (!a.index.empty()) o.indexes.push_back(a.index);
    o.ensemble = e.ensemble;
    o.candidates = e.candidates;
    o.verify = !a.no_verify;
    o.threads = a.threads;
    return Recommender::open(o);
}

void run_batch(const QueryArgs& a, const Recommender& rec, const std::string& label, const StringTable& queries,
               const std::function<std::vector<std::vector<Recommendation>>(const Batch&)>& compute) {
    BatchWriter out(a.output, {.format = a.json ? BatchFormat::jsonl : BatchFormat::tsv, .header = !a.no_header, .names = a.names});
    Progress progress(label, static_cast<double>(queries.size()), stderr_reporter(a.quiet),
                      &queries == &rec.model().items ? "items" : "users");
    auto results = compute({.threads = a.threads, .progress = &progress, .low_precision = !a.float32});
    progress.finish();
    out.write(rec.model(), queries, results);
}

void print_results(const Model& m, const std::string& title, const std::vector<Recommendation>& results, bool json,
                   const nlohmann::json& query_json) {
    encore::print_results(std::cout, m, title, results, json, query_json);
}

}  // namespace encore::cli
