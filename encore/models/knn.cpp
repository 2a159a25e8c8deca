#include "encore/models/knn.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "encore/data/weighting.hpp"
#include "encore/util/error.hpp"
#include "encore/util/progress.hpp"
#include "encore/util/threads.hpp"

namespace encore {

KnnSimilarity parse_knn_similarity(std::string_view name) {
    if (name == "cosine") return KnnSimilarity::cosine;
    if (name == "tfidf") return KnnSimilarity::tfidf;
    if (name == "bm25") return KnnSimilarity::bm25;
    throw OptionError(fmt::format("unknown knn similarity '{}' (known: cosine, tfidf, bm25)", name));
}

std::string_view knn_similarity_name(KnnSimilarity s) {
    switch (s) {
        case KnnSimilarity::cosine: return "cosine";
        case KnnSimilarity::tfidf: return "tfidf";
        case KnnSimilarity::bm25: return "bm25";
    }
    return "?";
}

namespace {

void check_options(const KnnOptions& o) {
    if (o.K < 1) throw OptionError(fmt::format("knn: K must be at least 1, got {}", o.K));
}

}  // namespace

Csr knn_item_vectors(const Csr& values_by_user, const KnnOptions& o) {
    check_options(o);
    const int threads = resolve_threads(o.threads);
    Csr weighted;
    switch (o.similarity) {
        case KnnSimilarity::cosine:
            weighted = values_by_user.with_values({values_by_user.values.begin(), values_by_user.values.end()});
            break;
        case KnnSimilarity::tfidf:
            weighted = apply_weighting(values_by_user, fit_weighting(values_by_user, {.kind = WeightingKind::tfidf}), threads);
            break;
        case KnnSimilarity::bm25:
            weighted = apply_weighting(values_by_user,
                                       fit_weighting(values_by_user, {.kind = WeightingKind::bm25, .K1 = o.K1, .B = o.B}),
                                       threads);
            break;
    }
    Csr items = weighted.transpose(threads);
    if (o.similarity == KnnSimilarity::bm25) return items;
    std::vector<float> v(items.values.begin(), items.values.end());
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t i = 0; i < items.rows; ++i) {
        double norm = 0;
        for (auto k = items.indptr[i]; k < items.indptr[i + 1]; ++k) norm += double(v[k]) * v[k];
        if (norm <= 0) continue;
        const float inv = static_cast<float>(1.0 / std::sqrt(norm));
        for (auto k = items.indptr[i]; k < items.indptr[i + 1]; ++k) v[k] *= inv;
    }
    return items.with_values(std::move(v));
}

Csr train_knn(const Csr& values_by_user, const KnnOptions& o) {
    check_options(o);
    const int threads = resolve_threads(o.threads);
    const Csr items = knn_item_vectors(values_by_user, o);  // items x users
    const Csr users = items.transpose(threads);             // users x items, same weights
    const std::int64_t n = items.rows;
    const auto K = static_cast<std::size_t>(o.K);

    struct Neighbour {
        std::int32_t id;
        float score;
    };
    std::vector<std::vector<Neighbour>> rows(static_cast<std::size_t>(n));
    Progress progress("knn", static_cast<double>(n), o.reporter, "items");
#pragma omp parallel num_threads(threads)
    {
        // A dense accumulator per thread plus the list of touched entries (reset after each item).
        std::vector<float> acc(static_cast<std::size_t>(n), 0.0f);
        std::vector<std::int32_t> touched;
        std::vector<Neighbour> cand;
#pragma omp for schedule(dynamic, 64)
        for (std::int64_t i = 0; i < n; ++i) {
            touched.clear();
            for (auto a = items.indptr[i]; a < items.indptr[i + 1]; ++a) {
                const auto u = items.indices[a];
                const float w = items.values[a];
                for (auto b = users.indptr[u]; b < users.indptr[u + 1]; ++b) {
                    const auto j = users.indices[b];
                    if (acc[j] == 0.0f) touched.push_back(j);
                    acc[j] += w * users.values[b];
                    // A sum that is still 0 re-adds j; harmless: its second visit below reads the reset 0.
                }
            }
            cand.clear();
            for (auto j : touched) {
                float s = acc[j];
                acc[j] = 0.0f;
                if (j != i && s > 0.0f) cand.push_back({j, s});
            }
            std::sort(cand.begin(), cand.end(), [](const Neighbour& x, const Neighbour& y) {
                return x.score > y.score || (x.score == y.score && x.id < y.id);
            });
            if (cand.size() > K) cand.resize(K);
            std::sort(cand.begin(), cand.end(), [](const Neighbour& x, const Neighbour& y) { return x.id < y.id; });
            rows[static_cast<std::size_t>(i)] = cand;
            progress.add(1);
        }
    }
    progress.finish();

    std::vector<std::int64_t> indptr(static_cast<std::size_t>(n) + 1, 0);
    for (std::int64_t i = 0; i < n; ++i) indptr[i + 1] = indptr[i] + static_cast<std::int64_t>(rows[i].size());
    std::vector<std::int32_t> idx(static_cast<std::size_t>(indptr[n]));
    std::vector<float> val(idx.size());
    for (std::int64_t i = 0; i < n; ++i) {
        auto p = static_cast<std::size_t>(indptr[i]);
        for (const auto& nb : rows[i]) idx[p] = nb.id, val[p++] = nb.score;
    }
    Csr out;
    out.rows = n;
    out.cols = n;
    out.indptr = Buffer<std::int64_t>(std::move(indptr));
    out.indices = Buffer<std::int32_t>(std::move(idx));
    out.values = Buffer<float>(std::move(val));
    return out;
}

}  // namespace encore
