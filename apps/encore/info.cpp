// encore info: what an encore file holds (dataset, model, ANN index or ensemble); the library's
// describe_file reads it.
#include <memory>

#include <iostream>

#include "commands.hpp"
#include "common.hpp"
#include "encore/serve/describe.hpp"
#include "encore/util/json.hpp"

namespace encore::cli {

namespace {
struct Args {
    std::string file;
    bool json = false;
};
}  // namespace

Command add_info(CLI::App& app) {
    auto* cmd = app.add_subcommand("info", "Describe an encore file: dataset (.encd), model (.encm), index (.enci) or ensemble (.ence)");
    auto a = std::make_shared<Args>();
    cmd->add_option("file", a->file, "File")->required()->type_name("FILE");
    cmd->add_flag("--json", a->json, "JSON output");
    return {cmd, [a] {
                auto out = describe_file(a->file);
                if (!a->json) std::cout << describe_line(out) << "\n";
                std::cout << json_text(out, 2) << "\n";
                return 0;
            }};
}

}  // namespace encore::cli
