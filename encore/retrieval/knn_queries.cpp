#include "encore/retrieval/knn_queries.hpp"

#include <algorithm>

#include "encore/util/error.hpp"

namespace encore {

namespace {

bool better(std::int32_t a_id, float a, std::int32_t b_id, float b) { return a > b || (a == b && a_id < b_id); }

void keep_best(std::vector<Recommendation>& v, int n) {
    const std::size_t keep = std::min(v.size(), static_cast<std::size_t>(std::max(n, 0)));
    std::partial_sort(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(keep), v.end(),
                      [](const Recommendation& a, const Recommendation& b) { return better(a.id, a.score, b.id, b.score); });
    v.resize(keep);
}

void check_knn(const Model& model) {
    if (model.item_neighbours.rows != model.n_items())
        fail("knn model has {} neighbour rows for {} items", model.item_neighbours.rows, model.n_items());
}

}  // namespace

std::vector<Contribution> knn_explain(const Model& model, std::span<const std::int32_t> played,
                                      std::span<const float> conf, std::int32_t item, int n, float* total_score) {
    check_knn(model);
    std::vector<Contribution> all;
    double total = 0;
    for (std::size_t k = 0; k < played.size(); ++k) {
        const float s = model.item_neighbours.at(played[k], item);
        if (s == 0.0f) continue;
        const float c = conf[k] * s;
        total += c;
        all.push_back({played[k], c});
    }
    if (total_score) *total_score = static_cast<float>(total);
    const std::size_t keep = std::min(all.size(), static_cast<std::size_t>(std::max(n, 0)));
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(keep), all.end(),
                      [](const Contribution& a, const Contribution& b) { return better(a.item, a.score, b.item, b.score); });
    all.resize(keep);
    return all;
}

std::vector<Recommendation> knn_recommend(const Model& model, std::span<const std::int32_t> played,
                                          std::span<const float> conf, std::span<const std::uint8_t> allowed,
                                          bool filter_played, int n, int explain) {
    check_knn(model);
    const Csr& S = model.item_neighbours;
    // Sparse accumulation: only items in some played item's list are touched. Summed in played order,
    // so the scores are the same whichever thread computes them.
    thread_local std::vector<float> acc;
    thread_local std::vector<std::uint8_t> seen;
    if (acc.size() != static_cast<std::size_t>(model.n_items())) {
        acc.assign(static_cast<std::size_t>(model.n_items()), 0.0f);
        seen.assign(static_cast<std::size_t>(model.n_items()), 0);
    }
    std::vector<std::int32_t> touched;
    for (std::size_t k = 0; k < played.size(); ++k) {
        const float c = conf[k];
        for (auto p = S.indptr[played[k]]; p < S.indptr[played[k] + 1]; ++p) {
            const auto i = S.indices[p];
            if (!seen[i]) seen[i] = 1, touched.push_back(i);
            acc[i] += c * S.values[p];
        }
    }
    std::vector<Recommendation> out;
    out.reserve(touched.size());
    for (auto i : touched) {
        if (!allowed.empty() && !allowed[i]) continue;
        if (filter_played && std::binary_search(played.begin(), played.end(), i)) continue;
        out.push_back({i, acc[i], {}});
    }
    for (auto i : touched) acc[i] = 0.0f, seen[i] = 0;  // clean for the next query on this thread
    keep_best(out, n);
    if (explain > 0)
        for (auto& r : out) r.because = knn_explain(model, played, conf, r.id, explain, nullptr);
    return out;
}

std::vector<Recommendation> knn_related(const Model& model, std::int32_t item, std::span<const std::uint8_t> allowed,
                                        int n) {
    check_knn(model);
    const Csr& S = model.item_neighbours;
    std::vector<Recommendation> out;
    for (auto p = S.indptr[item]; p < S.indptr[item + 1]; ++p) {
        const auto j = S.indices[p];
        if (j == item || (!allowed.empty() && !allowed[j])) continue;
        out.push_back({j, S.values[p], {}});
    }
    keep_best(out, n);
    return out;
}

}  // namespace encore
