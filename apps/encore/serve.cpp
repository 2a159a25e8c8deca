// encore serve: the HTTP API and web page over a precomputed store (encore/serve/http.hpp). Parses
// arguments, handles signals (SIGHUP or a replaced store file: reload; SIGINT/SIGTERM: stop) and runs
// the library's server.
#include <signal.h>

#include <atomic>
#include <memory>
#include <thread>

#include <fmt/format.h>

#include "commands.hpp"
#include "common.hpp"
#include "encore/serve/http.hpp"
#include "encore/util/error.hpp"

namespace encore::cli {

namespace {
struct Args {
    ServerOptions o;
    bool no_verify = false, quiet = false, no_watch = false;
};
}  // namespace

Command add_serve(CLI::App& app) {
    auto* cmd = app.add_subcommand("serve", "Serve a store over HTTP: JSON API, radio sessions and a web page");
    auto a = std::make_shared<Args>();
    cmd->add_option("store", a->o.store, "Store (.db from encore precompute)")->type_name("FILE")->required();
    cmd->add_option("--model", a->o.models, "Live model(s) (.encm) for new users (POST /recommendations)")
        ->type_name("FILE");
    cmd->add_option("--host", a->o.host, "Address to listen on")->capture_default_str();
    cmd->add_option("--port", a->o.port, "Port (0 = any free port, printed at start)")->capture_default_str();
    cmd->add_option("--sessions", a->o.sessions,
                    "Radio sessions: a SQLite file (default STORE.sessions) or postgresql://... shared by several servers")
        ->type_name("FILE|URI");
    cmd->add_option("--session-connections", a->o.session_connections, "PostgreSQL connections")->capture_default_str();
    cmd->add_flag("--full-sync", a->o.full_sync, "SQLite sessions: fsync every commit (survives a power cut, not only a crash)");
    cmd->add_option("--max-body", a->o.max_body_bytes, "Largest request body in bytes (413 beyond)")->capture_default_str();
    cmd->add_option("--max-n", a->o.max_n, "Largest n a request may ask for")->capture_default_str();
    cmd->add_flag("--no-watch", a->no_watch, "Do not reload when the store file is replaced (SIGHUP still does)");
    cmd->add_flag("--no-verify", a->no_verify, "Skip checksum verification of the live models");
    add_threads(cmd, a->o.threads);
    add_quiet(cmd, a->quiet);
    return {cmd, [a] {
                a->o.verify = !a->no_verify;
                a->o.watch = !a->no_watch;
                // Signals go to one thread that waits for them (blocked everywhere else, before any thread starts).
                sigset_t set;
                sigemptyset(&set);
                for (int sig : {SIGHUP, SIGINT, SIGTERM}) sigaddset(&set, sig);
                pthread_sigmask(SIG_BLOCK, &set, nullptr);
                Server server(a->o, stderr_reporter(a->quiet));
                if (!a->quiet) fmt::print(stderr, "encore: listening on http://{}:{}/\n", a->o.host, server.port());
                std::atomic<bool> stopping{false};
                std::thread signals([&] {
                    for (;;) {
                        int sig = 0;
                        if (sigwait(&set, &sig) != 0) continue;
                        if (sig != SIGHUP) {
                            stopping = true;
                            server.stop();
                            return;
                        }
                        server.reload();
                    }
                });
                auto end_signals = [&] {
                    if (!stopping) pthread_kill(signals.native_handle(), SIGTERM);  // wakes its sigwait
                    signals.join();
                };
                try {
                    server.run();
                } catch (...) {
                    end_signals();
                    throw;
                }
                end_signals();
                return 0;
            }};
}

}  // namespace encore::cli
