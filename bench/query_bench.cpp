// Single-query latency and open time of the Recommender (encore/serve/recommender.hpp), one thread.
//
//   build/query_bench MODEL.encm --index GRAPH.enci [--queries 2000] [--rounds 3] [--n 10] [--dump DIR]
//
// Each round, in this order:
//   - open time: Recommender::open of model + index with verify off (mapping and the compatibility
//     checks; factors are prepared on first use), then warm() (unit-length factors, popularity, Gram
//     matrices), then the first query after a fresh open; and open with verify on (every checksum read);
//   - latency of single queries on a warmed Recommender, one query at a time from one thread, each
//     timed on its own: related items exact, related items through the graph index, recommend for a
//     known user exact (played items filtered). The query items and users are drawn once (seed 1),
//     the same in every round.
// Prints each round and the median of the rounds' p50 / p90 / p99, plus the index's recall@n against the
// exact answers of the same queries. --dump DIR writes the factors, played items and query ids as raw
// arrays for bench/query_peers.py (numpy, implicit, hnswlib on the same problem).
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "encore/serve/recommender.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double since_ms(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

struct Percentiles {
    double p50 = 0, p90 = 0, p99 = 0;
};

Percentiles percentiles(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    auto at = [&](double q) { return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1))]; };
    return {at(0.5), at(0.9), at(0.99)};
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

template <class F>
Percentiles time_each(const std::vector<std::int32_t>& queries, F&& f) {
    std::vector<double> us;
    us.reserve(queries.size());
    for (std::int32_t q : queries) {
        auto t0 = Clock::now();
        f(q);
        us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
    return percentiles(std::move(us));
}

template <class T>
void write_raw(const std::filesystem::path& p, const T* data, std::size_t count) {
    std::ofstream f(p, std::ios::binary);
    f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(count * sizeof(T)));
    if (!f) throw std::runtime_error("cannot write " + p.string());
}

void dump(const std::string& dir, const encore::Model& m, const std::vector<std::int32_t>& items,
          const std::vector<std::int32_t>& users, int n) {
    std::filesystem::create_directories(dir);
    auto dense = [&](const encore::Matrix& x, const char* name) {
        std::vector<float> out(static_cast<std::size_t>(x.rows() * x.cols()));
        for (std::int64_t r = 0; r < x.rows(); ++r) std::copy_n(x.row(r), x.cols(), out.data() + r * x.cols());
        write_raw(std::filesystem::path(dir) / name, out.data(), out.size());
    };
    dense(m.item_factors, "items.f32");
    dense(m.user_factors, "users.f32");
    const auto& ui = m.user_items;
    write_raw(std::filesystem::path(dir) / "played_indptr.i64", ui.indptr.data(), static_cast<std::size_t>(ui.rows + 1));
    write_raw(std::filesystem::path(dir) / "played_indices.i32", ui.indices.data(), static_cast<std::size_t>(ui.nnz()));
    write_raw(std::filesystem::path(dir) / "query_items.i32", items.data(), items.size());
    write_raw(std::filesystem::path(dir) / "query_users.i32", users.data(), users.size());
    nlohmann::json meta = {{"items", m.n_items()}, {"users", m.n_users()}, {"factors", m.factors()}, {"n", n},
                           {"query_items", items.size()}, {"query_users", users.size()}};
    std::ofstream(std::filesystem::path(dir) / "meta.json") << meta.dump(2) << "\n";
}

}  // namespace

int main(int argc, char** argv) {
    std::string model, index, dump_dir;
    int queries = 2000, rounds = 3, n = 10;
    CLI::App app("encore single-query latency and open time (one thread)");
    app.add_option("model", model, "Model file (.encm) with factors")->required();
    app.add_option("--index", index, "Cosine graph index of the model's items (.enci)")->required();
    app.add_option("--queries", queries, "Queries of each kind per round");
    app.add_option("--rounds", rounds, "Rounds (medians are reported)");
    app.add_option("-n", n, "Results per query");
    app.add_option("--dump", dump_dir, "Write factors, played items and query ids for bench/query_peers.py");
    CLI11_PARSE(app, argc, argv);

    omp_set_num_threads(1);  // single-query latency on one thread: no parallel region may fan out
    using encore::Recommender;
    const encore::RecommenderOptions exact_opts{.models = {model}, .verify = false, .threads = 1};
    const encore::RecommenderOptions index_opts{.models = {model}, .indexes = {index}, .verify = false, .threads = 1};

    auto exact = Recommender::open(exact_opts);
    auto graph = Recommender::open(index_opts);
    exact.warm();
    graph.warm();
    const auto& m = exact.model();
    std::mt19937_64 rng(1);
    std::vector<std::int32_t> items(static_cast<std::size_t>(queries)), users(static_cast<std::size_t>(queries));
    for (auto& i : items) i = static_cast<std::int32_t>(std::uniform_int_distribution<std::int64_t>(0, m.n_items() - 1)(rng));
    for (auto& u : users) u = static_cast<std::int32_t>(std::uniform_int_distribution<std::int64_t>(0, m.n_users() - 1)(rng));
    if (!dump_dir.empty()) dump(dump_dir, m, items, users, n);

    // Recall of the index against the exact answers of the same queries.
    double hits = 0, total = 0;
    for (std::int32_t i : items) {
        std::unordered_set<std::int32_t> truth;
        for (const auto& r : exact.related(i, {.n = n})) truth.insert(r.id);
        for (const auto& r : graph.related(i, {.n = n})) hits += truth.count(r.id);
        total += static_cast<double>(truth.size());
    }
    const double recall = hits / std::max(1.0, total);

    std::vector<double> open_ms, warm_ms, first_ms, verify_ms;
    std::vector<Percentiles> rel_exact, rel_graph, rec_exact;
    volatile std::size_t sink = 0;  // keeps results observable
    fmt::print("# {} items x {} factors, {} users; {} queries of each kind per round, n = {}, one thread\n",
               m.n_items(), m.factors(), m.n_users(), queries, n);
    fmt::print("# graph index recall@{} against exact on these queries: {:.4f}\n", n, recall);
    for (int round = 0; round < rounds; ++round) {
        auto t0 = Clock::now();
        auto fresh = Recommender::open(index_opts);
        open_ms.push_back(since_ms(t0));
        t0 = Clock::now();
        fresh.warm();
        warm_ms.push_back(since_ms(t0));
        {
            auto cold = Recommender::open(index_opts);
            t0 = Clock::now();
            sink = sink + cold.related(items[0], {.n = n}).size();
            first_ms.push_back(since_ms(t0));
        }
        {
            auto opts = index_opts;
            opts.verify = true;
            t0 = Clock::now();
            auto verified = Recommender::open(opts);
            verify_ms.push_back(since_ms(t0));
        }
        rel_exact.push_back(time_each(items, [&](std::int32_t i) { sink = sink + exact.related(i, {.n = n}).size(); }));
        rel_graph.push_back(time_each(items, [&](std::int32_t i) { sink = sink + graph.related(i, {.n = n}).size(); }));
        rec_exact.push_back(time_each(users, [&](std::int32_t u) { sink = sink + exact.recommend(u, {.n = n}).size(); }));
        fmt::print("round {}: open {:.2f} ms, warm {:.1f} ms, first related after open {:.1f} ms, open+verify {:.1f} ms; "
                   "p50 related exact {:.3f} ms, related graph {:.4f} ms, recommend exact {:.3f} ms\n",
                   round + 1, open_ms.back(), warm_ms.back(), first_ms.back(), verify_ms.back(), rel_exact.back().p50 / 1e3,
                   rel_graph.back().p50 / 1e3, rec_exact.back().p50 / 1e3);
        std::fflush(stdout);
    }
    auto med = [](const std::vector<Percentiles>& v, double Percentiles::*f) {
        std::vector<double> x;
        for (const auto& p : v) x.push_back(p.*f / 1e3);
        return median(x);
    };
    fmt::print("\n| query (one thread) | p50 | p90 | p99 |\n|---|---|---|---|\n");
    auto row = [&](const char* name, const std::vector<Percentiles>& v) {
        fmt::print("| {} | {:.4f} ms | {:.4f} ms | {:.4f} ms |\n", name, med(v, &Percentiles::p50), med(v, &Percentiles::p90),
                   med(v, &Percentiles::p99));
    };
    row("related, exact", rel_exact);
    row("related, graph index", rel_graph);
    row("recommend, known user, exact", rec_exact);
    fmt::print("\n| open (model + index) | median |\n|---|---|\n");
    fmt::print("| open, verify off | {:.2f} ms |\n| warm() | {:.1f} ms |\n| first related through the index after open | {:.1f} ms |\n"
               "| open, verify on | {:.1f} ms |\n",
               median(open_ms), median(warm_ms), median(first_ms), median(verify_ms));
    nlohmann::json j = {{"related_exact_p50_ms", med(rel_exact, &Percentiles::p50)},
                        {"related_graph_p50_ms", med(rel_graph, &Percentiles::p50)},
                        {"recommend_exact_p50_ms", med(rec_exact, &Percentiles::p50)},
                        {"open_ms", median(open_ms)},
                        {"warm_ms", median(warm_ms)},
                        {"first_query_ms", median(first_ms)},
                        {"open_verify_ms", median(verify_ms)},
                        {"graph_recall", recall}};
    fmt::print("\n{}\n", j.dump());
    return sink == 0 ? 1 : 0;
}
