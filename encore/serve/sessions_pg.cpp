// Radio sessions in PostgreSQL (libpqxx), so several serving hosts share them: the same two tables as
// the SQLite log, and the same optimistic append (a primary key on (session, seq) makes two hosts
// appending after the same event collide; the loser reloads and decides again).
#include <condition_variable>
#include <mutex>

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "encore/serve/radio.hpp"

namespace encore {

namespace {

// The connection string without a password, for messages and /health.
std::string redact(const std::string& uri) {
    const auto scheme = uri.find("://");
    const auto at = uri.find('@');
    if (scheme == std::string::npos || at == std::string::npos) return uri;
    const auto colon = uri.find(':', scheme + 3);
    if (colon == std::string::npos || colon > at) return uri;
    return uri.substr(0, colon) + ":***" + uri.substr(at);
}

class PgSessions : public SessionLog {
public:
    PgSessions(const std::string& uri, int connections) : uri_(uri) {
        if (connections < 1) throw OptionError(fmt::format("session connections must be at least 1, got {}", connections));
        try {
            for (int k = 0; k < connections; ++k) idle_.push_back(std::make_unique<pqxx::connection>(uri));
            auto& c = *idle_.front();
            pqxx::work w(c);
            // Two servers starting at once must not race on creating the tables.
            w.exec("SELECT pg_advisory_xact_lock(72010716)");
            w.exec(R"sql(
CREATE TABLE IF NOT EXISTS radio_sessions (
    id TEXT PRIMARY KEY, seed_kind TEXT NOT NULL, seed TEXT NOT NULL, seed_value BIGINT NOT NULL,
    shuffle BOOLEAN NOT NULL, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS radio_events (
    session TEXT NOT NULL, seq BIGINT NOT NULL, kind TEXT NOT NULL, item TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (session, seq));
)sql");
            w.commit();
        } catch (const std::exception& e) {
            fail("{}: cannot open the radio sessions: {}", redact(uri_), e.what());
        }
    }

    void create(const RadioStart& s) override {
        run([&](pqxx::connection& c) {
            pqxx::work w(c);
            w.exec_params("INSERT INTO radio_sessions (id, seed_kind, seed, seed_value, shuffle, created) "
                          "VALUES ($1, $2, $3, $4, $5, $6)",
                          s.id, s.seed_kind, s.seed, static_cast<std::int64_t>(s.seed_value), s.shuffle, s.created);
            w.commit();
        });
    }

    std::optional<RadioStart> find(const std::string& id) override {
        std::optional<RadioStart> out;
        run([&](pqxx::connection& c) {
            pqxx::read_transaction w(c);
            auto r = w.exec_params("SELECT seed_kind, seed, seed_value, shuffle, created FROM radio_sessions WHERE id = $1", id);
            if (!r.empty())
                out = RadioStart{id, r[0][0].as<std::string>(), r[0][1].as<std::string>(),
                                 static_cast<std::uint64_t>(r[0][2].as<std::int64_t>()), r[0][3].as<bool>(),
                                 r[0][4].as<std::string>()};
        });
        return out;
    }

    std::vector<RadioEvent> events(const std::string& id, std::int64_t after, std::int64_t* last) override {
        std::vector<RadioEvent> out;
        *last = after;
        run([&](pqxx::connection& c) {
            out.clear();
            *last = after;
            pqxx::read_transaction w(c);
            auto r = w.exec_params("SELECT seq, kind, item FROM radio_events WHERE session = $1 AND seq > $2 ORDER BY seq",
                                   id, after);
            for (const auto& row : r) {
                if (auto k = parse_radio_event(row[1].c_str())) out.push_back({*k, row[2].as<std::string>()});
                *last = row[0].as<std::int64_t>();
            }
        });
        return out;
    }

    std::optional<std::int64_t> append(const std::string& id, std::int64_t expected_last,
                                       std::span<const RadioEvent> events) override {
        std::optional<std::int64_t> out;
        run([&](pqxx::connection& c) {
            out.reset();
            try {
                pqxx::work w(c);
                auto r = w.exec_params("SELECT COALESCE(MAX(seq), 0) FROM radio_events WHERE session = $1", id);
                if (r[0][0].as<std::int64_t>() != expected_last) return;
                std::int64_t seq = expected_last;
                for (const auto& e : events)
                    w.exec_params("INSERT INTO radio_events (session, seq, kind, item) VALUES ($1, $2, $3, $4)", id, ++seq,
                                  std::string(radio_event_name(e.kind)), e.item);
                w.commit();
                out = seq;
            } catch (const pqxx::unique_violation&) {
                // another host appended after the same event first
            }
        });
        return out;
    }

    std::string describe() const override { return redact(uri_); }

private:
    // Runs f on a pooled connection; a broken connection is reopened once and f retried.
    template <typename F>
    void run(F&& f) {
        std::unique_ptr<pqxx::connection> c;
        {
            std::unique_lock lock(mutex_);
            ready_.wait(lock, [&] { return !idle_.empty(); });
            c = std::move(idle_.back());
            idle_.pop_back();
        }
        auto give_back = [&] {
            std::lock_guard lock(mutex_);
            idle_.push_back(std::move(c));
            ready_.notify_one();
        };
        try {
            try {
                f(*c);
            } catch (const pqxx::broken_connection&) {
                c = std::make_unique<pqxx::connection>(uri_);
                f(*c);
            }
        } catch (const pqxx::broken_connection& e) {
            give_back();
            fail("radio sessions: the database connection failed: {}", e.what());
        } catch (const pqxx::sql_error& e) {
            give_back();
            fail("radio sessions: {}", e.what());
        } catch (...) {
            give_back();
            throw;
        }
        give_back();
    }

    std::string uri_;
    std::mutex mutex_;
    std::condition_variable ready_;
    std::vector<std::unique_ptr<pqxx::connection>> idle_;
};

}  // namespace

std::unique_ptr<SessionLog> open_postgresql_sessions(const std::string& connection, int connections) {
    return std::make_unique<PgSessions>(connection, connections);
}

}  // namespace encore
