#pragma once
// A thin RAII layer over SQLite (Debian's libsqlite3): a connection, prepared statements and
// transactions, with every failure turned into an encore::Error that names the database file and what
// SQLite said. The store (encore/serve/store.hpp) and the radio sessions are written through it.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace encore {

// A file: URI for path (percent-encoding what a URI would misread), to add parameters such as
// ?immutable=1.
std::string sqlite_uri(const std::string& path);

class SqliteStatement {
public:
    SqliteStatement() = default;
    SqliteStatement(sqlite3* db, std::string_view sql, const std::string& path);
    SqliteStatement(SqliteStatement&& other) noexcept;
    SqliteStatement& operator=(SqliteStatement&& other) noexcept;
    SqliteStatement(const SqliteStatement&) = delete;
    SqliteStatement& operator=(const SqliteStatement&) = delete;
    ~SqliteStatement();

    // Parameters are numbered from 1, as in SQL's ?1.
    SqliteStatement& bind(int index, std::int64_t value);
    SqliteStatement& bind(int index, double value);
    SqliteStatement& bind(int index, std::string_view text);  // copied by SQLite
    SqliteStatement& bind_blob(int index, std::span<const std::byte> blob);
    SqliteStatement& bind_null(int index);

    // Runs to the next row: true while there is one, false when done (then reset() to run again).
    bool step();
    // Runs a statement that returns no rows (or ignores them) and resets it for the next use.
    void run();
    void reset();  // also clears the bindings

    // Columns are numbered from 0.
    bool is_null(int column) const;
    std::int64_t integer(int column) const;
    double real(int column) const;
    std::string_view text(int column) const;  // valid until the next step/reset
    std::span<const std::byte> blob(int column) const;

private:
    sqlite3_stmt* stmt_ = nullptr;
    sqlite3* db_ = nullptr;
    const std::string* path_ = nullptr;
};

class SqliteDb {
public:
    enum class Mode { read_only, read_write, create };
    // Opens (or creates) the database (path may be a file: URI); busy_timeout_ms: how long a writer
    // waits for another's lock.
    SqliteDb(const std::string& path, Mode mode, int busy_timeout_ms = 5000);
    SqliteDb(SqliteDb&&) noexcept;
    SqliteDb& operator=(SqliteDb&&) noexcept;
    SqliteDb(const SqliteDb&) = delete;
    SqliteDb& operator=(const SqliteDb&) = delete;
    ~SqliteDb();

    const std::string& path() const { return *path_; }
    void exec(std::string_view sql);  // one or more statements, no results
    SqliteStatement prepare(std::string_view sql) const { return SqliteStatement(db_, sql, *path_); }
    // The first column of the first row of a query, or fallback when there is no row.
    std::int64_t integer(std::string_view sql, std::int64_t fallback = 0) const;
    std::string text(std::string_view sql, std::string_view fallback = "") const;
    bool has_table(std::string_view name) const;

private:
    sqlite3* db_ = nullptr;
    std::unique_ptr<std::string> path_;  // stable address: statements keep a pointer for their messages
};

// BEGIN IMMEDIATE ... COMMIT; rolled back when destroyed uncommitted (an exception on the way out).
class SqliteTransaction {
public:
    explicit SqliteTransaction(SqliteDb& db);
    SqliteTransaction(const SqliteTransaction&) = delete;
    SqliteTransaction& operator=(const SqliteTransaction&) = delete;
    ~SqliteTransaction();
    void commit();

private:
    SqliteDb& db_;
    bool open_ = true;
};

}  // namespace encore
