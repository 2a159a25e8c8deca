// ANN benchmark driver: builds encore's forest and graph indexes over a vector set (Gaussian, or a
// model's item factors), measures build seconds, file bytes, open milliseconds and, for a sweep of
// the query effort, recall@k against exact search and single-thread queries per second. It also
// writes the vectors, queries and exact answers as raw files so bench/ann_peers.py measures hnswlib
// and faiss on exactly the same problem. Results: one JSON object per line on stdout.
//
//   ann_bench --gaussian 291720x64 | --model M.encm   --out DIR [--queries 10000] [--k 10]
//             [--threads 2] [--kinds graph,forest] [--ef 16,24,...] [--search-k 1000,...] [--trees 50] [--leaf-size 512] [--M 16,32]
//             [--ef-construction 120,200] [--alpha 1,1.1] [--seed 1] [--reuse]
// Every M is built with every ef_construction and every alpha (graph); the forest once.
// --reuse: open an index file left in DIR by an earlier run instead of building it (build_s is then
// reported as -1); for iterating on query code.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "encore/kernels/distance.hpp"
#include "encore/models/model.hpp"
#include "encore/retrieval/ann.hpp"
#include "encore/retrieval/topk.hpp"
#include "encore/util/error.hpp"

using namespace encore;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// "a,b,c" -> {a, b, c}, each parsed by parse (std::stoi, std::stof).
template <typename T, typename Parse>
std::vector<T> parse_list(const std::string& s, Parse parse) {
    std::vector<T> out;
    std::size_t p = 0;
    while (p < s.size()) {
        auto e = s.find(',', p);
        if (e == std::string::npos) e = s.size();
        out.push_back(parse(s.substr(p, e - p)));
        p = e + 1;
    }
    return out;
}

std::vector<int> int_list(const std::string& s) {
    return parse_list<int>(s, [](const std::string& x) { return std::stoi(x); });
}

void write_raw(const std::string& path, const void* data, std::size_t bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
    if (!out) throw Error(fmt::format("{}: cannot write", path));
}

// Rows without padding (what numpy reads).
std::vector<float> dense(const Matrix& m) {
    std::vector<float> out(static_cast<std::size_t>(m.rows() * m.cols()));
    for (std::int64_t i = 0; i < m.rows(); ++i) std::copy_n(m.row(i), m.cols(), out.data() + i * m.cols());
    return out;
}

}  // namespace

int main(int argc, char** argv) try {
    std::string gaussian, model_path, out_dir = "build/bench-data/ann", kinds = "graph,forest";
    std::string ef_list = "10,16,24,32,48,64,96,128,160,192", sk_list = "1000,1500,2000,2500,3000,4000,8000";
    int n_queries = 10000, k = 10, threads = 2, trees = 50, leaf_size = IndexBuildOptions{}.leaf_size;
    std::string efc_list = std::to_string(IndexBuildOptions{}.ef_construction);
    std::string alpha_list = fmt::format("{}", IndexBuildOptions{}.prune_alpha);
    std::string m_list = "16,32";
    std::uint64_t seed = 1;
    bool reuse = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) throw Error(fmt::format("{} needs a value", a));
            return argv[++i];
        };
        if (a == "--gaussian") gaussian = next();
        else if (a == "--model") model_path = next();
        else if (a == "--out") out_dir = next();
        else if (a == "--queries") n_queries = std::stoi(next());
        else if (a == "--k") k = std::stoi(next());
        else if (a == "--threads") threads = std::stoi(next());
        else if (a == "--kinds") kinds = next();
        else if (a == "--ef") ef_list = next();
        else if (a == "--search-k") sk_list = next();
        else if (a == "--trees") trees = std::stoi(next());
        else if (a == "--leaf-size") leaf_size = std::stoi(next());
        else if (a == "--M") m_list = next();
        else if (a == "--ef-construction") efc_list = next();
        else if (a == "--alpha") alpha_list = next();
        else if (a == "--seed") seed = std::stoull(next());
        else if (a == "--reuse") reuse = true;
        else throw Error(fmt::format("unknown argument {}", a));
    }
    std::filesystem::create_directories(out_dir);

    Matrix data;
    std::string dataset;
    if (!model_path.empty()) {
        auto model = load_model(model_path);
        data = model.item_factors.clone();
        dataset = "als-items";
    } else {
        auto x = gaussian.find('x');
        if (x == std::string::npos) throw Error("--gaussian ROWSxCOLS");
        const std::int64_t rows = std::stoll(gaussian.substr(0, x)), cols = std::stoll(gaussian.substr(x + 1));
        data = Matrix(rows, cols);
        std::mt19937_64 rng(seed);
        std::normal_distribution<float> g;
        for (std::int64_t i = 0; i < rows; ++i)
            for (std::int64_t j = 0; j < cols; ++j) data(i, j) = g(rng);
        dataset = "gaussian";
    }
    const std::int64_t n = data.rows(), d = data.cols();
    n_queries = static_cast<int>(std::min<std::int64_t>(n_queries, n));

    // Queries: a seeded sample of the items themselves (a related-items workload).
    std::mt19937_64 rng(seed + 1);
    std::vector<std::int32_t> qids(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) qids[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(i);
    std::shuffle(qids.begin(), qids.end(), rng);
    qids.resize(static_cast<std::size_t>(n_queries));
    Matrix queries(n_queries, d);
    for (int q = 0; q < n_queries; ++q) std::copy_n(data.row(qids[static_cast<std::size_t>(q)]), d, queries.row(q));

    // Exact answers (cosine): the normalised GEMM path.
    auto t0 = Clock::now();
    Matrix nd = normalized_rows(data, threads), nq = normalized_rows(queries, threads);
    auto truth = top_k_rows(nq, nd, {}, {.k = k, .threads = threads});
    const double exact_s = seconds_since(t0);
    std::vector<std::int32_t> truth_ids;
    for (auto& r : truth)
        for (auto& s : r) truth_ids.push_back(s.id);
    {
        auto v = dense(data), qv = dense(queries);
        write_raw(out_dir + "/vectors.f32", v.data(), v.size() * 4);
        write_raw(out_dir + "/queries.f32", qv.data(), qv.size() * 4);
        write_raw(out_dir + "/truth.i32", truth_ids.data(), truth_ids.size() * 4);
        nlohmann::json meta = {{"rows", n}, {"dim", d}, {"queries", n_queries}, {"k", k}, {"dataset", dataset}};
        std::ofstream(out_dir + "/meta.json") << meta.dump() << "\n";
    }
    std::printf("%s\n", nlohmann::json({{"library", "encore"}, {"settings", "exact (top_k_rows, 2 threads)"},
                                        {"dataset", dataset}, {"isa", kernels::distance_isa()},
                                        {"exact_seconds_all_queries", exact_s}})
                            .dump()
                            .c_str());
    std::fflush(stdout);

    auto recall = [&](const std::vector<std::vector<ScoredItem>>& got) {
        std::int64_t hits = 0;
        for (int q = 0; q < n_queries; ++q) {
            std::set<std::int32_t> t;
            for (auto& s : truth[static_cast<std::size_t>(q)]) t.insert(s.id);
            for (auto& s : got[static_cast<std::size_t>(q)]) hits += static_cast<std::int64_t>(t.count(s.id));
        }
        return static_cast<double>(hits) / (static_cast<double>(n_queries) * k);
    };

    const auto alphas = parse_list<float>(alpha_list, [](const std::string& x) { return std::stof(x); });
    std::vector<std::tuple<std::string, int, int, float>> runs;  // (kind, M, ef_construction, alpha)
    if (kinds.find("graph") != std::string::npos)
        for (int m : int_list(m_list))
            for (int efc : int_list(efc_list))
                for (float alpha : alphas) runs.emplace_back("graph", m, efc, alpha);
    if (kinds.find("forest") != std::string::npos) runs.emplace_back("forest", 0, 0, 0.0f);
    for (const auto& [kind, M, efc, alpha] : runs) {
        IndexBuildOptions o;
        o.kind = kind;
        o.metric = AnnMetric::cosine;
        o.trees = trees;
        o.leaf_size = leaf_size;
        o.M = M;
        if (efc > 0) o.ef_construction = efc;
        if (alpha > 0) o.prune_alpha = alpha;
        o.seed = seed;
        o.threads = threads;
        const std::string path =
            out_dir + "/" + kind + (kind == "graph" ? fmt::format("{}-{}-a{}", M, efc, alpha) : "") + ".enci";
        double build_s = -1;
        if (!reuse || !std::filesystem::exists(path)) {
            t0 = Clock::now();
            auto built = build_index(data, o);
            build_s = seconds_since(t0);
            built->save(path);
        }
        const auto bytes = std::filesystem::file_size(path);
        t0 = Clock::now();
        auto index = open_index(path);
        const double open_ms = seconds_since(t0) * 1e3;
        const std::string settings =
            kind == "graph" ? fmt::format("graph M={} efC={} alpha={}", M, efc, alpha)
                            : fmt::format("forest trees={} leaf={}", trees, leaf_size);
        for (int param : int_list(kind == "graph" ? ef_list : sk_list)) {
            std::vector<std::vector<ScoredItem>> got(static_cast<std::size_t>(n_queries));
            for (int q = 0; q < std::min(n_queries, 200); ++q) index->search(queries.row_span(q), k, param);  // warm
            t0 = Clock::now();
            for (int q = 0; q < n_queries; ++q) got[static_cast<std::size_t>(q)] = index->search(queries.row_span(q), k, param);
            const double qps = n_queries / seconds_since(t0);
            const double query_recall = recall(got);
            // The related-items path: the same queries as items of the index (search_item).
            t0 = Clock::now();
            for (int q = 0; q < n_queries; ++q)
                got[static_cast<std::size_t>(q)] = index->search_item(qids[static_cast<std::size_t>(q)], k, param);
            const double item_qps = n_queries / seconds_since(t0);
            const double item_recall = recall(got);
            std::printf("%s\n", nlohmann::json({{"library", "encore"}, {"settings", settings}, {"dataset", dataset},
                                                {"param", param}, {"param_name", kind == "graph" ? "ef" : "search_k"},
                                                {"recall", query_recall}, {"qps", qps}, {"item_recall", item_recall},
                                                {"item_qps", item_qps}, {"build_s", build_s},
                                                {"bytes", bytes}, {"open_ms", open_ms}})
                                    .dump()
                                    .c_str());
            std::fflush(stdout);
        }
    }
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "ann_bench: %s\n", e.what());
    return 1;
}
