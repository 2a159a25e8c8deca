#pragma once
// Radio: a session that plays items one after another from a seed item (or a user's taste), learns
// from thumbs, and never repeats an item until its pool is used up. The rules (docs/api.md, "Radio"):
//
//   pool      the seed's stored radio neighbours (encore precompute --radio), each with weight
//             max(score, min_weight); the seed itself (weight 1) plays first. A user's radio seeds
//             from the first `user_seeds` of their stored recommendations (the first plays first) and
//             pools their neighbours (an item's weight: its best score among them).
//   order     shuffle on: by the key ln(u) / w, highest first, with u in (0, 1] a hash of (session
//             seed, item, cycle): a weighted random shuffle (Efraimidis-Spirakis) that is the same for
//             the same session seed, however often it is recomputed. shuffle off: by weight. Ties:
//             lower item index first.
//   next n    the n first items in that order that are neither played in this cycle nor banned; when
//             none is left the cycle ends (cycle + 1, a new shuffle) and every unbanned item may play
//             again.
//   up x      x's first `up_neighbours` neighbours (j, s) join the pool or gain: w_j += up_boost * s+.
//   down x    x is banned (never plays again) and its first `down_neighbours` neighbours are pushed
//             down: w_j *= 1 - down_factor * s+.
//   skip x    as down with skip_factor, and x is not banned.
//   (s+ = max(s, 0); a weight never falls below min_weight.)
//
// Feedback names an item the session has played. A session is its start (seed, session seed, shuffle)
// plus its events; state is rebuilt by replaying them, so a session lives in a SessionLog (SQLite on one
// host, PostgreSQL shared by several) and survives a killed server: what was acknowledged was committed.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "encore/serve/store.hpp"
#include "encore/util/error.hpp"

namespace encore {

struct RadioRules {
    int up_neighbours = 50;
    double up_boost = 1.0;
    int down_neighbours = 50;
    double down_factor = 0.5;
    double skip_factor = 0.1;
    double min_weight = 0.01;
    int user_seeds = 5;
};

enum class RadioEventKind { play, up, down, skip };
std::string_view radio_event_name(RadioEventKind k);
std::optional<RadioEventKind> parse_radio_feedback(std::string_view name);  // up | down | skip
std::optional<RadioEventKind> parse_radio_event(std::string_view name);     // play | up | down | skip

struct RadioEvent {
    RadioEventKind kind;
    std::string item;  // the item's key (keys outlive a store's indices)
};

// How a session started: what seeded it and with what.
struct RadioStart {
    std::string id;
    std::string seed_kind;  // "item" | "user"
    std::string seed;       // item key or user id
    std::uint64_t seed_value = 0;
    bool shuffle = true;
    std::string created;    // UTC, ISO 8601
};

// The session's state: pool weights, what played in this cycle, what is banned. Pure logic: the item
// neighbour lists come from a Store.
class RadioState {
public:
    // Throws Error when the seed has no neighbours in the store (or the user no recommendations).
    RadioState(const RadioStart& start, const Store& store, const RadioRules& rules);
    // The next n items (without playing them).
    std::vector<std::int32_t> peek(int n) const;
    // Applies an event; an item unknown to the store is skipped (the store may have been replaced).
    void apply(const RadioEvent& e, const Store& store);
    bool played(std::int32_t item) const { return ever_played_.count(item) > 0; }
    double weight(std::int32_t item) const;  // 0 when not in the pool
    bool banned(std::int32_t item) const { return banned_.count(item) > 0; }
    int cycle() const { return cycle_; }
    std::size_t pool_size() const { return weights_.size(); }
    const std::vector<std::int32_t>& history() const { return history_; }

private:
    double key(std::int32_t item, double w, int cycle) const;
    void add_neighbours(const std::vector<StoredItem>& list, int limit, double boost, bool take_max);
    void scale_neighbours(const std::vector<StoredItem>& list, int limit, double factor);

    RadioRules rules_;
    std::uint64_t seed_value_;
    bool shuffle_;
    std::optional<std::int32_t> first_;  // plays before the pool order (the seed), until played
    std::map<std::int32_t, double> weights_;
    std::set<std::int32_t> played_in_cycle_, ever_played_, banned_;
    std::vector<std::int32_t> history_;
    int cycle_ = 0;
};

// Where sessions and their events live. append() is optimistic: it adds the events after
// expected_last (the last event number the caller has seen) and returns the new last number, or
// nullopt when another writer got there first (the caller reloads and tries again).
class SessionLog {
public:
    virtual ~SessionLog() = default;
    virtual void create(const RadioStart& start) = 0;
    virtual std::optional<RadioStart> find(const std::string& id) = 0;
    // Events numbered after `after` (1, 2, ...), in order, with the number of the last.
    virtual std::vector<RadioEvent> events(const std::string& id, std::int64_t after, std::int64_t* last) = 0;
    virtual std::optional<std::int64_t> append(const std::string& id, std::int64_t expected_last,
                                               std::span<const RadioEvent> events) = 0;
    virtual std::string describe() const = 0;  // "sqlite:/path" or "postgresql://host/db"
};

// SQLite (WAL, synchronous NORMAL: a commit survives a killed process; `full` also a power cut).
std::unique_ptr<SessionLog> open_sqlite_sessions(const std::string& path, bool full_sync = false);
// PostgreSQL through libpqxx; `connection` is a libpq URI or key=value string. Creates its tables.
std::unique_ptr<SessionLog> open_postgresql_sessions(const std::string& connection, int connections);

// What a radio request answers: the session and the items it plays next.
struct RadioReply {
    std::string session;
    std::vector<std::int32_t> items;
    std::optional<std::int32_t> feedback_item;  // the item feedback was about
};

// Sessions over a log, with their replayed state cached (each request first catches up with events
// another host may have appended). Thread-safe; one lock per session.
class RadioService {
public:
    RadioService(std::unique_ptr<SessionLog> log, RadioRules rules = {});
    ~RadioService();
    // Throws Error (unknown seed, nothing to play) naming the problem.
    RadioReply start(const Store& store, std::string_view seed_kind, std::string_view seed, std::optional<std::uint64_t> seed_value,
                     bool shuffle, int n);
    // The next n items, recorded as played. Throws NotFound for an unknown session.
    RadioReply next(const Store& store, const std::string& id, int n);
    // Thumbs: kind up/down/skip on an item the session played (Error otherwise); returns the n items
    // that would play next after it.
    RadioReply feedback(const Store& store, const std::string& id, std::string_view item_key, RadioEventKind kind, int n);
    // The session's start, history, queue preview and pool size as JSON.
    nlohmann::json describe(const Store& store, const std::string& id, int n);
    const SessionLog& log() const { return *log_; }

    class NotFound : public Error {
    public:
        using Error::Error;
    };

private:
    struct Live;
    std::shared_ptr<Live> live(const Store& store, const std::string& id);
    template <typename Change>
    RadioReply change(const Store& store, const std::string& id, Change&& f);

    std::unique_ptr<SessionLog> log_;
    RadioRules rules_;
    std::mutex mutex_;
    std::unordered_map<std::string, std::shared_ptr<Live>> sessions_;
};

}  // namespace encore
