// encore similar-users: users with the most similar taste (cosine of user factors).
#include <memory>

#include <iostream>

#include <fmt/format.h>

#include "commands.hpp"
#include "common.hpp"
#include "encore/util/json.hpp"

namespace encore::cli {

namespace {
struct Args {
    std::string model, user;
    int n = 10;
    bool json = false, no_verify = false;
    int threads = 0;
};
}  // namespace

Command add_similar_users(CLI::App& app) {
    auto* cmd = app.add_subcommand("similar-users", "Users most similar to a user (cosine of user factors)");
    auto a = std::make_shared<Args>();
    cmd->add_option("model", a->model, "Model file (.encm)")->required();
    cmd->add_option("--user", a->user, "User id")->required();
    cmd->add_option("-n", a->n, "Results")->capture_default_str()->check(CLI::Range(1, 1000000));
    cmd->add_flag("--json", a->json, "JSON output");
    cmd->add_flag("--no-verify", a->no_verify, "Skip checksum verification when loading the model");
    add_threads(cmd, a->threads);
    return {cmd, [a] {
                const auto rec = Recommender::open({.models = {a->model}, .verify = !a->no_verify, .threads = a->threads});
                const Model& model = rec.model();
                const auto results = rec.similar_users(rec.user(a->user), {.n = a->n});
                if (a->json) {
                    nlohmann::json out = {{"query", {{"id", a->user}, {"name", a->user}}}, {"results", nlohmann::json::array()}};
                    for (const auto& r : results) {
                        std::string id(model.users[static_cast<std::size_t>(r.id)]);
                        out["results"].push_back({{"id", id}, {"name", id}, {"score", r.score}, {"because", nlohmann::json::array()}});
                    }
                    std::cout << json_text(out, 2) << "\n";
                    return 0;
                }
                std::cout << fmt::format("Users similar to {}:\n", a->user);
                int rank = 0;
                for (const auto& r : results)
                    std::cout << fmt::format("{:>4}. {}  {:.4f}\n", ++rank, model.users[static_cast<std::size_t>(r.id)], r.score);
                return 0;
            }};
}

}  // namespace encore::cli
