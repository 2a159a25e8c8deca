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
    o.quiet = quiet;
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

using K = ModelKind;

// One model option: its flag name, help text, the kinds it applies to, and how it sets a value.
struct OptionSpec {
    const char* name;
    const char* help;
    std::vector<ModelKind> kinds;
    std::function<void(ModelOptions&, const std::string& flag, const std::string& text)> apply;
};

double parse_number(const std::string& flag, const std::string& text, double lo, double hi) {
    double v = 0;
    std::size_t used = 0;
    try {
        v = std::stod(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != text.size() || !std::isfinite(v))
        throw OptionError(fmt::format("--{}: expected a number, got '{}'", flag, text));
    if (v < lo || v > hi) throw OptionError(fmt::format("--{}: {} is out of range [{}, {}]", flag, text, lo, hi));
    return v;
}

int parse_int(const std::string& flag, const std::string& text, int lo, int hi) {
    double v = parse_number(flag, text, lo, hi);
    if (v != static_cast<double>(static_cast<int>(v)))
        throw OptionError(fmt::format("--{}: expected an integer, got '{}'", flag, text));
    return static_cast<int>(v);
}

bool parse_bool(const std::string& flag, const std::string& text) {
    if (text == "true" || text == "1" || text == "yes" || text == "on") return true;
    if (text == "false" || text == "0" || text == "no" || text == "off") return false;
    throw OptionError(fmt::format("--{}: expected true or false, got '{}'", flag, text));
}

const std::vector<ModelKind> kAll = {K::als, K::lsa, K::bpr, K::lmf, K::knn, K::popular};
const std::vector<ModelKind> kFactor = {K::als, K::lsa, K::bpr, K::lmf};

const std::vector<OptionSpec>& option_specs() {
    static const std::vector<OptionSpec> specs = {
        {"weighting", "none|bm25|tfidf|linear|log (default: bm25; bpr and popular none; lmf log with alpha 1; knn log)", kAll,
         [](ModelOptions& o, const std::string&, const std::string& t) { o.weighting.kind = parse_weighting(t); }},
        {"K1", "bm25 K1 (default 100; also knn's bm25 similarity, default 1.2 there)", kAll,
         [](ModelOptions& o, const std::string& f, const std::string& t) {
             o.weighting.K1 = o.knn.K1 = static_cast<float>(parse_number(f, t, 0, 1e30));
         }},
        {"B", "bm25 B (default 0.8; also knn's bm25 similarity, default 0.75 there)", kAll,
         [](ModelOptions& o, const std::string& f, const std::string& t) {
             o.weighting.B = o.knn.B = static_cast<float>(parse_number(f, t, 0, 1));
         }},
        {"alpha", "Confidence scale: c = alpha*w for none/bm25/tfidf (default 1), 1 + alpha*x for linear/log (default 40)",
         kAll, [](ModelOptions& o, const std::string& f, const std::string& t) {
             o.weighting.alpha = static_cast<float>(parse_number(f, t, 0, 1e30));
         }},
        {"eps", "log: c = 1 + alpha*log(1 + x/eps) (default 1)", kAll,
         [](ModelOptions& o, const std::string& f, const std::string& t) {
             o.weighting.eps = static_cast<float>(parse_number(f, t, 0, 1e30));
         }},
        {"factors", "Latent factors (default 64; bpr: one is the item bias; lmf: plus two bias columns)", kFactor,
         [](ModelOptions& o, const std::string& f, const std::string& t) {
             o.als.factors = o.lsa.factors = o.bpr.factors = o.lmf.factors = parse_int(f, t, 1, 4096);
         }},
        {"regularization", "L2 regularization (default 0.01)", {K::als, K::bpr, K::lmf},
         [](ModelOptions& o, const std::string& f, const std::string& t) {
             o.als.regularization = o.bpr.regularization = o.lmf.regularization =
                 static_cast<float>(parse_number(f, t, 0, 1e30));
         }},
        {"iterations", "Iterations / epochs (default: als 15, bpr 100, lmf 30)", {K::als, K::bpr, K::lmf},
         [](ModelOptions& o, const std::string& f, const std::string& t) {
             o.als.iterations = o.bpr.iterations = o.lmf.iterations = parse_int(f, t, 0, 100000);
         }},
        {"learning-rate", "SGD / AdaGrad step (default 0.05)", {K::bpr, K::lmf},
         [](ModelOptions& o, const std::string& f, const std::string& t) {
             o.bpr.learning_rate = o.lmf.learning_rate = static_cast<float>(parse_number(f, t, 1e-12, 1e30));
         }},
        {"solver", "als: cg|cholesky (default cg)", {K::als},
         [](ModelOptions& o, const std::string&, const std::string& t) { o.als.solver = parse_als_solver(t); }},
        {"cg-steps", "als: conjugate-gradient steps per row per iteration (default 3)", {K::als},
         [](ModelOptions& o, const std::string& f, const std::string& t) { o.als.cg_steps = parse_int(f, t, 1, 1000); }},
        {"cg-gather", "als cg: precision of the gathered factor rows, half|float (default half)", {K::als},
         [](ModelOptions& o, const std::string& f, const std::string& t) {
             if (t == "half" || t == "float")
                 o.als.half_gather = t == "half";
             else
                 throw OptionError(fmt::format("--{}: expected half or float (got '{}')", f, t));
         }},
        {"cg-basis", "als cg: the basis CG works in, eigen|original (default eigen: Y^T Y + lambda I is diagonal)",
         {K::als},
         [](ModelOptions& o, const std::string& f, const std::string& t) {
             if (t == "eigen" || t == "original")
                 o.als.eigenbasis = t == "eigen";
             else
                 throw OptionError(fmt::format("--{}: expected eigen or original (got '{}')", f, t));
         }},
        {"cg-precondition", "als cg: precondition by the Gram eigenvalues, with --cg-basis eigen (true|false, default true)", {K::als},
         [](ModelOptions& o, const std::string& f, const std::string& t) { o.als.cg_precondition = parse_bool(f, t); }},
        {"oversample", "lsa: extra random directions in the range finder (default 10)", {K::lsa},
         [](ModelOptions& o, const std::string& f, const std::string& t) { o.lsa.oversample = parse_int(f, t, 0, 10000); }},
        {"power-iterations", "lsa: power iterations of the range finder (default 4)", {K::lsa},
         [](ModelOptions& o, const std::string& f, const std::string& t) {
             o.lsa.power_iterations = parse_int(f, t, 0, 1000);
         }},
        {"verify-negatives", "bpr: skip or re-draw negatives the user played (true|false, default true)", {K::bpr},
         [](ModelOptions& o, const std::string& f, const std::string& t) { o.bpr.verify_negatives = parse_bool(f, t); }},
        {"redraw-negatives", "bpr: re-draws of a played negative before the sample is skipped (default 0)", {K::bpr},
         [](ModelOptions& o, const std::string& f, const std::string& t) {
             o.bpr.redraw_negatives = parse_int(f, t, 0, 1000000);
         }},
        {"negatives", "bpr: uniform|popular: how negatives are drawn (default uniform; popular = as implicit)", {K::bpr},
         [](ModelOptions& o, const std::string& f, const std::string& t) {
             if (t != "uniform" && t != "popular")
                 throw OptionError(fmt::format("--{}: expected uniform or popular, got '{}'", f, t));
             o.bpr.popular_negatives = t == "popular";
         }},
        {"negative-samples", "lmf: sampled negatives per positive (default 30)", {K::lmf},
         [](ModelOptions& o, const std::string& f, const std::string& t) {
             o.lmf.negative_samples = parse_int(f, t, 0, 1000000);
         }},
        {"similarity", "knn: cosine|tfidf|bm25 (default cosine)", {K::knn},
         [](ModelOptions& o, const std::string&, const std::string& t) { o.knn.similarity = parse_knn_similarity(t); }},
        {"neighbours", "knn: neighbours kept per item (default 20)", {K::knn},
         [](ModelOptions& o, const std::string& f, const std::string& t) { o.knn.K = parse_int(f, t, 1, 1000000); }},
        {"seed", "Random seed: the eval split and every model (same seed + threads = same model; bpr: with 1 thread)",
         kAll, [](ModelOptions& o, const std::string& f, const std::string& t) {
             double v = parse_number(f, t, 0, 1.8e19);
             o.als.seed = o.lsa.seed = o.bpr.seed = o.lmf.seed = static_cast<std::uint64_t>(v);
         }},
    };
    return specs;
}

bool applies(const OptionSpec& s, ModelKind k) { return std::find(s.kinds.begin(), s.kinds.end(), k) != s.kinds.end(); }

}  // namespace

void add_model_options(CLI::App* cmd, ModelArgs& a, bool per_model) {
    auto* g = cmd->add_option_group("Model options");
    for (const auto& spec : option_specs()) {
        std::string& slot = a.values[spec.name];
        a.options[spec.name] = g->add_option(fmt::format("--{}", spec.name), slot, spec.help);
    }
    g->add_flag("--loss", a.loss, "als: compute and show the training loss after every iteration");
    if (!per_model) return;
    auto* p = cmd->add_option_group("Per-model options", "--MODEL.OPTION VALUE, e.g. --bpr.learning-rate 0.05");
    for (auto kind : kAll)
        for (const auto& spec : option_specs()) {
            if (!applies(spec, kind)) continue;
            std::string key = fmt::format("{}.{}", model_kind_name(kind), spec.name);
            std::string& slot = a.values[key];
            a.options[key] = p->add_option("--" + key, slot, fmt::format("{} for {}", spec.name, model_kind_name(kind)));
        }
}

ModelOptions to_model_options(const ModelArgs& a, ModelKind kind, int threads, bool quiet) {
    ModelOptions o = default_model_options(kind);
    auto given = [&](const std::string& key) {
        auto it = a.options.find(key);
        return it != a.options.end() && it->second->count() > 0;
    };
    for (const auto& spec : option_specs()) {
        if (!applies(spec, kind)) continue;
        // A per-model value wins over the global one; both are checked when given.
        const std::string key = fmt::format("{}.{}", model_kind_name(kind), spec.name);
        if (given(spec.name)) spec.apply(o, spec.name, a.values.at(spec.name));
        if (given(key)) spec.apply(o, key, a.values.at(key));
    }
    o.als.compute_loss = a.loss;
    o.threads = threads;
    o.quiet = quiet;
    return o;
}

std::uint64_t model_seed(const ModelArgs& a) {
    auto it = a.options.find("seed");
    if (it == a.options.end() || it->second->count() == 0) return 0;
    return static_cast<std::uint64_t>(parse_number("seed", a.values.at("seed"), 0, 1.8e19));
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
    cmd->add_option("-n", a.n, "Results per query")->capture_default_str()->check(CLI::Range(1, 1000000))->type_name("INT");
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
    return cmd->add_option("--candidates", e.candidates, "Ensemble without --ensemble: each model's top-N candidates")->type_name("INT")
        ->capture_default_str()
        ->check(CLI::Range(1, 1000000));
}

std::unique_ptr<EnsembleMembers> load_ensemble_members(const Model& first, const EnsembleArgs& e, bool verify) {
    auto out = std::make_unique<EnsembleMembers>();
    for (const auto& path : e.more_models) out->more.push_back(load_model(path, verify));
    out->models = {&first};
    for (const auto& m : out->more) out->models.push_back(&m);
    out->ensemble = e.ensemble.empty() ? equal_weight_ensemble(out->models, e.candidates) : load_ensemble(e.ensemble);
    check_ensemble_models(out->ensemble, out->models);
    return out;
}

void run_batch(const QueryArgs& a, const Model& m, const std::string& label, const StringTable& queries,
               QueryOptions q, const std::function<std::vector<std::vector<Recommendation>>(const QueryOptions&)>& compute) {
    BatchWriter out(a.output, {.format = a.json ? BatchFormat::jsonl : BatchFormat::tsv, .header = !a.no_header, .names = a.names});
    Progress progress(label, static_cast<double>(queries.size()), a.quiet, &queries == &m.items ? "items" : "users");
    q.progress = &progress;
    q.low_precision = !a.float32;
    auto results = compute(q);
    progress.finish();
    out.write(m, queries, results);
}

void print_results(const Model& m, const std::string& title, const std::vector<Recommendation>& results, bool json,
                   const nlohmann::json& query_json) {
    encore::print_results(std::cout, m, title, results, json, query_json);
}

}  // namespace encore::cli
