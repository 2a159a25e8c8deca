// Approximate nearest neighbours: distance kernels against their scalar references, recall of both
// index kinds for both metrics on clustered data, save -> map identity, determinism, corrupted files,
// thread safety, the model-level queries through an index, and the CLI end to end.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <limits>

#include <gtest/gtest.h>

#include "encore/kernels/distance.hpp"
#include "encore/models/model.hpp"
#include "encore/io/container.hpp"
#include "encore/retrieval/ann.hpp"
#include "encore/retrieval/graph.hpp"
#include "encore/query/queries.hpp"
#include "encore/retrieval/topk.hpp"
#include "encore/util/error.hpp"
#include "test_util.hpp"

namespace encore {
namespace {

using testing::run_cli;
using testing::TempDir;

// n points around `clusters` random centres (a shape ANN structures must exploit), plus queries drawn
// the same way.
Matrix clustered(std::int64_t n, std::int64_t dim, int clusters, std::uint64_t seed, float spread = 0.35f) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> g(0.0f, 1.0f);
    std::mt19937_64 centre_rng(1234);  // same centres for data and queries
    Matrix centres(clusters, dim);
    for (int c = 0; c < clusters; ++c)
        for (std::int64_t j = 0; j < dim; ++j) centres(c, j) = g(centre_rng);
    std::uniform_int_distribution<int> pick(0, clusters - 1);
    std::uniform_real_distribution<float> scale(0.5f, 2.0f);  // varied norms: dot differs from cosine
    Matrix m(n, dim);
    for (std::int64_t i = 0; i < n; ++i) {
        const int c = pick(rng);
        const float s = scale(rng);
        for (std::int64_t j = 0; j < dim; ++j) m(i, j) = s * (centres(c, j) + spread * g(rng));
    }
    return m;
}

double recall_at(const AnnIndex& index, const Matrix& data, const Matrix& queries, int k, int search) {
    Matrix nd = normalized_rows(data, 1);
    double hits = 0;
    for (std::int64_t q = 0; q < queries.rows(); ++q) {
        auto truth = top_k_one(queries.row_span(q), index.metric() == AnnMetric::dot ? data : nd, {}, k);
        auto got = index.search(queries.row_span(q), k, search);
        std::set<std::int32_t> t;
        for (auto& s : truth) t.insert(s.id);
        for (auto& s : got) hits += t.count(s.id);
    }
    return hits / static_cast<double>(queries.rows() * k);
}

IndexBuildOptions opts(const std::string& kind, AnnMetric metric) {
    IndexBuildOptions o;
    o.kind = kind;
    o.metric = metric;
    o.trees = 16;
    o.leaf_size = 32;
    o.M = 12;
    o.ef_construction = 80;
    o.seed = 7;
    o.threads = 2;
    return o;
}

// The batched int8 scorer against one-at-a-time dot_i8 on scattered rows: code widths with a
// sixteen-at-a-time kernel (16..128) and without (20, 80), batch sizes around sixteen.
TEST(AnnKernels, BatchedInt8ScoresMatchSingleOnes) {
    std::mt19937 rng(4);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (int n : {16, 20, 32, 48, 64, 80, 128}) {
        const int rows = 200;
        std::vector<std::int8_t> codes(static_cast<std::size_t>(rows * n));
        for (auto& v : codes) v = static_cast<std::int8_t>(static_cast<int>(rng() % 255) - 127);
        std::vector<float> q(static_cast<std::size_t>(n));
        for (auto& x : q) x = u(rng);
        for (std::size_t m : {0u, 1u, 5u, 16u, 17u, 40u}) {
            std::vector<std::uint32_t> ids(m);
            for (auto& id : ids) id = static_cast<std::uint32_t>(rng() % rows);
            std::vector<float> out(m + 1, 123.0f);
            kernels::dot_i8_gather(q.data(), codes.data(), n, ids.data(), m, n, out.data());
            for (std::size_t i = 0; i < m; ++i) {
                const float want = kernels::dot_i8(q.data(), codes.data() + ids[i] * static_cast<std::size_t>(n), n);
                EXPECT_NEAR(out[i], want, 1e-4f * (127 + std::fabs(want))) << n << " " << m << " " << i;
            }
            EXPECT_EQ(out[m], 123.0f);  // nothing written past m
        }
    }
}

TEST(AnnKernels, MatchScalarReferences) {
    const float x_known[3] = {1, 2, 3};
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (int n : {0, 1, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 80, 100, 257}) {
        std::vector<float> a(static_cast<std::size_t>(n)), b(static_cast<std::size_t>(n));
        for (auto& x : a) x = u(rng);
        for (auto& x : b) x = u(rng);
        const float ip = kernels::ref::inner_product(a.data(), b.data(), n);
        const float l2 = kernels::ref::squared_l2(a.data(), b.data(), n);
        EXPECT_NEAR(kernels::inner_product(a.data(), b.data(), n), ip, 1e-4f * (1 + std::fabs(ip))) << n;
        EXPECT_NEAR(kernels::squared_l2(a.data(), b.data(), n), l2, 1e-4f * (1 + l2)) << n;
        std::vector<std::int8_t> c(static_cast<std::size_t>(n));
        for (auto& v : c) v = static_cast<std::int8_t>(static_cast<int>(rng() % 255) - 127);
        const float i8 = kernels::ref::dot_i8(a.data(), c.data(), n);
        EXPECT_NEAR(kernels::dot_i8(a.data(), c.data(), n), i8, 1e-4f * (127 + std::fabs(i8))) << n;
    }
    const std::int8_t codes[3] = {-127, 0, 127};
    EXPECT_FLOAT_EQ(kernels::dot_i8(x_known, codes, 3), -127.0f + 3.0f * 127.0f);
    // Known answers.
    const float x[3] = {1, 2, 3}, y[3] = {4, -5, 6};
    EXPECT_FLOAT_EQ(kernels::inner_product(x, y, 3), 12.0f);
    EXPECT_FLOAT_EQ(kernels::squared_l2(x, y, 3), 9.0f + 49.0f + 9.0f);
    EXPECT_TRUE(std::string(kernels::distance_isa()) == "avx512" || std::string(kernels::distance_isa()) == "avx2" ||
                std::string(kernels::distance_isa()) == "scalar");
}

struct RecallCase {
    const char* kind;
    AnnMetric metric;
    int search;
    double bound;
};

class AnnRecall : public ::testing::TestWithParam<RecallCase> {};

TEST_P(AnnRecall, AboveBoundOnClusteredData) {
    const auto c = GetParam();
    Matrix data = clustered(4000, 24, 40, 11);
    Matrix queries = clustered(150, 24, 40, 12);
    auto index = build_index(data, opts(c.kind, c.metric));
    EXPECT_EQ(index->kind(), c.kind);
    EXPECT_EQ(index->metric(), c.metric);
    EXPECT_EQ(index->size(), 4000);
    EXPECT_EQ(index->dim(), 24);
    const double r = recall_at(*index, data, queries, 10, c.search);
    EXPECT_GE(r, c.bound) << c.kind << " " << metric_name(c.metric);
    // More effort never hurts much and reaches near-exact answers.
    EXPECT_GE(recall_at(*index, data, queries, 10, c.search * 8), std::max(r, 0.98) - 0.01);
    // Scores are the exact similarities of the returned items.
    Matrix nd = normalized_rows(data, 1);
    auto got = index->search(queries.row_span(0), 10, c.search);
    ASSERT_EQ(got.size(), 10u);
    std::vector<float> qn(queries.row(0), queries.row(0) + 24);
    double s = 0;
    for (float v : qn) s += static_cast<double>(v) * v;
    for (auto& v : qn) v = static_cast<float>(v / std::sqrt(s));
    for (std::size_t i = 0; i < got.size(); ++i) {
        const float want = c.metric == AnnMetric::dot ? kernels::ref::inner_product(queries.row(0), data.row(got[i].id), 24)
                                                      : kernels::ref::inner_product(qn.data(), nd.row(got[i].id), 24);
        EXPECT_NEAR(got[i].score, want, 1e-4f * (1 + std::fabs(want)));
        if (i > 0) {
            EXPECT_GE(got[i - 1].score, got[i].score);
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Kinds, AnnRecall,
                         ::testing::Values(RecallCase{"forest", AnnMetric::cosine, 400, 0.85},
                                           RecallCase{"forest", AnnMetric::dot, 400, 0.85},
                                           RecallCase{"graph", AnnMetric::cosine, 40, 0.95},
                                           RecallCase{"graph", AnnMetric::dot, 40, 0.95}),
                         [](const auto& info) {
                             return std::string(info.param.kind) + "_" + std::string(metric_name(info.param.metric));
                         });

TEST(Ann, DotIndexFindsTheLargestInnerProductsNotTheClosestAngles) {
    // Two items in the query's direction, one short and one long; plus a long one at 60 degrees.
    Matrix data(3, 2);
    data(0, 0) = 0.1f;  // cos 1, dot 0.1
    data(1, 0) = 3.0f;
    data(1, 1) = 5.196f;  // cos 0.5, dot 3
    data(2, 0) = 1.0f;    // cos 1, dot 1
    std::vector<float> q = {1.0f, 0.0f};
    for (const char* kind : {"forest", "graph"}) {
        auto dot = build_index(data, opts(kind, AnnMetric::dot));
        auto r = dot->search(q, 3);
        ASSERT_EQ(r.size(), 3u);
        EXPECT_EQ(r[0].id, 1);
        EXPECT_EQ(r[1].id, 2);
        EXPECT_EQ(r[2].id, 0);
        EXPECT_NEAR(r[0].score, 3.0f, 1e-5f);
        auto cos = build_index(data, opts(kind, AnnMetric::cosine));
        r = cos->search(q, 2);
        ASSERT_EQ(r.size(), 2u);
        EXPECT_EQ(r[0].id, 0);  // tie at cosine 1: lower id first
        EXPECT_EQ(r[1].id, 2);
        EXPECT_NEAR(r[0].score, 1.0f, 1e-6f);
    }
}

TEST(Ann, EdgeCasesAndBadArguments) {
    Matrix one(1, 4);
    one(0, 2) = 1.0f;
    for (const char* kind : {"forest", "graph"}) {
        auto index = build_index(one, opts(kind, AnnMetric::cosine));
        std::vector<float> q = {0, 0, 1, 0};
        auto r = index->search(q, 5);
        ASSERT_EQ(r.size(), 1u);  // min(k, size)
        EXPECT_EQ(r[0].id, 0);
        EXPECT_TRUE(index->search(q, 0).empty());
        std::vector<float> wrong = {1, 2, 3};
        EXPECT_THROW(index->search(wrong, 1), Error);
        EXPECT_THROW(index->search(q, -1), Error);
    }
    Matrix empty(0, 4);
    auto e = build_index(empty, opts("graph", AnnMetric::cosine));
    std::vector<float> q = {1, 0, 0, 0};
    EXPECT_TRUE(e->search(q, 3).empty());
    auto bad = opts("hnsw", AnnMetric::cosine);
    EXPECT_THROW(build_index(one, bad), OptionError);
    bad = opts("graph", AnnMetric::cosine);
    bad.M = 1;
    EXPECT_THROW(build_index(one, bad), OptionError);
    for (float alpha : {0.9f, 2.5f, std::numeric_limits<float>::quiet_NaN()}) {
        bad = opts("graph", AnnMetric::cosine);
        bad.prune_alpha = alpha;
        EXPECT_THROW(build_index(one, bad), OptionError) << alpha;
    }
    bad = opts("forest", AnnMetric::cosine);
    bad.trees = 0;
    EXPECT_THROW(build_index(one, bad), OptionError);
    EXPECT_THROW(parse_metric("l2"), OptionError);
    EXPECT_EQ(parse_metric("dot"), AnnMetric::dot);
}

TEST(Ann, SearchItemFindsTheItemsNeighbours) {
    Matrix data = clustered(2000, 16, 20, 5);
    Matrix nd = normalized_rows(data, 1);
    for (const char* kind : {"forest", "graph"}) {
        auto index = build_index(data, opts(kind, AnnMetric::cosine));
        double hits = 0;
        for (std::int64_t i = 0; i < 2000; i += 20) {
            auto got = index->search_item(i, 10, 200);
            ASSERT_EQ(got.size(), 10u) << kind;
            EXPECT_NEAR(got[0].score, 1.0f, 1e-4f) << kind;  // the item itself (or an exact duplicate)
            auto truth = top_k_one(nd.row_span(i), nd, {}, 10);
            std::set<std::int32_t> t;
            for (auto& r : truth) t.insert(r.id);
            for (auto& r : got) hits += t.count(r.id);
            for (std::size_t j = 1; j < got.size(); ++j) EXPECT_FALSE(ann_detail::better(got[j], got[j - 1])) << kind;
        }
        EXPECT_GE(hits / (100.0 * 10), 0.95) << kind;
        EXPECT_THROW(index->search_item(2000, 10), Error);
        EXPECT_THROW(index->search_item(-1, 10), Error);
    }
}

TEST(Ann, SaveMapGivesIdenticalAnswers) {
    TempDir dir;
    Matrix data = clustered(3000, 20, 30, 21);
    Matrix queries = clustered(60, 20, 30, 22);
    for (const char* kind : {"forest", "graph"})
        for (AnnMetric metric : {AnnMetric::cosine, AnnMetric::dot}) {
            auto built = build_index(data, opts(kind, metric));
            const auto path = dir.file(fmt::format("{}-{}.enci", kind, metric_name(metric)));
            built->save(path);
            for (bool verify : {false, true}) {
                auto mapped = open_index(path, verify);
                EXPECT_EQ(mapped->kind(), kind);
                EXPECT_EQ(mapped->metric(), metric);
                EXPECT_EQ(mapped->size(), built->size());
                EXPECT_EQ(mapped->dim(), built->dim());
                EXPECT_EQ(mapped->default_search(), built->default_search());
                EXPECT_EQ(mapped->source_fingerprint(), vectors_fingerprint(data));
                for (std::int64_t q = 0; q < queries.rows(); ++q) {
                    auto a = built->search(queries.row_span(q), 10);
                    auto b = mapped->search(queries.row_span(q), 10);
                    ASSERT_EQ(a.size(), b.size());
                    for (std::size_t i = 0; i < a.size(); ++i) {
                        EXPECT_EQ(a[i].id, b[i].id);
                        EXPECT_EQ(a[i].score, b[i].score);
                    }
                }
            }
            verify_index(path);
        }
    // The graph's pruning alpha is recorded in the file.
    auto o = opts("graph", AnnMetric::cosine);
    o.prune_alpha = 1.25f;
    const auto path = dir.file("alpha.enci");
    build_index(data, o)->save(path);
    auto mapped = open_index(path);
    const auto* graph = dynamic_cast<const GraphIndex*>(mapped.get());
    ASSERT_NE(graph, nullptr);
    EXPECT_EQ(graph->prune_alpha(), 1.25f);
}

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(Ann, BuildDependsOnSeedNotThreads) {
    TempDir dir;
    Matrix data = clustered(2500, 16, 20, 31);
    for (const char* kind : {"forest", "graph"}) {
        auto o = opts(kind, AnnMetric::cosine);
        o.threads = 1;
        build_index(data, o)->save(dir.file("a.enci"));
        o.threads = 3;
        build_index(data, o)->save(dir.file("b.enci"));
        o.seed = 8;
        build_index(data, o)->save(dir.file("c.enci"));
        EXPECT_TRUE(slurp(dir.file("a.enci")) == slurp(dir.file("b.enci"))) << kind;
        EXPECT_FALSE(slurp(dir.file("a.enci")) == slurp(dir.file("c.enci"))) << kind;
    }
}

TEST(Ann, CorruptedOrTruncatedFileIsAClearError) {
    TempDir dir;
    Matrix data = clustered(1000, 16, 10, 41);
    for (const char* kind : {"forest", "graph"}) {
        const auto path = dir.file(fmt::format("{}.enci", kind));
        build_index(data, opts(kind, AnnMetric::cosine))->save(path);
        const std::string good = slurp(path);

        // A flipped byte near the end (inside the kind's arrays): found by verification.
        std::string bad = good;
        bad[bad.size() - 200] ^= 0x5A;
        const auto corrupt = dir.write("corrupt.enci", bad);
        EXPECT_NO_THROW(open_index(corrupt, false));  // header + table only by default
        try {
            open_index(corrupt, true);
            ADD_FAILURE() << "corrupted file opened with verification";
        } catch (const FormatError& e) {
            EXPECT_NE(std::string(e.what()).find("checksum mismatch"), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find(corrupt), std::string::npos) << e.what();
        }
        EXPECT_THROW(verify_index(corrupt), FormatError);

        const auto truncated = dir.write("truncated.enci", good.substr(0, good.size() / 2));
        try {
            open_index(truncated);
            ADD_FAILURE() << "truncated file opened";
        } catch (const FormatError& e) {
            EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
        }
        const auto tiny = dir.write("tiny.enci", good.substr(0, 10));
        EXPECT_THROW(open_index(tiny), FormatError);

        std::string header = good;
        header[70] ^= 0x01;  // inside the section table
        EXPECT_THROW(open_index(dir.write("table.enci", header)), FormatError);

        // A version-1 index (no int8 codes) asks for a rebuild.
        const auto v1 = dir.file("v1.enci");
        ContainerWriter old_writer(Magic{'E', 'N', 'C', 'O', 'I', 'N', 'D', 'X'}, 1);
        old_writer.add_text("header", std::string(128, '\0'));
        old_writer.write(v1);
        try {
            open_index(v1);
            ADD_FAILURE() << "version-1 file opened";
        } catch (const FormatError& e) {
            EXPECT_NE(std::string(e.what()).find("rebuild"), std::string::npos) << e.what();
        }
    }
    const auto not_index = dir.write("model.encm", std::string("ENCOMODL") + std::string(100, '\0'));
    try {
        open_index(not_index);
        ADD_FAILURE();
    } catch (const FormatError& e) {
        EXPECT_NE(std::string(e.what()).find("not a"), std::string::npos) << e.what();
    }
    EXPECT_THROW(open_index(dir.file("missing.enci")), Error);
}

TEST(Ann, ConcurrentQueriesMatchOneThread) {
    Matrix data = clustered(3000, 16, 25, 51);
    Matrix queries = clustered(200, 16, 25, 52);
    for (const char* kind : {"forest", "graph"}) {
        auto index = build_index(data, opts(kind, AnnMetric::cosine));
        std::vector<std::vector<ScoredItem>> single(static_cast<std::size_t>(queries.rows()));
        for (std::int64_t q = 0; q < queries.rows(); ++q) single[static_cast<std::size_t>(q)] = index->search(queries.row_span(q), 10);
        std::vector<std::vector<std::vector<ScoredItem>>> per_thread(4);
        std::vector<std::thread> pool;
        for (int t = 0; t < 4; ++t)
            pool.emplace_back([&, t] {
                auto& out = per_thread[static_cast<std::size_t>(t)];
                out.resize(static_cast<std::size_t>(queries.rows()));
                // Different orders, so threads are at different queries at the same time.
                for (std::int64_t i = 0; i < queries.rows(); ++i) {
                    const std::int64_t j = (i + 37 * t) % queries.rows();
                    const std::int64_t q = t % 2 ? queries.rows() - 1 - j : j;
                    out[static_cast<std::size_t>(q)] = index->search(queries.row_span(q), 10);
                }
            });
        for (auto& th : pool) th.join();
        for (const auto& out : per_thread)
            for (std::size_t q = 0; q < single.size(); ++q) {
                ASSERT_EQ(out[q].size(), single[q].size());
                for (std::size_t i = 0; i < single[q].size(); ++i) {
                    EXPECT_EQ(out[q][i].id, single[q][i].id);
                    EXPECT_EQ(out[q][i].score, single[q][i].score);
                }
            }
    }
}

// A small model by hand: item factors clustered, users near some items, played items recorded.
Model small_model() {
    Model m;
    m.item_factors = clustered(600, 12, 12, 61);
    m.user_factors = clustered(50, 12, 12, 62);
    std::vector<std::int32_t> rows, cols;
    std::vector<float> vals;
    std::mt19937 rng(5);
    for (std::int32_t u = 0; u < 50; ++u) {
        // Played items: the user's own exact top 5 (so filtering visibly matters) and a few random.
        auto top = top_k_one(m.user_factors.row_span(u), m.item_factors, {}, 5);
        std::set<std::int32_t> played;
        for (auto& s : top) played.insert(s.id);
        for (int r = 0; r < 5; ++r) played.insert(static_cast<std::int32_t>(rng() % 600));
        for (auto i : played) {
            rows.push_back(u);
            cols.push_back(i);
            vals.push_back(1.0f);
        }
    }
    m.user_items = Csr::from_triplets(50, 600, rows, cols, vals);
    return m;
}

TEST(AnnQueries, IndexPathsMatchTheExactPaths) {
    Model m = small_model();
    IndexBuildOptions o = opts("graph", AnnMetric::cosine);
    o.ef = 200;
    auto cos = build_index(m.item_factors, o);
    o.metric = AnnMetric::dot;
    auto dot = build_index(m.item_factors, o);
    QueryOptions q;
    q.n = 10;
    q.threads = 2;
    ItemFilter none;
    for (std::int32_t i = 0; i < 600; i += 37) {
        auto a = related_items(m, i, none, q);
        auto b = related_items_index(m, *cos, i, none, q);
        ASSERT_EQ(a.size(), b.size());
        for (std::size_t r = 0; r < a.size(); ++r) {
            EXPECT_EQ(a[r].id, b[r].id) << "item " << i << " rank " << r;
            EXPECT_NEAR(a[r].score, b[r].score, 1e-4f);
        }
    }
    auto all_exact = recommend_all(m, none, q);
    auto all_index = recommend_all_index(m, *dot, none, q);
    ASSERT_EQ(all_index.size(), 50u);
    for (std::int32_t u = 0; u < 50; ++u) {
        auto b = recommend_user_index(m, *dot, u, none, q);
        auto a = all_exact[static_cast<std::size_t>(u)];
        ASSERT_EQ(b.size(), a.size());
        auto played = m.user_items.row_indices(u);
        for (std::size_t r = 0; r < a.size(); ++r) {
            EXPECT_EQ(a[r].id, b[r].id) << "user " << u << " rank " << r;
            EXPECT_EQ(all_index[static_cast<std::size_t>(u)][r].id, b[r].id);
            EXPECT_FALSE(std::binary_search(played.begin(), played.end(), b[r].id));
        }
    }
    // Wrong metric or another model's index: clear errors.
    EXPECT_THROW(related_items_index(m, *dot, 0, none, q), Error);
    EXPECT_THROW(recommend_user_index(m, *cos, 0, none, q), Error);
    Model other = small_model();
    other.item_factors(3, 3) += 1.0f;
    try {
        related_items_index(other, *cos, 0, none, q);
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("different item factors"), std::string::npos) << e.what();
    }
}

TEST(AnnQueries, FiltersStillReturnExactlyMinOfNAndAvailable) {
    Model m = small_model();
    auto index = build_index(m.item_factors, opts("forest", AnnMetric::cosine));
    QueryOptions q;
    q.n = 10;
    // --only with 4 items (one of them the query): a narrow filter falls back to the exact scan.
    ItemFilter only;
    only.allowed.assign(600, 0);
    for (int i : {0, 100, 200, 300}) only.allowed[static_cast<std::size_t>(i)] = 1;
    auto r = related_items_index(m, *index, 0, only, q);
    ASSERT_EQ(r.size(), 3u);
    std::set<std::int32_t> ids;
    for (auto& x : r) ids.insert(x.id);
    EXPECT_EQ(ids, (std::set<std::int32_t>{100, 200, 300}));
    auto exact = related_items(m, 0, only, q);
    for (std::size_t i = 0; i < r.size(); ++i) EXPECT_EQ(r[i].id, exact[i].id);
    // An exclusion of half the items: still n results, none excluded.
    ItemFilter half;
    half.allowed.assign(600, 1);
    for (std::size_t i = 0; i < 600; i += 2) half.allowed[i] = 0;
    for (std::int32_t item : {1, 2, 77}) {
        auto h = related_items_index(m, *index, item, half, q);
        ASSERT_EQ(h.size(), 10u);
        for (auto& x : h) {
            EXPECT_EQ(x.id % 2, 1);
            EXPECT_NE(x.id, item);
        }
    }
}

TEST(AnnCli, IndexThenRelatedAndRecommendThroughIt) {
    TempDir dir;
    const auto tsv = dir.file("plays.tsv"), model = dir.file("m.encm"), gidx = dir.file("g.enci"),
               fidx = dir.file("f.enci"), didx = dir.file("d.enci");
    auto r = run_cli(fmt::format("synth --users 300 --items 250 --genres 5 --seed 4 -o {} --quiet", tsv));
    ASSERT_EQ(r.status, 0) << r.output;
    r = run_cli(fmt::format("train {} --format lastfm360k --factors 16 --iterations 6 --threads 2 -o {} --quiet", tsv, model));
    ASSERT_EQ(r.status, 0) << r.output;
    r = run_cli(fmt::format("index {} -o {} --kind graph --ef 200 --threads 2", model, gidx));
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("index: graph cosine over 250 items x 16 factors"), std::string::npos) << r.output;
    r = run_cli(fmt::format("index {} -o {} --kind forest --trees 10 --quiet", model, fidx));
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_TRUE(r.output.empty()) << r.output;
    r = run_cli(fmt::format("index {} -o {} --metric dot --quiet", model, didx));
    ASSERT_EQ(r.status, 0) << r.output;

    // Batch related through the graph index equals the exact batch (a small index at high ef).
    const auto exact_tsv = dir.file("exact.tsv"), graph_tsv = dir.file("graph.tsv");
    r = run_cli(fmt::format("related {} --all --no-header -n 5 -o {} --quiet", model, exact_tsv));
    ASSERT_EQ(r.status, 0) << r.output;
    r = run_cli(fmt::format("related {} --all --no-header -n 5 --index {} -o {} --quiet", model, gidx, graph_tsv));
    ASSERT_EQ(r.status, 0) << r.output;
    // Line by line: the same query and rank, and the same result or, where two results tie (their
    // scores may differ in the last bit between the two paths, and then either may come first), the
    // same score.
    {
        std::istringstream exact(slurp(exact_tsv)), graph(slurp(graph_tsv));
        std::string e, g;
        int lines = 0, ties = 0;
        while (std::getline(exact, e)) {
            ASSERT_TRUE(std::getline(graph, g)) << "graph output ends before: " << e;
            const auto ecut = e.rfind('\t'), gcut = g.rfind('\t');
            const auto key = [](const std::string& l, std::size_t cut) {
                return l.substr(0, l.rfind('\t', cut - 1));  // query and rank
            };
            ASSERT_EQ(key(e, ecut), key(g, gcut)) << e << " | " << g;
            ++lines;
            if (e.substr(0, ecut) == g.substr(0, gcut)) continue;
            ++ties;
            EXPECT_NEAR(std::stod(e.substr(ecut + 1)), std::stod(g.substr(gcut + 1)), 2e-6) << e << " | " << g;
        }
        EXPECT_FALSE(std::getline(graph, g)) << "graph output has more lines: " << g;
        EXPECT_EQ(lines, 250 * 5);
        EXPECT_LE(ties, 4);  // a tie moves two lines; more than a couple would be misses
    }

    // Single queries, JSON, forest with --search-k; recommend through the dot index.
    r = run_cli(fmt::format("related {} --all --no-header -n 3 --index {} --search-k 5000 --quiet", model, fidx));
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 250 * 3);
    const auto user = slurp(tsv).substr(0, slurp(tsv).find('\t'));
    auto exact = run_cli(fmt::format("recommend {} --user {} -n 5", model, user));
    auto approx = run_cli(fmt::format("recommend {} --user {} -n 5 --index {} --ef 300", model, user, didx));
    ASSERT_EQ(exact.status, 0) << exact.output;
    ASSERT_EQ(approx.status, 0) << approx.output;
    EXPECT_EQ(exact.output, approx.output);

    // Errors a user can reach.
    r = run_cli(fmt::format("related {} --all --index {} --quiet", model, didx));
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.output.find("needs a cosine index"), std::string::npos) << r.output;
    r = run_cli(fmt::format("related {} --all --index {} --ef 50 --quiet", model, fidx));
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.output.find("--ef is for a graph index"), std::string::npos) << r.output;
    r = run_cli(fmt::format("index {} -o {} --kind forest --M 8", model, dir.file("x.enci")));
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.output.find("--M is a --kind graph option"), std::string::npos) << r.output;
    r = run_cli(fmt::format("related {} --all --index {} --quiet", model, tsv));
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.output.find("not a"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace encore
