#include "encore/io/sqlite.hpp"

#include <sqlite3.h>

#include <fmt/format.h>

#include "encore/util/error.hpp"

namespace encore {

namespace {

[[noreturn]] void sqlite_fail(sqlite3* db, const std::string& path, std::string_view what) {
    throw Error(fmt::format("{}: {}: {}", path, what, db ? sqlite3_errmsg(db) : "out of memory"));
}

}  // namespace

std::string sqlite_uri(const std::string& path) {
    std::string out = "file:";
    for (char c : path) {
        if (c == '%' || c == '?' || c == '#')
            out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
        else
            out += c;
    }
    return out;
}

SqliteStatement::SqliteStatement(sqlite3* db, std::string_view sql, const std::string& path) : db_(db), path_(&path) {
    if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr) !=
        SQLITE_OK)
        sqlite_fail(db, path, fmt::format("cannot prepare '{}'", sql.substr(0, 60)));
}

SqliteStatement::SqliteStatement(SqliteStatement&& o) noexcept : stmt_(o.stmt_), db_(o.db_), path_(o.path_) {
    o.stmt_ = nullptr;
}

SqliteStatement& SqliteStatement::operator=(SqliteStatement&& o) noexcept {
    if (this != &o) {
        sqlite3_finalize(stmt_);
        stmt_ = o.stmt_;
        db_ = o.db_;
        path_ = o.path_;
        o.stmt_ = nullptr;
    }
    return *this;
}

SqliteStatement::~SqliteStatement() { sqlite3_finalize(stmt_); }

SqliteStatement& SqliteStatement::bind(int index, std::int64_t value) {
    if (sqlite3_bind_int64(stmt_, index, value) != SQLITE_OK) sqlite_fail(db_, *path_, "bind");
    return *this;
}

SqliteStatement& SqliteStatement::bind(int index, double value) {
    if (sqlite3_bind_double(stmt_, index, value) != SQLITE_OK) sqlite_fail(db_, *path_, "bind");
    return *this;
}

SqliteStatement& SqliteStatement::bind(int index, std::string_view text) {
    if (sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8) != SQLITE_OK)
        sqlite_fail(db_, *path_, "bind");
    return *this;
}

SqliteStatement& SqliteStatement::bind_blob(int index, std::span<const std::byte> blob) {
    // A zero-length blob is still a blob (not NULL): SQLite needs a non-null pointer for that.
    static const std::byte empty{};
    if (sqlite3_bind_blob64(stmt_, index, blob.empty() ? &empty : blob.data(), blob.size(), SQLITE_TRANSIENT) !=
        SQLITE_OK)
        sqlite_fail(db_, *path_, "bind");
    return *this;
}

SqliteStatement& SqliteStatement::bind_null(int index) {
    if (sqlite3_bind_null(stmt_, index) != SQLITE_OK) sqlite_fail(db_, *path_, "bind");
    return *this;
}

bool SqliteStatement::step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    const std::string sql = sqlite3_sql(stmt_) ? sqlite3_sql(stmt_) : "";
    sqlite3_reset(stmt_);
    sqlite_fail(db_, *path_, fmt::format("'{}'", sql.substr(0, 60)));
}

void SqliteStatement::run() {
    while (step()) {
    }
    reset();
}

void SqliteStatement::reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
}

bool SqliteStatement::is_null(int c) const { return sqlite3_column_type(stmt_, c) == SQLITE_NULL; }
std::int64_t SqliteStatement::integer(int c) const { return sqlite3_column_int64(stmt_, c); }
double SqliteStatement::real(int c) const { return sqlite3_column_double(stmt_, c); }

std::string_view SqliteStatement::text(int c) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, c));
    return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, c))) : std::string_view();
}

std::span<const std::byte> SqliteStatement::blob(int c) const {
    const auto* p = static_cast<const std::byte*>(sqlite3_column_blob(stmt_, c));
    return p ? std::span<const std::byte>(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, c)))
             : std::span<const std::byte>();
}

SqliteDb::SqliteDb(const std::string& path, Mode mode, int busy_timeout_ms) : path_(std::make_unique<std::string>(path)) {
    int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI;  // one connection per thread; each is used by one thread at a time
    flags |= mode == Mode::read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
    if (mode == Mode::create) flags |= SQLITE_OPEN_CREATE;
    if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
        const std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
        sqlite3_close(db_);
        db_ = nullptr;
        throw Error(fmt::format("{}: cannot open: {}", path, msg));
    }
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, busy_timeout_ms);
}

SqliteDb::SqliteDb(SqliteDb&& o) noexcept : db_(o.db_), path_(std::move(o.path_)) { o.db_ = nullptr; }

SqliteDb& SqliteDb::operator=(SqliteDb&& o) noexcept {
    if (this != &o) {
        sqlite3_close_v2(db_);
        db_ = o.db_;
        path_ = std::move(o.path_);
        o.db_ = nullptr;
    }
    return *this;
}

SqliteDb::~SqliteDb() { sqlite3_close_v2(db_); }

void SqliteDb::exec(std::string_view sql) {
    char* err = nullptr;
    const std::string s(sql);
    if (sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
        const std::string msg = err ? err : sqlite3_errmsg(db_);
        sqlite3_free(err);
        throw Error(fmt::format("{}: '{}': {}", *path_, s.substr(0, 60), msg));
    }
}

std::int64_t SqliteDb::integer(std::string_view sql, std::int64_t fallback) const {
    auto st = prepare(sql);
    return st.step() && !st.is_null(0) ? st.integer(0) : fallback;
}

std::string SqliteDb::text(std::string_view sql, std::string_view fallback) const {
    auto st = prepare(sql);
    return st.step() && !st.is_null(0) ? std::string(st.text(0)) : std::string(fallback);
}

bool SqliteDb::has_table(std::string_view name) const {
    auto st = prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1");
    st.bind(1, name);
    return st.step();
}

SqliteTransaction::SqliteTransaction(SqliteDb& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }

SqliteTransaction::~SqliteTransaction() {
    if (!open_) return;
    try {
        db_.exec("ROLLBACK");
    } catch (const Error&) {
        // Nothing to roll back (SQLite already did, on the error that brought us here).
    }
}

void SqliteTransaction::commit() {
    db_.exec("COMMIT");
    open_ = false;
}

}  // namespace encore
