#pragma once
// Recommender: the one object every front end (CLI, HTTP server, Python, MPI driver) queries.
//
//   auto rec = encore::Recommender::open({.models = {"als.encm"}, .indexes = {"items.enci"}});
//   auto related = rec.related(rec.item("Björk"), {.n = 10});
//   std::cout << rec.to_json(rec.item_query(i), related).dump(2);
//
// Opened once from one or more model files (several = their ensemble, weighted by an optional .ence
// file), optional ANN indexes (.enci: a cosine index serves related items, a dot index recommendations)
// and ensemble file. open() maps the files and checks once that they belong together (same items, the
// index built from these factors, the ensemble fitted for these models); what queries need beyond that
// (unit-length factors, popularity order, Gram matrices) is prepared on first use, once, or up front by
// warm(). Every query is const and safe from many threads at once. The scoring path is chosen here, from
// what was opened: the ensemble when there are several models or an ensemble file, else an index of the
// query's metric when one was given, else the exact scan.
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "encore/models/ensemble.hpp"
#include "encore/models/model.hpp"
#include "encore/query/queries.hpp"

namespace encore {

class AnnIndex;
class EnsembleScorer;
class Progress;

struct RecommenderOptions {
    std::vector<std::string> models{};   // .encm files, at least one (several: an ensemble over the same items)
    std::vector<std::string> indexes{};  // .enci files: at most one cosine (related) and one dot (recommend)
    std::string ensemble{};              // .ence weights for the models, in the order it lists them
    int candidates = 50;               // ensemble without a file: each member's top-N candidates
    bool verify = true;                // check every checksum at open (reads each file once)
    int threads = 0;                   // preparing factors (warm, first use); 0 = all cores
};

// How a query was answered.
enum class Scoring { exact, index, ensemble };
std::string_view scoring_name(Scoring s);

// One query's settings. filter: allowed items (ItemFilter::from_items / from_files; null = every item).
struct Query {
    int n = 10;
    const ItemFilter* filter = nullptr;
    bool filter_played = true;  // recommend: drop what the user played
    int explain = 0;            // recommend: that many reasons ("because you played") per result
    int search = 0;             // index: query effort (graph ef, forest search_k); 0 = the index's default
};

// Batch work: threads for this call, progress (a library-side counter the caller renders; null = none)
// and a cancellation flag (set from any thread; the call then throws Cancelled).
struct Batch {
    int threads = 0;
    Progress* progress = nullptr;
    const std::atomic<bool>* cancel = nullptr;
    bool low_precision = true;  // exact batch scoring's candidate pass (results identical either way)
    // With an empty list: only items / users [first, first + count) (count -1: to the last), on the
    // same blocked path as the whole batch; result k answers first + k. How a long job runs in fixed
    // slices that it writes as it goes (encore precompute).
    std::int64_t first = 0;
    std::int64_t count = -1;
};

// A result with what a front end shows: index, key, display name, score, reasons.
struct ResultView {
    std::int32_t index;
    std::string_view key, name;
    float score;
    const std::vector<Contribution>* because;
};

class Recommender {
public:
    // Throws Error (FormatError for bad files) naming the file and what does not fit.
    static Recommender open(const RecommenderOptions& options);
    Recommender(Recommender&&) noexcept;
    Recommender& operator=(Recommender&&) noexcept;
    ~Recommender();

    // Prepares everything queries use (unit-length factors, Gram matrices, half-precision copies of the
    // factors single queries scan) now instead of on first use.
    void warm() const;

    const Model& model() const;  // the first model: ids, names, played items
    int members() const;         // models opened (1 unless an ensemble)
    const Model& member(int m) const;
    const Ensemble* ensemble() const;  // null unless an ensemble
    const AnnIndex* index(bool related) const;  // the index serving related (cosine) / recommend (dot), or null
    Scoring related_scoring() const;
    Scoring recommend_scoring() const;

    // Lookups: an item by key or display name (exact, then case-insensitive; suggestions when unknown),
    // a user by id. Throw Error with a message for a person.
    std::int32_t item(std::string_view key_or_name) const;
    std::int32_t user(std::string_view id) const;
    std::string_view item_key(std::int32_t i) const;
    std::string_view item_name(std::int32_t i) const;  // the display name (the key when there is none)
    std::string_view user_key(std::int32_t u) const;
    // An item filter from item indices in memory (allow empty = every item, minus deny).
    ItemFilter filter(std::span<const std::int32_t> allow, std::span<const std::int32_t> deny) const;

    // Single queries.
    std::vector<Recommendation> related(std::int32_t item, const Query& q) const;
    std::vector<Recommendation> recommend(std::int32_t user, const Query& q) const;
    // A new user from items (and optional play counts, else each at its typical listener's weight).
    std::vector<Recommendation> recommend_items(std::span<const std::int32_t> items, std::span<const float> plays,
                                                const Query& q) const;
    std::vector<Recommendation> similar_users(std::int32_t user, const Query& q) const;
    // Why item suits user: the n played items contributing most, and the full score they add up to.
    std::vector<Contribution> explain(std::int32_t user, std::int32_t item, int n, float* total_score = nullptr) const;
    // The same for several items of one user, prepared once (a factorisation for ALS): out[k] explains
    // items[k]. Answers by the first model, also for an ensemble.
    std::vector<std::vector<Contribution>> explain(std::int32_t user, std::span<const std::int32_t> items, int n) const;
    // How the first model relates other to item (what its related() ranks by: cosine of factors, knn's
    // stored similarity, popular: other's listeners).
    double similarity(std::int32_t item, std::int32_t other) const;

    // Batch queries: every item / user (empty list) or the listed ones; result k answers list[k].
    std::vector<std::vector<Recommendation>> related_batch(std::span<const std::int32_t> items, const Query& q,
                                                           const Batch& b = {}) const;
    std::vector<std::vector<Recommendation>> recommend_batch(std::span<const std::int32_t> users, const Query& q,
                                                             const Batch& b = {}) const;

    // Results as views with keys and names, and as the documented JSON contract (docs/api.md):
    // {"query": query, "results": [{"id", "name", "score", "because": [{"id", "name", "score"}]}]}.
    std::vector<ResultView> view(const std::vector<Recommendation>& results) const;
    nlohmann::json item_query(std::int32_t item) const;  // {"id", "name"}
    nlohmann::json user_query(std::int32_t user) const;  // {"id", "name"}
    nlohmann::json to_json(const nlohmann::json& query, const std::vector<Recommendation>& results) const;

private:
    struct State;
    explicit Recommender(std::unique_ptr<State> state);
    std::unique_ptr<State> s_;
};

}  // namespace encore
