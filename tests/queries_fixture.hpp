#pragma once
// A small hand-built Model for the query tests: random factors, named items, and a user-item
// confidence matrix with a dislike (negative cell) in it.
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "encore/models/model.hpp"

namespace encore::testing {

inline Matrix random_factors(std::int64_t rows, std::int64_t cols, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, 0.5f);
    Matrix m(rows, cols);
    for (std::int64_t i = 0; i < rows; ++i)
        for (std::int64_t j = 0; j < cols; ++j) m(i, j) = nd(rng);
    return m;
}

// 40 items, 12 users, 6 factors. Items 0-3 have memorable names; user 0 plays items 1, 4, 7 (7 disliked).
inline Model small_model() {
    Model m;
    const std::int64_t n_items = 40, n_users = 12, k = 6;
    m.item_factors = random_factors(n_items, k, 101);
    m.user_factors = random_factors(n_users, k, 202);
    std::vector<std::string> keys, names, users;
    for (std::int64_t i = 0; i < n_items; ++i) {
        keys.push_back("key-" + std::to_string(i));
        names.push_back("Artist " + std::to_string(i));
    }
    names[0] = "The Beatles";
    names[1] = "Radiohead";
    names[2] = "Beatles Tribute Band";
    names[3] = "";  // no display name: shown by key
    for (std::int64_t u = 0; u < n_users; ++u) users.push_back("user-" + std::to_string(u));
    m.items = StringTable::build(keys);
    m.item_names = StringTable::build(names);
    m.users = StringTable::build(users);

    std::vector<std::int32_t> r, c;
    std::vector<float> v;
    auto add = [&](std::int32_t u, std::int32_t i, float x) {
        r.push_back(u);
        c.push_back(i);
        v.push_back(x);
    };
    add(0, 1, 5.0f);
    add(0, 4, 2.0f);
    add(0, 7, -3.0f);  // a dislike: still "played"
    std::mt19937 rng(303);
    for (std::int32_t u = 1; u < n_users; ++u)
        for (std::int32_t i = 0; i < n_items; ++i)
            if (rng() % 5 == 0) add(u, i, 1.0f + static_cast<float>(rng() % 20));
    m.user_items = Csr::from_triplets(n_users, n_items, r, c, v, 1);
    m.regularization = 0.1f;
    m.weighting.options.kind = WeightingKind::linear;
    m.weighting.options.alpha = 2.0f;
    m.weighting.n_items = n_items;
    return m;
}

// Cosine / dot-product ranking by brute force in double: (id, score) best first, ties by id.
inline std::vector<std::pair<std::int32_t, double>> brute_rank(const Matrix& targets, std::span<const float> q,
                                                               bool cosine) {
    auto norm = [](std::span<const float> a) {
        double s = 0;
        for (float x : a) s += static_cast<double>(x) * x;
        return std::sqrt(s);
    };
    std::vector<std::pair<std::int32_t, double>> out;
    const double qn = norm(q);
    for (std::int64_t t = 0; t < targets.rows(); ++t) {
        double d = 0;
        for (std::int64_t j = 0; j < targets.cols(); ++j) d += static_cast<double>(q[static_cast<std::size_t>(j)]) * targets(t, j);
        if (cosine) {
            double tn = norm(targets.row_span(t));
            d = (qn > 0 && tn > 0) ? d / (qn * tn) : 0.0;
        }
        out.emplace_back(static_cast<std::int32_t>(t), d);
    }
    std::stable_sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.second > b.second; });
    return out;
}

}  // namespace encore::testing
