#include "encore/serve/radio.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <random>

#include <fmt/format.h>
#include <xxhash.h>

#include "encore/io/sqlite.hpp"
#include "encore/util/clock.hpp"

namespace encore {

std::string_view radio_event_name(RadioEventKind k) {
    switch (k) {
        case RadioEventKind::play: return "play";
        case RadioEventKind::up: return "up";
        case RadioEventKind::down: return "down";
        case RadioEventKind::skip: return "skip";
    }
    return "?";
}

std::optional<RadioEventKind> parse_radio_event(std::string_view name) {
    if (name == "play") return RadioEventKind::play;
    return parse_radio_feedback(name);
}

std::optional<RadioEventKind> parse_radio_feedback(std::string_view name) {
    if (name == "up") return RadioEventKind::up;
    if (name == "down") return RadioEventKind::down;
    if (name == "skip") return RadioEventKind::skip;
    return std::nullopt;
}

// ---- the rules ----

RadioState::RadioState(const RadioStart& start, const Store& store, const RadioRules& rules)
    : rules_(rules), seed_value_(start.seed_value), shuffle_(start.shuffle) {
    if (start.seed_kind == "item") {
        const auto seed = store.find_item(start.seed);
        if (seed < 0) fail("unknown item '{}'", start.seed);
        const auto list = store.radio(seed);
        if (list.empty()) fail("item '{}' has no radio neighbours in this store (precompute with --radio)", start.seed);
        first_ = seed;
        weights_[seed] = 1.0;
        add_neighbours(list, static_cast<int>(list.size()), 1.0, true);
    } else if (start.seed_kind == "user") {
        const auto user = store.find_user(start.seed);
        if (user < 0) fail("unknown user '{}'", start.seed);
        const auto recs = store.recommendations(user, rules_.user_seeds);
        if (recs.empty()) fail("user '{}' has no stored recommendations to start a radio from", start.seed);
        first_ = recs.front().item;
        for (const auto& r : recs) {
            weights_[r.item] = std::max(weights_[r.item], 1.0);
            const auto list = store.radio(r.item);
            add_neighbours(list, static_cast<int>(list.size()), 1.0, true);
        }
    } else {
        fail("a radio starts from an item or a user, not '{}'", start.seed_kind);
    }
}

void RadioState::add_neighbours(const std::vector<StoredItem>& list, int limit, double boost, bool take_max) {
    const auto n = std::min<std::size_t>(list.size(), static_cast<std::size_t>(std::max(limit, 0)));
    for (std::size_t k = 0; k < n; ++k) {
        const auto& [item, score] = list[k];
        if (banned_.count(item)) continue;
        const double s = std::max(0.0, static_cast<double>(score));
        auto [it, added] = weights_.try_emplace(item, 0.0);
        if (take_max)
            it->second = std::max(it->second, std::max(s * boost, rules_.min_weight));
        else
            it->second = std::max(it->second + boost * s, rules_.min_weight);
        (void)added;
    }
}

void RadioState::scale_neighbours(const std::vector<StoredItem>& list, int limit, double factor) {
    const auto n = std::min<std::size_t>(list.size(), static_cast<std::size_t>(std::max(limit, 0)));
    for (std::size_t k = 0; k < n; ++k) {
        auto it = weights_.find(list[k].item);
        if (it == weights_.end()) continue;
        const double s = std::max(0.0, static_cast<double>(list[k].score));
        it->second = std::max(it->second * (1.0 - factor * s), rules_.min_weight);
    }
}

double RadioState::key(std::int32_t item, double w, int cycle) const {
    if (!shuffle_) return w;
    // u in (0, 1] from the session seed, the item and the cycle; ln(u) / w: larger w, nearer 0, earlier.
    const std::uint64_t parts[3] = {seed_value_, static_cast<std::uint64_t>(static_cast<std::uint32_t>(item)),
                                    static_cast<std::uint64_t>(cycle)};
    const std::uint64_t h = XXH3_64bits(parts, sizeof parts);
    const double u = (static_cast<double>(h >> 11) + 1.0) / 9007199254740992.0;  // (0, 1], 53 bits
    return std::log(u) / w;
}

double RadioState::weight(std::int32_t item) const {
    auto it = weights_.find(item);
    return it == weights_.end() ? 0.0 : it->second;
}

std::vector<std::int32_t> RadioState::peek(int n) const {
    std::vector<std::int32_t> out;
    std::set<std::int32_t> played = played_in_cycle_;
    int cycle = cycle_;
    if (first_ && n > 0 && !banned_.count(*first_)) {
        out.push_back(*first_);
        played.insert(*first_);
    }
    bool fresh_cycle = false;  // a cycle that started inside this call and has given nothing yet
    while (static_cast<int>(out.size()) < n) {
        struct Entry {
            double key;
            std::int32_t item;
        };
        std::vector<Entry> open;
        for (const auto& [item, w] : weights_)
            if (!played.count(item) && !banned_.count(item)) open.push_back({key(item, w, cycle), item});
        if (open.empty()) {
            if (fresh_cycle) break;  // everything is banned: nothing can play
            ++cycle;
            played.clear();
            // Items given out in this call stay out of the new cycle's head until the call ends.
            for (auto i : out) played.insert(i);
            fresh_cycle = true;
            continue;
        }
        const auto want = std::min<std::size_t>(open.size(), static_cast<std::size_t>(n) - out.size());
        std::partial_sort(open.begin(), open.begin() + static_cast<std::ptrdiff_t>(want), open.end(),
                          [](const Entry& a, const Entry& b) { return a.key > b.key || (a.key == b.key && a.item < b.item); });
        for (std::size_t k = 0; k < want; ++k) {
            out.push_back(open[k].item);
            played.insert(open[k].item);
        }
        fresh_cycle = false;
    }
    return out;
}

void RadioState::apply(const RadioEvent& e, const Store& store) {
    const auto item = store.find_item(e.item);
    if (item < 0) return;
    switch (e.kind) {
        case RadioEventKind::play: {
            if (first_ && *first_ == item) first_.reset();
            // A repeat can only come from a new cycle (peek gives no repeats within one).
            if (played_in_cycle_.count(item)) {
                ++cycle_;
                played_in_cycle_.clear();
            }
            played_in_cycle_.insert(item);
            ever_played_.insert(item);
            history_.push_back(item);
            break;
        }
        case RadioEventKind::up:
            add_neighbours(store.radio(item), rules_.up_neighbours, rules_.up_boost, false);
            break;
        case RadioEventKind::down:
            banned_.insert(item);
            weights_.erase(item);
            if (first_ && *first_ == item) first_.reset();
            scale_neighbours(store.radio(item), rules_.down_neighbours, rules_.down_factor);
            break;
        case RadioEventKind::skip:
            scale_neighbours(store.radio(item), rules_.down_neighbours, rules_.skip_factor);
            break;
    }
}

// ---- the session log in SQLite ----

namespace {

class SqliteSessions : public SessionLog {
public:
    SqliteSessions(const std::string& path, bool full_sync) : path_(path) {
        SqliteDb db(path, SqliteDb::Mode::create);
        db.exec("PRAGMA journal_mode = WAL");
        db.exec(R"sql(
CREATE TABLE IF NOT EXISTS radio_sessions (
    id TEXT PRIMARY KEY, seed_kind TEXT NOT NULL, seed TEXT NOT NULL, seed_value INTEGER NOT NULL,
    shuffle INTEGER NOT NULL, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS radio_events (
    session TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, item TEXT NOT NULL, at TEXT NOT NULL,
    PRIMARY KEY (session, seq)) WITHOUT ROWID;
)sql");
        sync_ = full_sync ? "FULL" : "NORMAL";
    }

    void create(const RadioStart& s) override {
        auto c = lease();
        auto& st = c->insert_session;
        st.bind(1, std::string_view(s.id)).bind(2, std::string_view(s.seed_kind)).bind(3, std::string_view(s.seed));
        st.bind(4, static_cast<std::int64_t>(s.seed_value)).bind(5, static_cast<std::int64_t>(s.shuffle ? 1 : 0));
        st.bind(6, std::string_view(s.created)).run();
        release(std::move(c));
    }

    std::optional<RadioStart> find(const std::string& id) override {
        auto c = lease();
        auto& st = c->find_session;
        st.bind(1, std::string_view(id));
        std::optional<RadioStart> out;
        if (st.step())
            out = RadioStart{id, std::string(st.text(0)), std::string(st.text(1)), static_cast<std::uint64_t>(st.integer(2)),
                             st.integer(3) != 0, std::string(st.text(4))};
        st.reset();
        release(std::move(c));
        return out;
    }

    std::vector<RadioEvent> events(const std::string& id, std::int64_t after, std::int64_t* last) override {
        auto c = lease();
        auto& st = c->select_events;
        st.bind(1, std::string_view(id)).bind(2, after);
        std::vector<RadioEvent> out;
        *last = after;
        while (st.step()) {
            const auto kind = parse_radio_event(st.text(1));
            if (kind) out.push_back({*kind, std::string(st.text(2))});
            *last = st.integer(0);
        }
        st.reset();
        release(std::move(c));
        return out;
    }

    std::optional<std::int64_t> append(const std::string& id, std::int64_t expected_last,
                                       std::span<const RadioEvent> events) override {
        auto c = lease();
        std::optional<std::int64_t> out;
        {
            SqliteTransaction tx(c->db);
            auto& max = c->max_seq;
            max.bind(1, std::string_view(id));
            const std::int64_t current = max.step() && !max.is_null(0) ? max.integer(0) : 0;
            max.reset();
            if (current == expected_last) {
                const std::string at = utc_now();
                std::int64_t seq = expected_last;
                for (const auto& e : events) {
                    c->insert_event.bind(1, std::string_view(id)).bind(2, ++seq).bind(3, radio_event_name(e.kind));
                    c->insert_event.bind(4, std::string_view(e.item)).bind(5, std::string_view(at)).run();
                }
                tx.commit();
                out = seq;
            }
        }
        release(std::move(c));
        return out;
    }

    std::string describe() const override { return "sqlite:" + path_; }

private:
    struct Connection {
        SqliteDb db;
        SqliteStatement insert_session, find_session, select_events, max_seq, insert_event;
    };
    std::unique_ptr<Connection> lease() {
        {
            std::lock_guard lock(mutex_);
            if (!idle_.empty()) {
                auto c = std::move(idle_.back());
                idle_.pop_back();
                return c;
            }
        }
        auto c = std::make_unique<Connection>(Connection{SqliteDb(path_, SqliteDb::Mode::read_write), {}, {}, {}, {}, {}});
        c->db.exec(fmt::format("PRAGMA synchronous = {}", sync_));
        c->insert_session = c->db.prepare(
            "INSERT INTO radio_sessions (id, seed_kind, seed, seed_value, shuffle, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
        c->find_session =
            c->db.prepare("SELECT seed_kind, seed, seed_value, shuffle, created FROM radio_sessions WHERE id = ?1");
        c->select_events =
            c->db.prepare("SELECT seq, kind, item FROM radio_events WHERE session = ?1 AND seq > ?2 ORDER BY seq");
        c->max_seq = c->db.prepare("SELECT MAX(seq) FROM radio_events WHERE session = ?1");
        c->insert_event =
            c->db.prepare("INSERT INTO radio_events (session, seq, kind, item, at) VALUES (?1, ?2, ?3, ?4, ?5)");
        return c;
    }
    void release(std::unique_ptr<Connection> c) {
        std::lock_guard lock(mutex_);
        idle_.push_back(std::move(c));
    }

    std::string path_;
    std::string sync_;
    std::mutex mutex_;
    std::vector<std::unique_ptr<Connection>> idle_;
};

}  // namespace

std::unique_ptr<SessionLog> open_sqlite_sessions(const std::string& path, bool full_sync) {
    return std::make_unique<SqliteSessions>(path, full_sync);
}

// ---- the service ----

struct RadioService::Live {
    std::mutex mutex;
    RadioStart start;
    std::optional<RadioState> state;
    std::int64_t last = 0;             // the last event number applied
    std::uint64_t built_for = 0;  // the generation of the store the state was replayed on
};

RadioService::RadioService(std::unique_ptr<SessionLog> log, RadioRules rules) : log_(std::move(log)), rules_(rules) {}
RadioService::~RadioService() = default;

std::shared_ptr<RadioService::Live> RadioService::live(const Store& store, const std::string& id) {
    std::shared_ptr<Live> l;
    {
        std::lock_guard lock(mutex_);
        auto it = sessions_.find(id);
        if (it != sessions_.end()) l = it->second;
    }
    if (!l) {
        auto start = log_->find(id);
        if (!start) throw NotFound(fmt::format("unknown radio session '{}'", id));
        l = std::make_shared<Live>();
        l->start = *start;
        std::lock_guard lock(mutex_);
        // A bounded cache: beyond it, sessions are replayed from the log when they come back.
        if (sessions_.size() >= 100000) sessions_.clear();
        l = sessions_.try_emplace(id, l).first->second;
    }
    (void)store;
    return l;
}

namespace {

// Catches the state up with the log (events another host appended, or all of them after a restart or
// a store swap). Called with the session's lock held.
template <typename LiveT>
void catch_up(LiveT& l, SessionLog& log, const Store& store, const RadioRules& rules) {
    if (!l.state || l.built_for != store.generation()) {
        l.state.emplace(l.start, store, rules);
        l.last = 0;
        l.built_for = store.generation();
    }
    std::int64_t last = l.last;
    for (const auto& e : log.events(l.start.id, l.last, &last)) l.state->apply(e, store);
    l.last = last;
}

}  // namespace

template <typename Change>
RadioReply RadioService::change(const Store& store, const std::string& id, Change&& f) {
    auto l = live(store, id);
    std::lock_guard lock(l->mutex);
    for (int attempt = 0; attempt < 8; ++attempt) {
        catch_up(*l, *log_, store, rules_);
        RadioReply reply{id, {}, std::nullopt};
        std::vector<RadioEvent> events = f(*l->state, reply);
        if (events.empty()) return reply;
        if (auto last = log_->append(id, l->last, events)) {
            for (const auto& e : events) l->state->apply(e, store);
            l->last = *last;
            return reply;
        }
        // Another host appended first: catch up and decide again.
    }
    fail("radio session '{}' is too busy (conflicting writers); try again", id);
}

RadioReply RadioService::start(const Store& store, std::string_view seed_kind, std::string_view seed,
                               std::optional<std::uint64_t> seed_value, bool shuffle, int n) {
    RadioStart s;
    std::random_device rd;
    const std::uint64_t a = (static_cast<std::uint64_t>(rd()) << 32) | rd(), b = (static_cast<std::uint64_t>(rd()) << 32) | rd();
    s.id = fmt::format("{:016x}{:016x}", a, b);
    s.seed_kind = std::string(seed_kind);
    s.seed = std::string(seed);
    s.seed_value = seed_value ? *seed_value : ((static_cast<std::uint64_t>(rd()) << 32) | rd()) >> 12;
    s.shuffle = shuffle;
    s.created = utc_now();
    RadioState check(s, store, rules_);  // refuses an unknown seed before anything is written
    (void)check;
    log_->create(s);
    return next(store, s.id, n);
}

RadioReply RadioService::next(const Store& store, const std::string& id, int n) {
    return change(store, id, [&](RadioState& st, RadioReply& reply) {
        reply.items = st.peek(n);
        std::vector<RadioEvent> events;
        for (auto i : reply.items) events.push_back({RadioEventKind::play, std::string(store.item_key(i))});
        return events;
    });
}

RadioReply RadioService::feedback(const Store& store, const std::string& id, std::string_view item_key, RadioEventKind kind,
                                  int n) {
    const auto item = store.find_item(item_key);
    if (item < 0) fail("unknown item '{}'", item_key);
    if (kind == RadioEventKind::play) fail("feedback is up, down or skip");
    return change(store, id, [&](RadioState& st, RadioReply& reply) {
        if (!st.played(item)) fail("item '{}' has not played in radio session '{}'", item_key, id);
        reply.feedback_item = item;
        // The queue after the feedback, without playing it.
        RadioState after = st;
        after.apply({kind, std::string(item_key)}, store);
        reply.items = after.peek(n);
        return std::vector<RadioEvent>{{kind, std::string(item_key)}};
    });
}

nlohmann::json RadioService::describe(const Store& store, const std::string& id, int n) {
    auto l = live(store, id);
    std::lock_guard lock(l->mutex);
    catch_up(*l, *log_, store, rules_);
    auto items = [&](const std::vector<std::int32_t>& list) {
        auto a = nlohmann::json::array();
        for (auto i : list) a.push_back({{"id", std::string(store.item_key(i))}, {"name", std::string(store.item_name(i))}});
        return a;
    };
    return {{"session", id},
            {"seed", {{"kind", l->start.seed_kind}, {"id", l->start.seed}}},
            {"seed_value", l->start.seed_value},
            {"shuffle", l->start.shuffle},
            {"created", l->start.created},
            {"cycle", l->state->cycle()},
            {"pool", l->state->pool_size()},
            {"played", items(l->state->history())},
            {"queue", items(l->state->peek(n))}};
}

}  // namespace encore
