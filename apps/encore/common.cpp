#include "common.hpp"

#include <chrono>
#include <cstdio>
#include <iostream>

#include <fmt/format.h>
#include <omp.h>

#include "encore/io/atomic_file.hpp"
#include "encore/util/error.hpp"
#include "encore/util/progress.hpp"
#include "encore/util/threads.hpp"

namespace encore::cli {

void add_threads(CLI::App* cmd, int& threads) {
    cmd->add_option("--threads", threads, "Worker threads (0 = all cores)")->check(CLI::NonNegativeNumber);
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
    g->add_option("--format", a.format, "auto|lastfm360k|lastfm2k|movielens|csv|tsv")->capture_default_str();
    g->add_option("--names", a.names, "Display names file (artists.dat, u.item, movies.csv, or key<sep>name)");
    auto* h = g->add_flag("--header", a.header, "The first row is a header (default: auto-detect)");
    auto* nh = g->add_flag("--no-header", a.no_header, "The first row is data");
    h->excludes(nh);
    g->add_option("--user-col", a.user_col, "csv/tsv: user column (0-based)")->capture_default_str();
    g->add_option("--item-col", a.item_col, "csv/tsv: item column (0-based)")->capture_default_str();
    g->add_option("--value-col", a.value_col, "csv/tsv: value column (0-based; -1 = each row counts 1)")
        ->capture_default_str();
    g->add_option("--min-value", a.min_value, "Keep rows with value >= X (e.g. ratings >= 4)");
    g->add_flag("--allow-negative", a.allow_negative, "Keep negative values as dislikes (see docs/algorithms.md)");
    g->add_flag("--skip-bad-lines", a.skip_bad_lines, "Skip malformed rows (counted and summarised) instead of stopping");
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

void add_train_options(CLI::App* cmd, TrainArgs& a) {
    auto* w = cmd->add_option_group("Weighting");
    w->add_option("--weighting", a.weighting, "none|bm25|tfidf|linear|log")->capture_default_str();
    w->add_option("--K1", a.K1, "bm25 K1")->capture_default_str();
    w->add_option("--B", a.B, "bm25 B")->capture_default_str();
    w->add_option("--alpha", a.alpha,
                  "Confidence scale: c = alpha*w for none/bm25/tfidf (default 1), 1 + alpha*x for linear/log (default 40)");
    w->add_option("--eps", a.eps, "log: c = 1 + alpha*log(1 + x/eps)")->capture_default_str();
    auto* m = cmd->add_option_group("ALS");
    m->add_option("--factors", a.factors, "Latent factors")->capture_default_str()->check(CLI::Range(1, 4096));
    m->add_option("--regularization", a.regularization, "L2 regularization (lambda)")->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    m->add_option("--iterations", a.iterations, "ALS iterations")->capture_default_str()->check(CLI::Range(0, 100000));
    m->add_option("--solver", a.solver, "cg|cholesky")->capture_default_str();
    m->add_option("--cg-steps", a.cg_steps, "Conjugate-gradient steps per row per iteration")->capture_default_str()
        ->check(CLI::Range(1, 1000));
    m->add_option("--seed", a.seed, "Random seed (same seed + threads = same model)")->capture_default_str();
    m->add_flag("--loss", a.loss, "Compute and show the training loss after every iteration");
}

WeightingOptions to_weighting_options(const TrainArgs& a) {
    WeightingOptions w;
    w.kind = parse_weighting(a.weighting);
    w.K1 = a.K1;
    w.B = a.B;
    w.alpha = a.alpha;
    w.eps = a.eps;
    return w;
}

AlsOptions to_als_options(const TrainArgs& a, int threads, bool quiet) {
    AlsOptions o;
    o.factors = a.factors;
    o.regularization = a.regularization;
    o.iterations = a.iterations;
    o.solver = parse_als_solver(a.solver);
    o.cg_steps = a.cg_steps;
    o.seed = a.seed;
    o.threads = threads;
    o.compute_loss = a.loss;
    o.quiet = quiet;
    return o;
}

Model train_model(const Dataset& data, const TrainArgs& a, int threads, bool quiet, const std::string& source,
                  double* train_seconds) {
    if (data.n_users() == 0 || data.n_items() == 0) throw Error("the dataset has no users or no items");
    auto wopts = to_weighting_options(a);
    auto aopts = to_als_options(a, threads, quiet);
    auto t0 = std::chrono::steady_clock::now();
    Model m;
    m.kind = "als";
    m.weighting = fit_weighting(data.by_user, wopts);
    m.user_items = apply_weighting(data.by_user, m.weighting, threads);
    Csr by_item = m.user_items.transpose(threads);
    AlsReport report;
    train_als(m.user_items, by_item, aopts, m.user_factors, m.item_factors, &report);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (train_seconds) *train_seconds = secs;
    m.users = data.users;
    m.items = data.items;
    m.item_names = data.item_names;
    m.regularization = a.regularization;
    m.info["options"] = {{"factors", a.factors},     {"regularization", a.regularization},
                         {"iterations", a.iterations}, {"solver", a.solver},
                         {"cg_steps", a.cg_steps},   {"seed", a.seed},
                         {"threads", resolve_threads(threads)},
                         {"weighting", a.weighting}, {"K1", a.K1}, {"B", a.B}, {"alpha", wopts.alpha.value_or(default_alpha(wopts.kind))}, {"eps", a.eps}};
    m.info["data"] = data.meta;
    m.info["data"]["source"] = source;
    m.info["training"] = {{"seconds", secs},
                          {"als_seconds", report.seconds},
                          {"seconds_per_iteration", a.iterations > 0 ? report.seconds / a.iterations : 0.0},
                          {"loss", report.loss}};
    info(quiet, fmt::format("trained ALS ({} factors, {} iterations, {}) on {} users x {} items in {:.2f} s",
                            a.factors, a.iterations, a.solver, data.n_users(), data.n_items(), secs));
    return m;
}

nlohmann::json item_json(const Model& m, std::int32_t item) {
    return {{"id", std::string(m.items[static_cast<std::size_t>(item)])}, {"name", std::string(m.item_label(item))}};
}

nlohmann::json results_json(const Model& m, const nlohmann::json& query, const std::vector<Recommendation>& results) {
    nlohmann::json out = {{"query", query}, {"results", nlohmann::json::array()}};
    for (const auto& r : results) {
        auto j = item_json(m, r.id);
        j["score"] = r.score;
        j["because"] = nlohmann::json::array();
        for (const auto& c : r.because) {
            auto b = item_json(m, c.item);
            b["score"] = c.score;
            j["because"].push_back(b);
        }
        out["results"].push_back(j);
    }
    return out;
}

void print_results(const Model& m, const std::string& title, const std::vector<Recommendation>& results, bool json,
                   const nlohmann::json& query_json) {
    if (json) {
        std::cout << results_json(m, query_json, results).dump(2) << "\n";
        return;
    }
    std::cout << title << "\n";
    if (results.empty()) std::cout << "  (no results)\n";
    std::size_t width = 0;
    for (const auto& r : results) width = std::max(width, m.item_label(r.id).size());
    width = std::min<std::size_t>(width, 48);
    int rank = 0;
    for (const auto& r : results) {
        std::cout << fmt::format("{:>4}. {:<{}}  {:.4f}\n", ++rank, m.item_label(r.id), width, r.score);
        if (!r.because.empty()) {
            std::string because;
            for (const auto& c : r.because) {
                if (!because.empty()) because += ", ";
                because += fmt::format("{} ({:.3f})", m.item_label(c.item), c.score);
            }
            std::cout << "        because you played " << because << "\n";
        }
    }
}

void write_batch_tsv(const std::string& path, const std::vector<std::vector<Recommendation>>& results,
                     const StringTable& queries, const Model& m, bool names) {
    // Format blocks of queries in parallel, write them in order.
    const std::int64_t n = static_cast<std::int64_t>(results.size());
    constexpr std::int64_t kBlock = 4096;
    const std::int64_t blocks = (n + kBlock - 1) / kBlock;
    std::vector<std::string> text(static_cast<std::size_t>(blocks));
    auto label = [&](std::int32_t item) { return names ? m.item_label(item) : m.items[static_cast<std::size_t>(item)]; };
#pragma omp parallel for schedule(dynamic, 1)
    for (std::int64_t b = 0; b < blocks; ++b) {
        fmt::memory_buffer buf;
        for (std::int64_t q = b * kBlock; q < std::min(n, (b + 1) * kBlock); ++q) {
            auto qname = (names && &queries == &m.items) ? m.item_label(q) : queries[static_cast<std::size_t>(q)];
            int rank = 0;
            for (const auto& r : results[static_cast<std::size_t>(q)])
                fmt::format_to(std::back_inserter(buf), "{}\t{}\t{}\t{:.6g}\n", qname, ++rank, label(r.id), r.score);
        }
        text[static_cast<std::size_t>(b)] = fmt::to_string(buf);
    }
    if (path.empty() || path == "-") {
        for (const auto& t : text) std::fwrite(t.data(), 1, t.size(), stdout);
        std::fflush(stdout);
        return;
    }
    AtomicFile out(path);
    for (const auto& t : text) out.write(t);
    out.commit();
}

}  // namespace encore::cli
