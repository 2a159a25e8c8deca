// encore command line: thin glue over the library. Each subcommand lives in its own file and
// registers itself through commands.hpp; errors become one line on stderr and a non-zero exit.
#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "encore/util/error.hpp"

int main(int argc, char** argv) {
    CLI::App app{"encore: recommendations from implicit feedback (play logs -> ALS -> related items)"};
    app.set_version_flag("--version", std::string("encore ") + ENCORE_VERSION);
    app.require_subcommand(1);
    encore::cli::register_all(app);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    try {
        return encore::cli::run_selected(app);
    } catch (const encore::Error& e) {
        std::fprintf(stderr, "encore: error: %s\n", e.what());
        return 1;
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "encore: error: out of memory\n");
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "encore: error: %s\n", e.what());
        return 1;
    }
}
