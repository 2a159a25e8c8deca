#pragma once
// The Store: everything a serving host needs, precomputed in batch into one SQLite database (the tables
// are in docs/formats.md, "Store"): items and users, related items per item for every model and the
// ensemble, the radio neighbours of every item, and each user's recommendations with the played items
// they come from ("because"). Spotify's pattern: Discover and Related Artists are computed in batch and
// served by lookups; the server (encore serve) only reads this file, plus a live model for new users.
//
// precompute() writes it in fixed slices of items and users, one transaction per slice with its row in
// the `progress` table, into STORE.db.partial; a run that is killed (even with SIGKILL) and started
// again with the same inputs and options continues after the last committed slice, and the finished
// store holds the same rows as an uninterrupted run. When every slice is in, the file is renamed to
// STORE.db, so a reader never sees a half-written store.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace encore {

class Reporter;

struct PrecomputeOptions {
    std::vector<std::string> models{};   // .encm files (several: their ensemble is stored too)
    std::string ensemble{};              // .ence weights for the models (else every model weighted 1)
    std::vector<std::string> indexes{};  // .enci files, each matched to the model it was built from
    int related = 20;                    // related items per item, per model
    int radio = 250;                     // radio neighbours per item (0 = none)
    int recommendations = 50;            // per user (0 = none)
    int because = 3;                     // played items explaining each recommendation (0 = none)
    int candidates = 50;                 // ensemble without a file: each member's top-N candidates
    int search = 0;                      // index query effort (0 = the index's default)
    std::int64_t slice = 0;              // items / users per transaction (0 = 2048)
    int threads = 0;                     // 0 = all cores
    bool verify = true;                  // check every input checksum when opening
    bool restart = false;                // an unfinished store of other inputs or options: start over
};

struct PrecomputeReport {
    std::string path;
    std::int64_t items = 0, users = 0, models = 0;
    std::int64_t related_rows = 0, radio_lists = 0, recommendation_lists = 0;
    std::int64_t slices = 0, slices_resumed = 0;  // slices resumed = found committed by an earlier run
    double seconds = 0;
    std::uint64_t bytes = 0;  // the finished file
    nlohmann::json to_json() const;
    std::string summary() const;  // one line for a person
};

// Throws OptionError for bad options, Error for inputs that do not fit together or an unfinished
// store of other inputs (unless restart), Cancelled when reporter asks to stop (the committed slices
// stay for the next run).
PrecomputeReport precompute(const PrecomputeOptions& options, const std::string& path, Reporter* reporter = nullptr);

// The on-disk layout's version (meta 'version'); a reader refuses a newer one.
inline constexpr int kStoreVersion = 1;

// One stored list entry: an item and its score.
struct StoredItem {
    std::int32_t item;
    float score;
};

// A stored recommendation and its reasons (the played items that contribute most).
struct StoredRecommendation {
    std::int32_t item;
    float score;
    std::vector<StoredItem> because;
};

struct StoredRelated {
    std::int32_t item;
    float score;
    std::vector<float> member_scores;  // ensemble rows: each member model's own score, in model order
};

struct StoredModel {
    int id;
    std::string name, kind, file;
    nlohmann::json info;
};

// A finished store, opened read-only. Every method is const and safe from many threads at once (each
// thread uses its own SQLite connection, opened on first use).
class Store {
public:
    // Throws FormatError for a file that is not a finished encore store (naming what is wrong).
    static std::shared_ptr<const Store> open(const std::string& path);
    ~Store();

    const std::string& path() const;
    std::uint64_t generation() const;  // unique per open() in this process (1, 2, ...)
    const nlohmann::json& meta() const;  // the meta table as an object
    const std::vector<StoredModel>& models() const;
    // The model answering related items by default: the ensemble when there is one, else the first.
    const StoredModel& default_model() const;
    const StoredModel* find_model(std::string_view name) const;

    std::int64_t n_items() const;
    std::int64_t n_users() const;
    std::string_view item_key(std::int32_t item) const;
    std::string_view item_name(std::int32_t item) const;
    std::int64_t listeners(std::int32_t item) const;
    std::string_view user_key(std::int32_t user) const;
    std::int32_t find_item(std::string_view key) const;  // -1 when unknown
    std::int32_t find_user(std::string_view key) const;  // -1 when unknown

    // Items whose display name (or key) starts with q under Unicode case folding, most listeners first;
    // then, up to n, names containing q, then names similar to q (name_similarity), by listeners.
    std::vector<std::int32_t> search(std::string_view q, int n) const;

    std::vector<StoredRelated> related(int model, std::int32_t item, int n) const;
    std::vector<StoredItem> radio(std::int32_t item) const;
    std::vector<StoredRecommendation> recommendations(std::int32_t user, int n) const;

private:
    struct State;
    explicit Store(std::unique_ptr<State> state);
    std::unique_ptr<State> s_;
};

}  // namespace encore
