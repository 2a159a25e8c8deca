// ALS per-iteration timing on a saved dataset, wall clock and CPU time, without the rest of `encore
// train` (load, weighting, transpose, model write). CPU seconds are the useful figure on a busy
// shared machine: other processes stretch the wall clock of a run far more than its CPU time.
//
//   build/als_bench DATA.encd [--factors 64] [--solver cg|cholesky] [--iterations 3] [--threads 2]
//                             [--runs 3] [--no-eigenbasis] [--no-precondition] [--float-gather]
//
// Each run trains 1 iteration (warm-up: the factor matrices and workspaces are touched for the
// first time) and 1 + N iterations from the same seed; the difference over N is one iteration.
// Prints one JSON line per run and the medians.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "encore/data/dataset.hpp"
#include "encore/data/weighting.hpp"
#include "encore/models/als.hpp"

namespace {

double cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double wall_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"ALS per-iteration timing (wall and CPU seconds)"};
    std::string path, solver = "cg";
    int factors = 64, iterations = 3, threads = 2, runs = 3;
    app.add_option("data", path, "dataset (.encd)")->required();
    app.add_option("--factors", factors);
    app.add_option("--solver", solver);
    app.add_option("--iterations", iterations);
    app.add_option("--threads", threads);
    app.add_option("--runs", runs);
    bool no_eigenbasis = false, float_gather = false, no_precondition = false;
    app.add_flag("--no-precondition", no_precondition, "plain CG (AlsOptions::cg_precondition off)");
    app.add_flag("--no-eigenbasis", no_eigenbasis, "CG in the original basis (AlsOptions::eigenbasis off)");
    app.add_flag("--float-gather", float_gather, "CG gathers float32 rows (AlsOptions::half_gather off)");
    CLI11_PARSE(app, argc, argv);

    auto data = encore::load_dataset(path);
    encore::WeightingOptions wo;  // bm25 K1=100 B=0.8, as the scale benchmark
    auto wm = encore::fit_weighting(data.by_user, wo);
    auto by_user = encore::apply_weighting(data.by_user, wm, threads);
    auto by_item = by_user.transpose(threads);
    encore::AlsOptions o;
    o.factors = factors;
    o.regularization = 0.05f;
    o.solver = encore::parse_als_solver(solver);
    o.threads = threads;
    o.eigenbasis = !no_eigenbasis;
    o.half_gather = !float_gather;
    o.cg_precondition = !no_precondition;
    std::vector<double> wall, cpu;
    for (int r = 0; r < runs; ++r) {
        encore::Matrix X, Y;
        double w[2], c[2];
        for (int pass = 0; pass < 2; ++pass) {
            o.iterations = pass == 0 ? 1 : 1 + iterations;
            double w0 = wall_seconds(), c0 = cpu_seconds();
            encore::train_als(by_user, by_item, o, X, Y);
            w[pass] = wall_seconds() - w0;
            c[pass] = cpu_seconds() - c0;
        }
        wall.push_back((w[1] - w[0]) / iterations);
        cpu.push_back((c[1] - c[0]) / iterations);
        fmt::print("{{\"run\": {}, \"wall_s_per_iteration\": {:.4f}, \"cpu_s_per_iteration\": {:.4f}}}\n", r,
                   wall.back(), cpu.back());
        std::fflush(stdout);
    }
    fmt::print("median: {:.4f} s/iteration wall, {:.4f} CPU s/iteration ({} {} factors, {} threads)\n", median(wall),
               median(cpu), solver, factors, threads);
}
