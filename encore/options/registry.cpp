#include "encore/options/registry.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <functional>
#include <type_traits>
#include <utility>
#include <variant>

#include <fmt/format.h>

#include "encore/models/ensemble.hpp"
#include "encore/kinds/registry.hpp"
#include "encore/query/queries.hpp"
#include "encore/util/error.hpp"

namespace encore {

QuerySettings::QuerySettings()
    : n(QueryOptions{}.n),
      explain(QueryOptions{}.explain),
      include_played(!QueryOptions{}.filter_played),
      candidates(Ensemble{}.candidates) {}

namespace {

using G = OptionGroup;
using T = OptionType;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr std::uint64_t kU64Max = std::numeric_limits<std::uint64_t>::max();

// ---- values in and out of the library's structs ----

OptionValue value_of(int x) { return std::int64_t{x}; }
OptionValue value_of(std::uint64_t x) { return x; }
OptionValue value_of(bool x) { return x; }
// A float as the decimal it was written as (0.01f reads back as 0.01, not 0.009999999776).
OptionValue value_of(float x) { return std::stod(fmt::format("{}", x)); }

void assign(int& field, const OptionValue& v) { field = static_cast<int>(std::get<std::int64_t>(v)); }
void assign(std::uint64_t& field, const OptionValue& v) { field = std::get<std::uint64_t>(v); }
void assign(bool& field, const OptionValue& v) { field = std::get<bool>(v); }
void assign(float& field, const OptionValue& v) { field = static_cast<float>(std::get<double>(v)); }
const std::string& text_of(const OptionValue& v) { return std::get<std::string>(v); }

// f applied to the options struct of the kind being configured, as the kind hands it out
// (ModelType::options; a kind without one, popular: nullopt).
template <class F>
std::optional<OptionValue> of_kind_struct(const ModelOptions& o, F f) {
    // options() takes the struct to hand out a pointer into it; f only reads (it gets a const view).
    const KindOptionsRef ref = o.kind->options(const_cast<ModelOptions&>(o));
    return std::visit(
        [&](auto p) -> std::optional<OptionValue> {
            if constexpr (std::is_same_v<decltype(p), std::monostate>)
                return std::nullopt;
            else
                return f(std::as_const(*p));
        },
        ref.target);
}

// f applied to every kind's options struct: a value given globally is the same for each.
template <class F>
void for_each_kind_struct(ModelOptions& o, F f) {
    f(o.als);
    f(o.lsa);
    f(o.bpr);
    f(o.lmf);
    f(o.knn);
}

// The binding of a field several kinds' structs share by name (factors, iterations, seed, ...):
// read from the kind's own struct, written to every struct that has it.
#define ENCORE_SHARED_FIELD(field)                                                                          \
    .get_model =                                                                                            \
        [](const ModelOptions& o) {                                                                         \
            return of_kind_struct(o, [](const auto& s) -> std::optional<OptionValue> {                      \
                if constexpr (requires { s.field; })                                                        \
                    return value_of(s.field);                                                               \
                else                                                                                        \
                    return std::nullopt;                                                                    \
            });                                                                                             \
        },                                                                                                  \
    .set_model = [](ModelOptions& o, const OptionValue& v) {                                                \
        for_each_kind_struct(o, [&](auto& s) {                                                              \
            if constexpr (requires { s.field; }) assign(s.field, v);                                        \
        });                                                                                                 \
    }

// How an option reads and writes the struct of its group (only that group's pair is set). Values
// reaching a setter are already checked and in the option's type.
struct Entry {
    OptionSpec spec;
    std::function<std::optional<OptionValue>(const ModelOptions&)> get_model{};
    std::function<void(ModelOptions&, const OptionValue&)> set_model{};
    std::function<std::optional<OptionValue>(const IndexBuildOptions&)> get_index{};
    std::function<void(IndexBuildOptions&, const OptionValue&)> set_index{};
    std::function<std::optional<OptionValue>(const QuerySettings&)> get_query{};
    std::function<void(QuerySettings&, const OptionValue&)> set_query{};
};

// The model kinds the registry (encore/kinds/registry.hpp) knows; per-kind data below is keyed by these names.
const std::vector<std::string> kModelKindNames = [] {
    std::vector<std::string> names;
    for (const ModelType* t : model_types()) names.emplace_back(t->name());
    return names;
}();
const std::vector<std::string> kIndexKinds = {"forest", "graph"};
const std::vector<std::string> kAll = kModelKindNames;
const std::vector<std::string> kFactor = {"als", "lsa", "bpr", "lmf"};
const std::vector<std::string> kSgdAls = {"als", "bpr", "lmf"};

// The graph index's query beam when the file stores none (graph.cpp: ef 0 = 64); a test builds an
// index with the defaults and compares.
constexpr int kGraphDefaultEf = 64;
constexpr int kForestSearchPerTree = 100;  // forest.cpp: search_k 0 = 100 x trees

// The query effort given (ef or search-k, whichever the index takes); unset: the index's own.
std::optional<OptionValue> search_effort(const QuerySettings& q) {
    if (q.search > 0) return value_of(q.search);
    return std::nullopt;
}

// A kind with a bm25 of its own (knn's similarity) reads its field through `own`, which only compiles
// for kinds that have it; the rest report the weighting's value.
template <class Own>
OptionValue own_or_weighting(const ModelOptions& o, Own own, float weighting_value) {
    auto v = of_kind_struct(o, [&](const auto& s) -> std::optional<OptionValue> {
        if constexpr (requires { own(s); })
            return value_of(own(s));
        else
            return std::nullopt;
    });
    return v ? *v : value_of(weighting_value);
}

const std::vector<Entry>& entries() {
    static const std::vector<Entry> table = {
        // ---- weighting: plays -> confidences (encore/data/weighting.hpp) ----
        {.spec = {.name = "weighting", .group = G::weighting, .type = T::choice,
                  .help = "How plays become confidences (formulas in docs/algorithms.md)",
                  .choices = {"none", "bm25", "tfidf", "linear", "log"}, .kinds = kAll},
         .get_model = [](const ModelOptions& o) -> std::optional<OptionValue> {
             return std::string(weighting_name(o.weighting.kind));
         },
         .set_model = [](ModelOptions& o, const OptionValue& v) { o.weighting.kind = parse_weighting(text_of(v)); }},
        {.spec = {.name = "K1", .group = G::weighting, .type = T::number,
                  .help = "bm25 term-frequency saturation (the bm25 weighting, and knn's bm25 similarity)",
                  .range = {0, kInf, true}, .kinds = kAll,
                  .default_rule = "100 for the bm25 weighting; knn: 1.2 (its bm25 similarity)"},
         .get_model = [](const ModelOptions& o) {
             return own_or_weighting(o, [](const auto& s) -> decltype(s.K1) { return s.K1; }, o.weighting.K1);
         },
         .set_model = [](ModelOptions& o, const OptionValue& v) {
             assign(o.weighting.K1, v);
             assign(o.knn.K1, v);
         }},
        {.spec = {.name = "B", .group = G::weighting, .type = T::number,
                  .help = "bm25 length normalisation (the bm25 weighting, and knn's bm25 similarity)",
                  .range = {0, 1}, .kinds = kAll,
                  .default_rule = "0.8 for the bm25 weighting; knn: 0.75 (its bm25 similarity)"},
         .get_model = [](const ModelOptions& o) {
             return own_or_weighting(o, [](const auto& s) -> decltype(s.B) { return s.B; }, o.weighting.B);
         },
         .set_model = [](ModelOptions& o, const OptionValue& v) {
             assign(o.weighting.B, v);
             assign(o.knn.B, v);
         }},
        {.spec = {.name = "alpha", .group = G::weighting, .type = T::number,
                  .help = "Confidence scale: c = alpha*w (none, bm25, tfidf), 1 + alpha*x (linear), "
                          "1 + alpha*log(1 + x/eps) (log)",
                  .range = {0, kInf, true}, .kinds = kAll,
                  .default_rule = "1 for weighting none, bm25, tfidf; 40 for linear, log; lmf: 1"},
         .get_model = [](const ModelOptions& o) {
             return value_of(o.weighting.alpha.value_or(default_alpha(o.weighting.kind)));
         },
         .set_model = [](ModelOptions& o, const OptionValue& v) {
             o.weighting.alpha = static_cast<float>(std::get<double>(v));
         }},
        {.spec = {.name = "eps", .group = G::weighting, .type = T::number,
                  .help = "log weighting scale: c = 1 + alpha*log(1 + x/eps)", .range = {0, kInf, true}, .kinds = kAll},
         .get_model = [](const ModelOptions& o) { return value_of(o.weighting.eps); },
         .set_model = [](ModelOptions& o, const OptionValue& v) { assign(o.weighting.eps, v); }},

        // ---- model: training (encore/models/*.hpp) ----
        {.spec = {.name = "factors", .group = G::model, .type = T::integer,
                  .help = "Latent factors (bpr: one is the item bias; lmf: plus two bias columns)",
                  .range = {1, 4096}, .kind_ranges = {{"bpr", {2, 4096}}}, .kinds = kFactor},
         ENCORE_SHARED_FIELD(factors)},
        {.spec = {.name = "regularization", .group = G::model, .type = T::number, .help = "L2 regularization (lambda)",
                  .range = {0, kInf}, .kinds = kSgdAls},
         ENCORE_SHARED_FIELD(regularization)},
        {.spec = {.name = "iterations", .group = G::model, .type = T::integer,
                  .help = "Iterations (als: sweeps over users then items; bpr, lmf: epochs)", .range = {0, 100000},
                  .kinds = kSgdAls},
         ENCORE_SHARED_FIELD(iterations)},
        {.spec = {.name = "learning-rate", .group = G::model, .type = T::number,
                  .help = "Step size (bpr: SGD; lmf: AdaGrad)", .range = {0, kInf, true}, .kinds = {"bpr", "lmf"}},
         ENCORE_SHARED_FIELD(learning_rate)},
        {.spec = {.name = "solver", .group = G::model, .type = T::choice,
                  .help = "als: cg (conjugate gradient, warm-started) or cholesky (exact)",
                  .choices = {"cg", "cholesky"}, .kinds = {"als"}},
         .get_model = [](const ModelOptions& o) -> std::optional<OptionValue> {
             return std::string(als_solver_name(o.als.solver));
         },
         .set_model = [](ModelOptions& o, const OptionValue& v) { o.als.solver = parse_als_solver(text_of(v)); }},
        {.spec = {.name = "cg-steps", .group = G::model, .type = T::integer,
                  .help = "als: conjugate-gradient steps per row per sweep", .range = {1, 1000}, .kinds = {"als"}},
         .get_model = [](const ModelOptions& o) { return value_of(o.als.cg_steps); },
         .set_model = [](ModelOptions& o, const OptionValue& v) { assign(o.als.cg_steps, v); }},
        {.spec = {.name = "cg-gather", .group = G::model, .type = T::choice,
                  .help = "als cg: precision the other side's factor rows are read in (arithmetic stays float32)",
                  .choices = {"half", "float"}, .kinds = {"als"}},
         .get_model = [](const ModelOptions& o) -> std::optional<OptionValue> {
             return std::string(o.als.half_gather ? "half" : "float");
         },
         .set_model = [](ModelOptions& o, const OptionValue& v) { o.als.half_gather = text_of(v) == "half"; }},
        {.spec = {.name = "cg-basis", .group = G::model, .type = T::choice,
                  .help = "als cg: the basis CG works in (eigen: where Y^T Y + lambda I is diagonal)",
                  .choices = {"eigen", "original"}, .kinds = {"als"}},
         .get_model = [](const ModelOptions& o) -> std::optional<OptionValue> {
             return std::string(o.als.eigenbasis ? "eigen" : "original");
         },
         .set_model = [](ModelOptions& o, const OptionValue& v) { o.als.eigenbasis = text_of(v) == "eigen"; }},
        {.spec = {.name = "cg-precondition", .group = G::model, .type = T::boolean,
                  .help = "als cg with cg-basis eigen: precondition by the Gram matrix's eigenvalues", .kinds = {"als"}},
         .get_model = [](const ModelOptions& o) { return value_of(o.als.cg_precondition); },
         .set_model = [](ModelOptions& o, const OptionValue& v) { assign(o.als.cg_precondition, v); }},
        {.spec = {.name = "loss", .group = G::model, .type = T::boolean,
                  .help = "als: compute and show the training loss after every iteration", .kinds = {"als"}},
         .get_model = [](const ModelOptions& o) { return value_of(o.als.compute_loss); },
         .set_model = [](ModelOptions& o, const OptionValue& v) { assign(o.als.compute_loss, v); }},
        {.spec = {.name = "oversample", .group = G::model, .type = T::integer,
                  .help = "lsa: extra random directions in the range finder", .range = {0, 10000}, .kinds = {"lsa"}},
         .get_model = [](const ModelOptions& o) { return value_of(o.lsa.oversample); },
         .set_model = [](ModelOptions& o, const OptionValue& v) { assign(o.lsa.oversample, v); }},
        {.spec = {.name = "power-iterations", .group = G::model, .type = T::integer,
                  .help = "lsa: power iterations of the range finder", .range = {0, 1000}, .kinds = {"lsa"}},
         .get_model = [](const ModelOptions& o) { return value_of(o.lsa.power_iterations); },
         .set_model = [](ModelOptions& o, const OptionValue& v) { assign(o.lsa.power_iterations, v); }},
        {.spec = {.name = "negatives", .group = G::model, .type = T::choice,
                  .help = "bpr: how negatives are drawn (popular: in proportion to listeners, as implicit)",
                  .choices = {"uniform", "popular"}, .kinds = {"bpr"}},
         .get_model = [](const ModelOptions& o) -> std::optional<OptionValue> {
             return std::string(o.bpr.popular_negatives ? "popular" : "uniform");
         },
         .set_model = [](ModelOptions& o, const OptionValue& v) { o.bpr.popular_negatives = text_of(v) == "popular"; }},
        {.spec = {.name = "verify-negatives", .group = G::model, .type = T::boolean,
                  .help = "bpr: skip (or re-draw) negatives the user played", .kinds = {"bpr"}},
         .get_model = [](const ModelOptions& o) { return value_of(o.bpr.verify_negatives); },
         .set_model = [](ModelOptions& o, const OptionValue& v) { assign(o.bpr.verify_negatives, v); }},
        {.spec = {.name = "redraw-negatives", .group = G::model, .type = T::integer,
                  .help = "bpr: re-draws of a played negative before the sample is skipped", .range = {0, 1000000},
                  .kinds = {"bpr"}},
         .get_model = [](const ModelOptions& o) { return value_of(o.bpr.redraw_negatives); },
         .set_model = [](ModelOptions& o, const OptionValue& v) { assign(o.bpr.redraw_negatives, v); }},
        {.spec = {.name = "negative-samples", .group = G::model, .type = T::integer,
                  .help = "lmf: sampled negatives per positive, on average", .range = {0, 1000000}, .kinds = {"lmf"}},
         .get_model = [](const ModelOptions& o) { return value_of(o.lmf.negative_samples); },
         .set_model = [](ModelOptions& o, const OptionValue& v) { assign(o.lmf.negative_samples, v); }},
        {.spec = {.name = "similarity", .group = G::model, .type = T::choice,
                  .help = "knn: item-item similarity (cosine of the confidences; tfidf, bm25 of the raw plays)",
                  .choices = {"cosine", "tfidf", "bm25"}, .kinds = {"knn"}},
         .get_model = [](const ModelOptions& o) -> std::optional<OptionValue> {
             return std::string(knn_similarity_name(o.knn.similarity));
         },
         .set_model = [](ModelOptions& o, const OptionValue& v) { o.knn.similarity = parse_knn_similarity(text_of(v)); }},
        {.spec = {.name = "neighbours", .group = G::model, .type = T::integer, .help = "knn: neighbours kept per item",
                  .range = {1, 1000000}, .kinds = {"knn"}},
         .get_model = [](const ModelOptions& o) { return value_of(o.knn.K); },
         .set_model = [](ModelOptions& o, const OptionValue& v) { assign(o.knn.K, v); }},
        {.spec = {.name = "seed", .group = G::model, .type = T::uint64,
                  .help = "Random seed (same seed + threads = same model; bpr: with 1 thread)", .kinds = kFactor},
         ENCORE_SHARED_FIELD(seed)},

        // ---- index: building an ANN index (encore/retrieval/ann.hpp) ----
        {.spec = {.name = "kind", .group = G::index, .type = T::choice,
                  .help = "graph (HNSW-style) or forest (Annoy-style random-hyperplane trees)", .choices = kIndexKinds},
         .get_index = [](const IndexBuildOptions& o) -> std::optional<OptionValue> { return o.kind; },
         .set_index = [](IndexBuildOptions& o, const OptionValue& v) { o.kind = text_of(v); }},
        {.spec = {.name = "metric", .group = G::index, .type = T::choice,
                  .help = "cosine (for related) or dot (for recommend, by norm augmentation)",
                  .choices = {"cosine", "dot"}},
         .get_index = [](const IndexBuildOptions& o) -> std::optional<OptionValue> {
             return std::string(metric_name(o.metric));
         },
         .set_index = [](IndexBuildOptions& o, const OptionValue& v) { o.metric = parse_metric(text_of(v)); }},
        {.spec = {.name = "trees", .group = G::index, .type = T::integer, .help = "forest: number of trees",
                  .range = {1, 10000}, .kinds = {"forest"}},
         .get_index = [](const IndexBuildOptions& o) { return value_of(o.trees); },
         .set_index = [](IndexBuildOptions& o, const OptionValue& v) { assign(o.trees, v); }},
        {.spec = {.name = "leaf-size", .group = G::index, .type = T::integer, .help = "forest: most items in a leaf",
                  .range = {2, 1 << 20}, .kinds = {"forest"}},
         .get_index = [](const IndexBuildOptions& o) { return value_of(o.leaf_size); },
         .set_index = [](IndexBuildOptions& o, const OptionValue& v) { assign(o.leaf_size, v); }},
        {.spec = {.name = "search-k", .group = G::index, .type = T::integer,
                  .help = "forest: default query effort stored in the index (candidates gathered)",
                  .range = {1, 1 << 30}, .kinds = {"forest"}, .default_rule = "100 x trees"},
         .get_index = [](const IndexBuildOptions& o) {
             return value_of(o.search_k > 0 ? o.search_k : kForestSearchPerTree * o.trees);
         },
         .set_index = [](IndexBuildOptions& o, const OptionValue& v) { assign(o.search_k, v); }},
        {.spec = {.name = "M", .group = G::index, .type = T::integer,
                  .help = "graph: links per node (2M on the bottom layer)", .range = {2, 256}, .kinds = {"graph"}},
         .get_index = [](const IndexBuildOptions& o) { return value_of(o.M); },
         .set_index = [](IndexBuildOptions& o, const OptionValue& v) { assign(o.M, v); }},
        {.spec = {.name = "ef-construction", .group = G::index, .type = T::integer,
                  .help = "graph: beam width while building", .range = {1, 100000}, .kinds = {"graph"}},
         .get_index = [](const IndexBuildOptions& o) { return value_of(o.ef_construction); },
         .set_index = [](IndexBuildOptions& o, const OptionValue& v) { assign(o.ef_construction, v); }},
        {.spec = {.name = "alpha", .group = G::index, .type = T::number,
                  .help = "graph: neighbour pruning (1 = HNSW's heuristic; more keeps longer links, as in Vamana)",
                  .range = {1, 2}, .kinds = {"graph"}},
         .get_index = [](const IndexBuildOptions& o) { return value_of(o.prune_alpha); },
         .set_index = [](IndexBuildOptions& o, const OptionValue& v) { assign(o.prune_alpha, v); }},
        {.spec = {.name = "ef", .group = G::index, .type = T::integer,
                  .help = "graph: default query beam width stored in the index", .range = {1, 1 << 20},
                  .kinds = {"graph"}},
         .get_index = [](const IndexBuildOptions& o) { return value_of(o.ef > 0 ? o.ef : kGraphDefaultEf); },
         .set_index = [](IndexBuildOptions& o, const OptionValue& v) { assign(o.ef, v); }},
        {.spec = {.name = "seed", .group = G::index, .type = T::uint64,
                  .help = "Random seed (the index depends on it, not on the thread count)"},
         .get_index = [](const IndexBuildOptions& o) { return value_of(o.seed); },
         .set_index = [](IndexBuildOptions& o, const OptionValue& v) { assign(o.seed, v); }},

        // ---- query: related / recommend (encore/query/queries.hpp) ----
        {.spec = {.name = "n", .group = G::query, .type = T::integer, .help = "Results per query",
                  .range = {1, 1000000}},
         .get_query = [](const QuerySettings& q) { return value_of(q.n); },
         .set_query = [](QuerySettings& q, const OptionValue& v) { assign(q.n, v); }},
        {.spec = {.name = "explain", .group = G::query, .type = T::integer,
                  .help = "recommend: played items listed per result as its explanation (0 = none)",
                  .range = {0, 1000}},
         .get_query = [](const QuerySettings& q) { return value_of(q.explain); },
         .set_query = [](QuerySettings& q, const OptionValue& v) { assign(q.explain, v); }},
        {.spec = {.name = "include-played", .group = G::query, .type = T::boolean,
                  .help = "recommend: keep items the user already played"},
         .get_query = [](const QuerySettings& q) { return value_of(q.include_played); },
         .set_query = [](QuerySettings& q, const OptionValue& v) { assign(q.include_played, v); }},
        {.spec = {.name = "candidates", .group = G::query, .type = T::integer,
                  .help = "Ensemble of several models: each model's top-N forming the candidates",
                  .range = {1, 1000000}},
         .get_query = [](const QuerySettings& q) { return value_of(q.candidates); },
         .set_query = [](QuerySettings& q, const OptionValue& v) { assign(q.candidates, v); }},
        {.spec = {.name = "ef", .group = G::query, .type = T::integer,
                  .help = "Through a graph index: beam width per query", .range = {1, 1 << 20}, .kinds = {"graph"},
                  .default_rule = "the index's (index option ef)"},
         .get_query = search_effort,
         .set_query = [](QuerySettings& q, const OptionValue& v) { assign(q.search, v); }},
        {.spec = {.name = "search-k", .group = G::query, .type = T::integer,
                  .help = "Through a forest index: candidates gathered per query", .range = {1, 1 << 30},
                  .kinds = {"forest"}, .default_rule = "the index's (index option search-k)"},
         .get_query = search_effort,
         .set_query = [](QuerySettings& q, const OptionValue& v) { assign(q.search, v); }},
    };
    return table;
}

#undef ENCORE_SHARED_FIELD

bool is_model_group(OptionGroup g) { return g == G::weighting || g == G::model; }

bool contains(const std::vector<std::string>& names, std::string_view name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
    std::string out;
    for (const auto& p : parts) out += (out.empty() ? "" : std::string(sep)) + p;
    return out;
}

// Edit distance, for "did you mean" suggestions.
std::size_t distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diag = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t up = row[j];
            const bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                              std::tolower(static_cast<unsigned char>(b[j - 1]));
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (same ? 0 : 1)});
            diag = up;
        }
    }
    return row[b.size()];
}

const Entry& find_entry(std::string_view name, std::initializer_list<OptionGroup> groups) {
    std::vector<std::string> names, close;
    for (const auto& e : entries()) {
        if (std::find(groups.begin(), groups.end(), e.spec.group) == groups.end()) continue;
        if (e.spec.name == name) return e;
        names.push_back(e.spec.name);
        const auto d = distance(name, e.spec.name);
        const bool prefix = !name.empty() && (e.spec.name.starts_with(name) || name.starts_with(e.spec.name));
        if (d <= std::max<std::size_t>(2, name.size() / 3) || prefix) close.push_back(e.spec.name);
    }
    if (!close.empty()) throw OptionError(fmt::format("unknown option '{}'; did you mean: {}?", name, join(close, ", ")));
    throw OptionError(fmt::format("unknown option '{}' (known: {})", name, join(names, ", ")));
}

// How a value given by the user is quoted back: text in quotes, typed values as they are.
std::string shown(const OptionValue& v) {
    if (const auto* s = std::get_if<std::string>(&v)) return fmt::format("'{}'", *s);
    return option_value_text(v);
}

std::string number_text(double x) { return fmt::format("{}", x); }

std::string range_words(const OptionSpec& s, const OptionRange& r) {
    if (s.type == T::uint64) return fmt::format("in [0, {}]", kU64Max);
    if (std::isinf(r.hi)) return fmt::format("{} {}", r.lo_open ? ">" : ">=", number_text(r.lo));
    return fmt::format("in {}{}, {}]", r.lo_open ? "(" : "[", number_text(r.lo), number_text(r.hi));
}

[[noreturn]] void out_of_range(const OptionSpec& s, std::string_view kind, const std::string& got) {
    const OptionRange& r = s.range_for(kind);
    const bool narrowed = &r != &s.range;
    throw OptionError(fmt::format("{} must be {}{}, got {}", s.name, range_words(s, r),
                                  narrowed ? fmt::format(" for {}", kind) : "", got));
}

template <class N>
bool parse_whole(std::string_view text, N& out) {
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, out);
    return ec == std::errc() && ptr == end && !text.empty();
}

// The number a value holds (text parsed); nullopt when it is not a finite number.
std::optional<double> number_in(const OptionValue& v) {
    if (const auto* i = std::get_if<std::int64_t>(&v)) return static_cast<double>(*i);
    if (const auto* u = std::get_if<std::uint64_t>(&v)) return static_cast<double>(*u);
    if (const auto* d = std::get_if<double>(&v)) return std::isfinite(*d) ? std::optional(*d) : std::nullopt;
    if (const auto* s = std::get_if<std::string>(&v)) {
        double x = 0;
        if (parse_whole(*s, x) && std::isfinite(x)) return x;
    }
    return std::nullopt;
}

OptionValue check_uint64(const OptionSpec& s, const OptionValue& v) {
    if (const auto* u = std::get_if<std::uint64_t>(&v)) return *u;
    if (const auto* i = std::get_if<std::int64_t>(&v)) {
        if (*i < 0) out_of_range(s, {}, std::to_string(*i));
        return static_cast<std::uint64_t>(*i);
    }
    std::uint64_t exact = 0;
    if (const auto* t = std::get_if<std::string>(&v); t && parse_whole(*t, exact)) return exact;
    const auto x = std::holds_alternative<bool>(v) ? std::nullopt : number_in(v);
    if (!x || *x != std::floor(*x)) throw OptionError(fmt::format("{} must be an integer, got {}", s.name, shown(v)));
    if (*x < 0 || *x >= 18446744073709551616.0) out_of_range(s, {}, number_text(*x));
    return static_cast<std::uint64_t>(*x);
}

const Entry& entry_of(const OptionSpec& spec) {
    for (const auto& e : entries())
        if (e.spec.name == spec.name && e.spec.group == spec.group) return e;
    throw Error(fmt::format("option '{}' is not in the registry", spec.name));
}

void check_applies(const OptionSpec& s, std::string_view kind) {
    if (s.applies_to(kind)) return;
    throw OptionError(fmt::format("{} does not apply to {} (only to {})", s.name, kind, join(s.kinds, ", ")));
}

nlohmann::json range_json(const OptionSpec& s, const OptionRange& r) {
    if (s.type == T::uint64) return nlohmann::json::array({0, kU64Max});
    if (s.type != T::integer && s.type != T::number) return nullptr;
    // Integer ranges are finite (a test checks); a float's upper bound may be open-ended (null).
    if (s.type == T::integer) return {static_cast<std::int64_t>(r.lo), static_cast<std::int64_t>(r.hi)};
    return {r.lo, std::isinf(r.hi) ? nlohmann::json(nullptr) : nlohmann::json(r.hi)};
}

}  // namespace

std::string_view option_group_name(OptionGroup group) {
    switch (group) {
        case G::weighting: return "weighting";
        case G::model: return "model";
        case G::index: return "index";
        case G::query: return "query";
    }
    return "?";
}

std::string_view option_type_name(OptionType type) {
    switch (type) {
        case T::integer: return "int";
        case T::number: return "float";
        case T::boolean: return "bool";
        case T::choice: return "enum";
        case T::uint64: return "uint64";
    }
    return "?";
}

std::string option_value_text(const OptionValue& value) {
    return std::visit(
        [](const auto& x) -> std::string {
            using V = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<V, bool>)
                return x ? "true" : "false";
            else if constexpr (std::is_same_v<V, std::string>)
                return x;
            else
                return fmt::format("{}", x);
        },
        value);
}

nlohmann::json option_value_json(const OptionValue& value) {
    return std::visit([](const auto& x) { return nlohmann::json(x); }, value);
}

bool OptionSpec::applies_to(std::string_view kind) const { return kinds.empty() || kind.empty() || contains(kinds, kind); }

const OptionRange& OptionSpec::range_for(std::string_view kind) const {
    for (const auto& [k, r] : kind_ranges)
        if (k == kind) return r;
    return range;
}

const std::vector<OptionSpec>& option_registry() {
    static const std::vector<OptionSpec> specs = [] {
        std::vector<OptionSpec> out;
        for (const auto& e : entries()) out.push_back(e.spec);
        return out;
    }();
    return specs;
}

const std::vector<std::string>& model_kind_names() { return kModelKindNames; }
const std::vector<std::string>& index_kind_names() { return kIndexKinds; }

const OptionSpec& find_option(std::string_view name, std::initializer_list<OptionGroup> groups) {
    return find_entry(name, groups).spec;
}

OptionValue check_option(const OptionSpec& s, const OptionValue& v, std::string_view kind) {
    switch (s.type) {
        case T::boolean: {
            if (const auto* b = std::get_if<bool>(&v)) return *b;
            if (const auto* t = std::get_if<std::string>(&v)) {
                if (*t == "true" || *t == "1" || *t == "yes" || *t == "on") return true;
                if (*t == "false" || *t == "0" || *t == "no" || *t == "off") return false;
            }
            throw OptionError(fmt::format("{} must be true or false, got {}", s.name, shown(v)));
        }
        case T::choice: {
            const auto* t = std::get_if<std::string>(&v);
            if (t && contains(s.choices, *t)) return *t;
            throw OptionError(fmt::format("{} must be one of {}, got {}", s.name, join(s.choices, ", "), shown(v)));
        }
        case T::uint64: return check_uint64(s, v);
        case T::integer:
        case T::number: break;
    }
    const bool integer = s.type == T::integer;
    const auto x = std::holds_alternative<bool>(v) ? std::nullopt : number_in(v);
    if (!x) throw OptionError(fmt::format("{} must be {}, got {}", s.name, integer ? "an integer" : "a number", shown(v)));
    if (integer && *x != std::floor(*x)) throw OptionError(fmt::format("{} must be an integer, got {}", s.name, shown(v)));
    if (!s.range_for(kind).contains(*x)) out_of_range(s, kind, number_text(*x));
    if (integer) return static_cast<std::int64_t>(*x);
    return *x;
}

std::optional<OptionValue> option_default(const OptionSpec& spec, std::string_view kind) {
    const Entry& e = entry_of(spec);
    if (is_model_group(spec.group)) {
        if (kind.empty() || !spec.applies_to(kind)) return std::nullopt;
        return e.get_model(default_model_options(parse_model_kind(kind)));
    }
    if (spec.group == G::index) return e.get_index(IndexBuildOptions{});
    return e.get_query(QuerySettings{});
}

void set_model_option(ModelOptions& options, std::string_view name, const OptionValue& value) {
    const Entry& e = find_entry(name, {G::weighting, G::model});
    const auto kind = model_kind_name(options.kind);
    check_applies(e.spec, kind);
    e.set_model(options, check_option(e.spec, value, kind));
}

std::optional<OptionValue> get_model_option(const ModelOptions& options, std::string_view name) {
    const Entry& e = find_entry(name, {G::weighting, G::model});
    if (!e.spec.applies_to(model_kind_name(options.kind))) return std::nullopt;
    return e.get_model(options);
}

ModelOptions model_options_from(std::string_view kind, const OptionValues& values) {
    ModelOptions o = default_model_options(parse_model_kind(kind));
    for (const auto& [name, value] : values) set_model_option(o, name, value);
    return o;
}

void check_model_options(const ModelOptions& options) {
    const auto kind = model_kind_name(options.kind);
    for (const auto& e : entries()) {
        if (!is_model_group(e.spec.group) || !e.spec.applies_to(kind)) continue;
        if (auto v = e.get_model(options)) check_option(e.spec, *v, kind);
    }
}

void set_index_option(IndexBuildOptions& options, std::string_view name, const OptionValue& value) {
    const Entry& e = find_entry(name, {G::index});
    const OptionValue v = check_option(e.spec, value);
    if (e.spec.name != "kind") check_applies(e.spec, options.kind);
    e.set_index(options, v);
}

std::optional<OptionValue> get_index_option(const IndexBuildOptions& options, std::string_view name) {
    const Entry& e = find_entry(name, {G::index});
    if (!e.spec.applies_to(options.kind)) return std::nullopt;
    return e.get_index(options);
}

IndexBuildOptions index_options_from(const OptionValues& values) {
    IndexBuildOptions o;
    // The kind first: the other options are checked against it.
    if (auto it = values.find("kind"); it != values.end()) set_index_option(o, "kind", it->second);
    for (const auto& [name, value] : values)
        if (name != "kind") set_index_option(o, name, value);
    return o;
}

void set_query_option(QuerySettings& settings, std::string_view name, const OptionValue& value) {
    const Entry& e = find_entry(name, {G::query});
    e.set_query(settings, check_option(e.spec, value));
}

std::optional<OptionValue> get_query_option(const QuerySettings& settings, std::string_view name) {
    return find_entry(name, {G::query}).get_query(settings);
}

QuerySettings query_settings_from(const OptionValues& values) {
    QuerySettings q;
    for (const auto& [name, value] : values) set_query_option(q, name, value);
    return q;
}

std::string option_default_text(const OptionSpec& spec, std::string_view kind) {
    if (!kind.empty() || !is_model_group(spec.group)) {
        if (auto v = option_default(spec, kind)) return option_value_text(*v);
        return spec.default_rule;
    }
    if (!spec.default_rule.empty()) return spec.default_rule;
    // Kinds grouped by their default, in kind order: "64" or "als 15, bpr 100, lmf 30".
    std::vector<std::pair<std::string, std::vector<std::string>>> groups;
    for (const auto& k : spec.kinds) {
        const std::string text = option_value_text(*option_default(spec, k));
        auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == text; });
        if (it == groups.end()) groups.push_back({text, {k}});
        else it->second.push_back(k);
    }
    if (groups.size() == 1) return groups[0].first;
    std::vector<std::string> parts;
    for (const auto& [text, kinds] : groups) parts.push_back(fmt::format("{} {}", join(kinds, ","), text));
    return join(parts, "; ");
}

std::string option_range_text(const OptionSpec& spec, std::string_view kind) {
    switch (spec.type) {
        case T::boolean: return "";
        case T::choice: return join(spec.choices, "|");
        case T::uint64: return fmt::format("[0, {}]", kU64Max);
        case T::integer:
        case T::number: break;
    }
    auto words = range_words(spec, spec.range_for(kind));
    if (words.starts_with("in ")) words.erase(0, 3);
    if (kind.empty())
        for (const auto& [k, r] : spec.kind_ranges) words += fmt::format(" ({}: {})", k, option_range_text(spec, k));
    return words;
}

nlohmann::json options_json(std::optional<std::string_view> kind) {
    const bool model_kind = kind && contains(kModelKindNames, *kind);
    const bool index_kind = kind && contains(kIndexKinds, *kind);
    if (kind && !model_kind && !index_kind)
        throw OptionError(fmt::format("unknown kind '{}' (model kinds: {}; index kinds: {})", *kind,
                                      join(kModelKindNames, ", "), join(kIndexKinds, ", ")));
    const std::string_view k = kind.value_or("");
    nlohmann::json out = {{"kind", kind ? nlohmann::json(std::string(*kind)) : nlohmann::json(nullptr)},
                          {"options", nlohmann::json::array()}};
    for (const auto& s : option_registry()) {
        const bool model = is_model_group(s.group);
        if (kind && (model != model_kind || !s.applies_to(k))) continue;
        nlohmann::json j = {{"name", s.name},
                            {"group", option_group_name(s.group)},
                            {"type", option_type_name(s.type)},
                            {"help", s.help},
                            {"kinds", s.kinds},
                            {"choices", s.choices},
                            {"range", range_json(s, s.range_for(k))},
                            {"range_min_exclusive", s.range_for(k).lo_open},
                            {"range_by_kind", nlohmann::json::object()},
                            {"default_rule", s.default_rule}};
        if (!kind)
            for (const auto& [rk, r] : s.kind_ranges) j["range_by_kind"][rk] = range_json(s, r);
        nlohmann::json defaults = nlohmann::json::object();
        if (model)
            for (const auto& mk : s.kinds)
                if (!kind || mk == k) defaults[mk] = option_value_json(*option_default(s, mk));
        nlohmann::json def = nullptr;
        if (!model) {
            if (auto v = option_default(s)) def = option_value_json(*v);
        } else if (!defaults.empty()) {
            // One value when every kind agrees; null when it differs per kind (see "defaults").
            def = defaults.begin().value();
            for (const auto& d : defaults)
                if (d != defaults.begin().value()) def = nullptr;
        }
        j["default"] = def;
        j["defaults"] = defaults;
        out["options"].push_back(j);
    }
    return out;
}

}  // namespace encore
