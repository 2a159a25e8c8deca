#pragma once
// The HTTP/1.1 JSON API and the web page (docs/api.md), over a precomputed Store, optional live models
// (a Recommender, for new users) and radio sessions (a RadioService over SQLite or PostgreSQL).
// Handlers only parse, call the library and render: no algorithm or policy lives here.
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace encore {

class Reporter;

struct ServerOptions {
    std::string store;                  // STORE.db from encore precompute
    std::vector<std::string> models{};  // live models (.encm) for POST /recommendations; none: that route says so
    std::string host = "127.0.0.1";
    int port = 8080;                    // 0: any free port (see Server::port)
    // Connections served at once: cpp-httplib gives each open connection a thread while it lives, so
    // a browser's idle keep-alive connections hold threads; 0 = 4 per core, at least 16.
    int threads = 0;
    // Radio sessions: "" = STORE.db.sessions beside the store (SQLite), a path (SQLite), or a
    // postgresql:// URI (shared by several servers).
    std::string sessions{};
    bool full_sync = false;             // SQLite sessions survive a power cut too (fsync per commit)
    std::size_t max_body_bytes = 64 * 1024;
    int max_n = 1000;                   // largest n a request may ask for
    int session_connections = 4;        // PostgreSQL connections
    bool verify = true;                 // live models: check checksums at open
    bool watch = true;                  // run(): reload when the store file is replaced (checked twice a second)
};

class Server {
public:
    // Opens the store, the live models and the session log; binds the port. Throws Error naming what
    // could not be opened or bound.
    Server(const ServerOptions& options, Reporter* reporter);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    int port() const;  // the bound port
    // Serves until stop(); requests run on the pool of `threads`; with `watch`, a thread reloads the
    // store when its file is replaced.
    void run();
    // Stops accepting and returns from run() once in-flight requests are answered (any thread).
    void stop();
    // Opens the store file again and swaps it in: requests in flight finish on the old one. Keeps the
    // old store (and says so through the reporter) when the new file cannot be opened.
    bool reload();
    // Reloads when the store file was replaced (another inode or modification time); for a watcher.
    bool reload_if_changed();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace encore
