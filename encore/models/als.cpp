// Implicit ALS training: per-row solves (Cholesky or CG) over OpenMP, with every row's factor
// vectors gathered into a per-thread contiguous block first (see encore/kernels/als_kernels.hpp).
#include "encore/models/als.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include <Eigen/Dense>
#include <omp.h>

#include "encore/kernels/als_kernels.hpp"
#include "encore/kernels/score_gemm.hpp"
#include "encore/util/error.hpp"
#include "encore/util/memory.hpp"
#include "encore/util/progress.hpp"
#include "encore/util/threads.hpp"

namespace encore {

namespace {

// A zero-filled, 64-byte aligned float array (per-thread scratch, padded Gram matrix).
class AlignedFloats {
public:
    AlignedFloats() = default;
    explicit AlignedFloats(std::int64_t n) {
        std::size_t bytes = (static_cast<std::size_t>(std::max<std::int64_t>(n, 1)) * sizeof(float) + 63) / 64 * 64;
        void* p = std::aligned_alloc(64, bytes);
        if (!p) throw std::bad_alloc();
        std::memset(p, 0, bytes);
        data_.reset(static_cast<float*>(p));
    }
    float* get() const { return data_.get(); }

private:
    struct Free {
        void operator()(float* p) const { std::free(p); }
    };
    std::unique_ptr<float, Free> data_;
};

// A half-precision copy of a factor matrix (same stride), rebuilt each half-step: the CG gather reads
// it instead of the float matrix, half the bytes per scattered row. Reused across half-steps (memory
// touched for the first time is slow).
class HalfCopy {
public:
    // Room for n halves. Training reserves the longer side's size up front: growing from the item
    // side to the user side would touch both buffers for the first time, ~0.1 s on this VM.
    void reserve(std::int64_t n) {
        if (n > cap_) {
            const std::size_t bytes = (static_cast<std::size_t>(n) * sizeof(std::uint16_t) + kHugePage - 1) / kHugePage * kHugePage;
            void* p = std::aligned_alloc(kHugePage, bytes);
            if (!p) throw std::bad_alloc();
            advise_huge_pages(p, bytes);
            data_.reset(static_cast<std::uint16_t*>(p));
            cap_ = n;
        }
    }

    // Room for n halves, for a caller that writes them itself.
    std::uint16_t* writable(std::int64_t n) {
        reserve(n);
        return data_.get();
    }

    const std::uint16_t* fill(const Matrix& Y, int threads) {
        const std::int64_t n = Y.rows() * Y.stride();
        reserve(n);
        constexpr std::int64_t kChunk = std::int64_t{1} << 16;
#pragma omp parallel for num_threads(threads) schedule(static)
        for (std::int64_t b = 0; b < n; b += kChunk)
            kernels::floats_to_halves(Y.data() + b, data_.get() + b, std::min(kChunk, n - b));
        return data_.get();
    }

private:
    struct Free {
        void operator()(std::uint16_t* p) const { std::free(p); }
    };
    std::unique_ptr<std::uint16_t, Free> data_;
    std::int64_t cap_ = 0;
};

// splitmix64 (Steele, Lea, Flood 2014): a tiny, good generator whose state is any 64-bit value, so
// every (seed, side, row) gets its own stream and initialisation is independent of threads.
std::uint64_t mix64(std::uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void init_factors(Matrix& m, std::uint64_t seed, int side, int threads) {
    const std::uint64_t base = mix64(seed + 0x9E3779B97F4A7C15ull);
    const float top = std::nextafter(0.01f, 0.0f);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t r = 0; r < m.rows(); ++r) {
        // mix64 is a bijection, so distinct (row, side) never share a stream for a given seed.
        std::uint64_t state = mix64(base ^ (static_cast<std::uint64_t>(r) * 2 + static_cast<std::uint64_t>(side)));
        float* x = m.row(r);
        for (std::int64_t j = 0; j < m.cols(); ++j) {
            state += 0x9E3779B97F4A7C15ull;
            double u = static_cast<double>(mix64(state) >> 40) * 0x1p-24;  // [0, 1)
            x[j] = std::min(static_cast<float>(u * 0.01), top);            // [0, 0.01)
        }
        for (std::int64_t j = m.cols(); j < m.stride(); ++j) x[j] = 0.0f;  // the padding (m may be uninitialized)
    }
}

// als_gram(Y, regularization) laid out for the kernels' M v: k x k, rows of stride Y.stride(),
// zero padding.
AlignedFloats padded_gram(const Matrix& Y, float regularization, int threads) {
    const std::int64_t k = Y.cols(), s = Y.stride();
    const auto g = als_gram(Y, regularization, threads);
    AlignedFloats gram(s * s);
    for (std::int64_t i = 0; i < k; ++i)
        for (std::int64_t j = 0; j < k; ++j) gram.get()[i * s + j] = g[static_cast<std::size_t>(i * k + j)];
    return gram;
}

// The eigendecomposition Y^T Y + lambda I = Q diag(d) Q^T of a half-step's fixed side (see
// AlsOptions::eigenbasis), from the Gram matrix summed in a fixed order (als_gram): deterministic.
struct Eigenbasis {
    kernels::PackedTargets Qt;  // Q's columns as scoring targets: x Q = the scores of x against them
    AlignedFloats d;            // the eigenvalues, zero-padded to the stride
    AlignedFloats inv_d;        // their inverses (zero in the padding)

    void compute(const Matrix& Y, float regularization, int threads) {
        const std::int64_t k = Y.cols();
        const auto g = als_gram(Y, regularization, threads);
        Eigen::MatrixXd M(k, k);
        for (std::int64_t i = 0; i < k; ++i)
            for (std::int64_t j = 0; j < k; ++j) M(i, j) = g[static_cast<std::size_t>(i * k + j)];
        Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(M);
        if (eig.info() != Eigen::Success) fail("als: the eigendecomposition of the {}x{} Gram matrix failed", k, k);
        Matrix T(k, k);
        for (std::int64_t c = 0; c < k; ++c)
            for (std::int64_t j = 0; j < k; ++j) T(c, j) = static_cast<float>(eig.eigenvectors()(j, c));
        Qt = kernels::PackedTargets(T, 1);
        d = AlignedFloats(Y.stride());
        inv_d = AlignedFloats(Y.stride());
        // The preconditioner may be any positive diagonal: with lambda = 0 and fewer rows than
        // factors, eigenvalues are zero up to rounding, and their inverses are floored instead.
        const double top = eig.eigenvalues()(k - 1), floor = top > 0 ? top * 1e-6 : 1.0;
        for (std::int64_t j = 0; j < k; ++j) {
            d.get()[j] = static_cast<float>(eig.eigenvalues()(j));
            inv_d.get()[j] = static_cast<float>(1.0 / std::max(eig.eigenvalues()(j), floor));
        }
    }

    // X <- X Q (the first k columns of every row; the padding stays zero), and with `half` also
    // half = X as IEEE halves (HalfCopy's layout), made while the rows are in cache. The scoring
    // GEMM's kernel (one FMA chain per value, whatever the chunking: deterministic) writes a
    // per-thread chunk, copied back.
    void rotate(Matrix& X, int threads, std::uint16_t* half = nullptr) const {
        const std::int64_t n = X.rows(), k = X.cols(), s = X.stride();
        // Rows per chunk: the chunk stays in L1/L2; 48 measured slower (store/load address aliasing).
        constexpr std::int64_t kChunk = 96;
#pragma omp parallel num_threads(threads)
        {
            AlignedFloats out(kChunk * s);  // zero: columns k..s-1 are never written
#pragma omp for schedule(static)
            for (std::int64_t b = 0; b < n; b += kChunk) {
                const std::int64_t m = std::min(kChunk, n - b);
                kernels::score_block(X.row(b), s, m, Qt, 0, k, out.get(), s);
                std::memcpy(X.row(b), out.get(), static_cast<std::size_t>(m * s) * sizeof(float));
                if (half) kernels::floats_to_halves(out.get(), half + b * s, m * s);
            }
        }
    }
};

// Rows longer than this many entries are processed in chunks re-gathered on every pass, which
// bounds per-thread scratch for very popular items (8 MB of gathered factors per buffer).
std::int64_t block_capacity(const Csr& cui, std::int64_t s, std::int64_t requested) {
    std::int64_t longest = 0;
    for (std::int64_t r = 0; r < cui.rows; ++r) longest = std::max(longest, cui.row_nnz(r));
    const std::int64_t cap =
        requested > 0 ? requested
                      : std::max<std::int64_t>(256, (std::int64_t{8} << 20) / (s * static_cast<std::int64_t>(sizeof(float))));
    return std::max<std::int64_t>(1, std::min(longest, cap));
}

// Per-thread scratch, allocated once per training run (memory touched for the first time is slow,
// so the buffers are reused by every half-step): nothing is allocated per row. G, w and a have room
// for cap rows rounded up to 16 (the sixteen-row kernels may write a short last group in full).
struct Workspace {
    Workspace(std::int64_t cap, std::int64_t k, std::int64_t s, bool cholesky)
        : cap(cap), k(k), s(s), cholesky(cholesky), G(rounded(cap) * s), w(rounded(cap)), a(rounded(cap)), r(s), p(s),
          ap(s), z(s),
          // Constructed in place: copying a fresh Eigen decomposition reads its uninitialised status.
          ldlt(cholesky ? k : 0) {
        if (cholesky) {
            A = AlignedFloats((k + 1) * s);
            A16 = AlignedFloats(16 * (k + 1) * s);
            scratch16 = AlignedFloats(kernels::cholesky_solve16_scratch(k));
            A_fallback.resize(k, k);
        }
    }
    static std::int64_t rounded(std::int64_t n) { return (n + 15) / 16 * 16; }
    std::int64_t cap, k, s;
    bool cholesky;
    AlignedFloats G;
    AlignedFloats w, a;  // |c| - 1 and the right-hand-side weight (c if c > 0 else 0)
    AlignedFloats r, p, ap, z;
    AlignedFloats A;     // Cholesky: k + 1 rows of stride s (the matrix, then b)
    AlignedFloats A16;   // Cholesky: sixteen of those, for the batched solve
    AlignedFloats scratch16;
    Eigen::MatrixXf A_fallback;
    Eigen::LDLT<Eigen::MatrixXf> ldlt;
};

// One row's sparse part: the factor rows of its entries and their weights, gathered into the
// workspace block by block. A row that fits is gathered once (by its first pass) and reused by every
// later pass; a longer one is re-gathered block by block on every pass.
class RowBlocks {
public:
    // half: Y as half floats (HalfCopy), read by the first pass of resident rows; null = Y itself.
    RowBlocks(Workspace& ws, const Matrix& Y, const std::uint16_t* half = nullptr)
        : ws_(ws), cap_(ws.cap), Y_(Y), half_(half), s_(Y.stride()) {}

    void reset(std::span<const std::int32_t> idx, std::span<const float> conf) {
        idx_ = idx;
        conf_ = conf;
        n_ = static_cast<std::int64_t>(idx.size());
        resident_ = n_ <= cap_;
        loaded_ = false;
    }

    // The first pass (with the right-hand-side weights a): out = wscale M v + sum (a_i + wscale w_i
    // (g_i . v)) g_i (M: k x k, see kernels::weighted_rank1_pass), gathering the rows as it goes.
    void first_pass(const float* v, float wscale, float* out, const float* M, std::int64_t k) {
        if (resident_) {
            if (half_)
                kernels::gather_rank1_pass_half(half_, s_, idx_.data(), conf_.data(), n_, ws_.G.get(), ws_.w.get(),
                                                ws_.a.get(), wscale, v, out, M, k);
            else
                kernels::gather_rank1_pass(Y_.data(), s_, idx_.data(), conf_.data(), n_, ws_.G.get(), ws_.w.get(),
                                           ws_.a.get(), wscale, v, out, M, k);
            loaded_ = true;
            return;
        }
        pass(v, wscale, out, M, k, true);
    }

    // out = wscale M v + sum (wscale w_i (g_i . v)) g_i (plus a_i with_a), block by block: M's product
    // rides along with the first block.
    void pass(const float* v, float wscale, float* out, const float* M, std::int64_t k, bool with_a = false) {
        for_each([&](const float* G, const float* w, const float* a, std::int64_t m) {
            kernels::weighted_rank1_pass(G, m, s_, w, with_a ? a : nullptr, wscale, v, out, M, k);
            M = nullptr;
        });
        if (M) {  // no rows at all
            kernels::symv(M, k, s_, v, out);
            kernels::scale(wscale, out, s_);
        }
    }

    // f(G, w, a, m) for each block of m rows. With `sum`, also sum += sum_i a_i g_i over all rows
    // (fused with the gather when the rows are gathered now).
    template <typename F>
    void for_each(F&& f, float* sum = nullptr) {
        if (resident_) {
            if (!loaded_) {
                load(0, n_, sum);
            } else if (sum && n_ > 0) {
                kernels::weighted_sum(ws_.G.get(), n_, s_, ws_.a.get(), sum);
            }
            loaded_ = true;
            if (n_ > 0) f(ws_.G.get(), ws_.w.get(), ws_.a.get(), n_);
            return;
        }
        for (std::int64_t b = 0; b < n_; b += cap_) {
            std::int64_t m = std::min(cap_, n_ - b);
            load(b, m, sum);
            f(ws_.G.get(), ws_.w.get(), ws_.a.get(), m);
        }
    }

private:
    void load(std::int64_t begin, std::int64_t m, float* sum) {
        if (half_)
            kernels::gather_rows_weighted(half_, s_, idx_.data() + begin, conf_.data() + begin, m, ws_.G.get(),
                                          ws_.w.get(), ws_.a.get(), sum);
        else
            kernels::gather_rows_weighted(Y_.data(), s_, idx_.data() + begin, conf_.data() + begin, m, ws_.G.get(),
                                          ws_.w.get(), ws_.a.get(), sum);
    }

    Workspace& ws_;
    std::int64_t cap_;
    const Matrix& Y_;
    const std::uint16_t* half_;
    std::int64_t s_;
    std::span<const std::int32_t> idx_;
    std::span<const float> conf_;
    std::int64_t n_ = 0;
    bool resident_ = false, loaded_ = false;
};

// A = YtY + lambda I + sum (|c| - 1) y y^T (upper triangle), b = sum_{c > 0} c y in A's row k: the
// weighted SYRK runs on the gathered block, starting from the Gram matrix (no copy of it).
void build_normal_equations(RowBlocks& blocks, const float* gram, std::int64_t k, std::int64_t s, float* A) {
    std::fill_n(A + k * s, s, 0.0f);
    bool first = true;
    blocks.for_each(
        [&](const float* G, const float* w, const float*, std::int64_t m) {
            kernels::weighted_syrk(G, m, k, s, w, A, first ? gram : A);
            first = false;
        },
        A + k * s);
    if (first) std::copy_n(gram, k * s, A);  // an empty row
}

// One row alone: the in-place Cholesky solve (als_kernels.hpp), and LDLT where that fails.
void solve_cholesky(RowBlocks& blocks, Workspace& ws, const float* gram, std::int64_t k, std::int64_t s, float* x) {
    float* A = ws.A.get();
    build_normal_equations(blocks, gram, k, s, A);
    if (kernels::cholesky_solve(A, k, s, A + k * s, x)) return;
    // Only rounding (or lambda = 0) makes A lose definiteness; LDLT copes with semi-definite A.
    build_normal_equations(blocks, gram, k, s, A);
    // The upper triangle of the row-major A is the lower triangle of its column-major reading.
    ws.A_fallback = Eigen::Map<const Eigen::MatrixXf, Eigen::Aligned64, Eigen::OuterStride<>>(A, k, k, Eigen::OuterStride<>(s));
    ws.ldlt.compute(ws.A_fallback);  // reads the lower triangle
    Eigen::Map<Eigen::VectorXf>(x, k) = ws.ldlt.solve(Eigen::Map<const Eigen::VectorXf>(A + k * s, k));
}

// Sixteen consecutive rows [u0, u0 + 16) at once: their systems are built one after another, then
// factored and solved together (kernels::cholesky_solve16, one system per vector lane). A row whose
// batched factorisation fails is solved again alone (solve_cholesky, with its LDLT fallback).
void solve_cholesky16(const Csr& cui, std::int64_t u0, RowBlocks& blocks, Workspace& ws, const float* gram,
                      std::int64_t k, std::int64_t s, Matrix& X) {
    float *A[16], *b[16], *x[16];
    for (int l = 0; l < 16; ++l) {
        const std::int64_t u = u0 + l;
        A[l] = b[l] = x[l] = nullptr;
        if (u >= cui.rows) continue;
        A[l] = ws.A16.get() + l * (k + 1) * s;
        b[l] = A[l] + k * s;
        x[l] = X.row(u);
        blocks.reset(cui.row_indices(u), cui.row_values(u));
        build_normal_equations(blocks, gram, k, s, A[l]);
    }
    const std::uint32_t failed = kernels::cholesky_solve16(A, k, s, b, x, ws.scratch16.get());
    for (int l = 0; l < 16; ++l) {
        if (!(failed >> l & 1u)) continue;
        blocks.reset(cui.row_indices(u0 + l), cui.row_values(u0 + l));
        solve_cholesky(blocks, ws, gram, k, s, x[l]);
    }
}

void check_options(const AlsOptions& o) {
    if (o.factors < 1) throw OptionError(fmt::format("factors must be at least 1 (got {})", o.factors));
    if (!(o.regularization >= 0.0f) || !std::isfinite(o.regularization))
        throw OptionError(fmt::format("regularization must be >= 0 (got {})", o.regularization));
    if (o.iterations < 0) throw OptionError(fmt::format("iterations must be >= 0 (got {})", o.iterations));
    if (o.solver == AlsSolver::cg && o.cg_steps < 1)
        throw OptionError(fmt::format("cg-steps must be at least 1 (got {})", o.cg_steps));
    if (o.block_rows < 0) throw OptionError(fmt::format("block_rows: must be >= 0 (got {})", o.block_rows));
    if (o.threads < 0) throw OptionError(fmt::format("threads must be >= 0 (got {})", o.threads));
}

}  // namespace

AlsSolver parse_als_solver(std::string_view name) {
    if (name == "cholesky") return AlsSolver::cholesky;
    if (name == "cg") return AlsSolver::cg;
    throw OptionError(fmt::format("solver: unknown ALS solver '{}' (expected cholesky or cg)", name));
}

std::string_view als_solver_name(AlsSolver s) {
    switch (s) {
        case AlsSolver::cholesky: return "cholesky";
        case AlsSolver::cg: return "cg";
    }
    return "unknown";
}

namespace {

// The per-thread workspaces of a training run, (re)built only when a half-step needs more room.
class Workspaces {
public:
    Workspace& at(int t) { return *spaces_[static_cast<std::size_t>(t)]; }
    void ensure(int threads, std::int64_t cap, std::int64_t k, std::int64_t s, bool cholesky) {
        if (static_cast<int>(spaces_.size()) == threads && !spaces_.empty()) {
            const Workspace& w = *spaces_.front();
            if (w.cap >= cap && w.k == k && w.s == s && w.cholesky == cholesky) return;
        }
        spaces_.clear();
        for (int t = 0; t < threads; ++t) spaces_.push_back(std::make_unique<Workspace>(cap, k, s, cholesky));
    }

    HalfCopy half;  // shared by the threads

private:
    std::vector<std::unique_ptr<Workspace>> spaces_;
};

// How many of the next row's factor rows CG prefetches during a row's passes (at most): more than
// a row's worth of cache lines in flight only queues behind the current row's.
constexpr std::size_t kPrefetchRows = 48;

// One half-step. diag (CG only): Y and X are in the eigenbasis of Y^T Y + lambda I, whose
// eigenvalues diag holds (s floats, zero-padded); M v is then diag * v. half: Y's half copy, already
// made (else made here when options.half_gather).
void update(const Csr& cui, const Matrix& Y, Matrix& X, const AlsOptions& options, Workspaces& spaces,
            std::int64_t cap, const float* diag = nullptr, const std::uint16_t* half = nullptr,
            const float* inv_diag = nullptr) {
    const std::int64_t k = Y.cols(), s = Y.stride();
    if (cui.cols != Y.rows()) fail("als_update: the matrix has {} columns but Y has {} rows", cui.cols, Y.rows());
    if (X.rows() != cui.rows || X.cols() != k || X.stride() != s)
        fail("als_update: X is {}x{} (stride {}), expected {}x{} (stride {})", X.rows(), X.cols(), X.stride(), cui.rows,
             k, s);
    const int threads = resolve_threads(options.threads);
    const bool cholesky = options.solver == AlsSolver::cholesky;

    if (diag && cholesky) fail("als_update: the eigenbasis form is for CG only");
    // YtY + lambda I once per half-step (not needed in the eigenbasis).
    const AlignedFloats gram = diag ? AlignedFloats() : padded_gram(Y, options.regularization, threads);
    const float* M = diag ? nullptr : gram.get();  // the passes' M v, or none: diag's product is set first
    spaces.ensure(threads, cap, k, s, cholesky);
    const std::uint16_t* Yh = half ? half : !cholesky && options.half_gather ? spaces.half.fill(Y, threads) : nullptr;

#pragma omp parallel num_threads(threads)
    {
        Workspace& ws = spaces.at(omp_get_thread_num());
        RowBlocks blocks(ws, Y, Yh);
        // CG: the passes after the first run from cache; each also starts fetching a share of the
        // next row's factor rows (usually this thread's next row; harmless when it is not), so the
        // next gather finds them in cache instead of stalling on memory.
        std::span<const std::int32_t> ahead;
        std::int64_t ahead_per_pass = 0;
        auto apply = [&](const float* v, bool with_a, float wscale, float* out) {
            if (diag)  // the passes then add to out
                for (std::int64_t j = 0; j < s; ++j) out[j] = wscale * diag[j] * v[j];
            if (with_a) {  // the residual pass, always the first: it gathers the row
                blocks.first_pass(v, wscale, out, M, k);
                return;
            }
            const auto n = std::min<std::int64_t>(ahead_per_pass, static_cast<std::int64_t>(ahead.size()));
            if (Yh)
                kernels::prefetch_rows(Yh, s, ahead.data(), n);
            else
                kernels::prefetch_rows(Y.data(), s, ahead.data(), n);
            ahead = ahead.subspan(static_cast<std::size_t>(n));
            blocks.pass(v, wscale, out, M, k);
        };
        // Rows are heavy-tailed (a few items have most of the plays): small dynamic chunks.
        // (Measured: the Cholesky path gains nothing from prefetching the next row's factor rows,
        // neither up front nor spread over its SYRK tiles; CG does.)
        if (cholesky) {
#pragma omp for schedule(dynamic, 1)
            for (std::int64_t u0 = 0; u0 < cui.rows; u0 += 16) solve_cholesky16(cui, u0, blocks, ws, gram.get(), k, s, X);
        } else {
#pragma omp for schedule(dynamic, 16)
            for (std::int64_t u = 0; u < cui.rows; ++u) {
                blocks.reset(cui.row_indices(u), cui.row_values(u));
                ahead = u + 1 < cui.rows ? cui.row_indices(u + 1) : std::span<const std::int32_t>{};
                ahead = ahead.first(std::min<std::size_t>(ahead.size(), kPrefetchRows));
                ahead_per_pass = (static_cast<std::int64_t>(ahead.size()) + options.cg_steps - 1) / options.cg_steps;
                kernels::cg_solve(s, apply, options.cg_steps, X.row(u), ws.r.get(), ws.p.get(), ws.ap.get(), inv_diag,
                                  ws.z.get());
            }
        }
    }
}

}  // namespace

void als_update(const Csr& cui, const Matrix& Y, Matrix& X, const AlsOptions& options) {
    check_options(options);
    Workspaces spaces;
    update(cui, Y, X, options, spaces, block_capacity(cui, Y.stride(), options.block_rows));
}

double als_loss(const Csr& cui_by_user, const Matrix& X, const Matrix& Y, float regularization, int threads) {
    const std::int64_t k = Y.cols(), s = Y.stride();
    if (cui_by_user.rows != X.rows() || cui_by_user.cols != Y.rows() || X.cols() != k || X.stride() != s)
        fail("als_loss: shapes disagree (matrix {}x{}, X {}x{}, Y {}x{})", cui_by_user.rows, cui_by_user.cols, X.rows(),
             X.cols(), Y.rows(), Y.cols());
    threads = resolve_threads(threads);
    const AlignedFloats gram = padded_gram(Y, 0.0f, threads);
    // sum over all cells of c (p - s)^2 = x^T YtY x over every item (c = 1, p = 0), corrected on the
    // played cells. Fixed chunks summed in order keep the value independent of the thread count.
    constexpr std::int64_t kChunks = 256;
    const std::int64_t n = X.rows();
    std::vector<double> loss(kChunks, 0.0), weight(kChunks, 0.0), norm(kChunks, 0.0);
#pragma omp parallel num_threads(threads)
    {
        AlignedFloats gx(s);
#pragma omp for schedule(dynamic, 1)
        for (std::int64_t c = 0; c < kChunks; ++c) {
            double l = 0, wsum = 0, nsum = 0;
            for (std::int64_t u = n * c / kChunks; u < n * (c + 1) / kChunks; ++u) {
                const float* x = X.row(u);
                kernels::symv(gram.get(), k, s, x, gx.get());
                l += kernels::dot_double(gx.get(), x, s);
                nsum += kernels::dot_double(x, x, s);
                auto idx = cui_by_user.row_indices(u);
                auto val = cui_by_user.row_values(u);
                for (std::size_t j = 0; j < idx.size(); ++j) {
                    double score = kernels::dot_double(x, Y.row(idx[j]), s);
                    double conf = std::fabs(static_cast<double>(val[j]));
                    double p = val[j] > 0 ? 1.0 : 0.0;
                    l += conf * (p - score) * (p - score) - score * score;
                    wsum += conf - 1.0;
                }
            }
            loss[static_cast<std::size_t>(c)] = l;
            weight[static_cast<std::size_t>(c)] = wsum;
            norm[static_cast<std::size_t>(c)] = nsum;
        }
    }
    double total = 0, total_weight = 0, user_norm = 0, item_norm = 0;
    for (std::int64_t c = 0; c < kChunks; ++c) {
        total += loss[static_cast<std::size_t>(c)];
        total_weight += weight[static_cast<std::size_t>(c)];
        user_norm += norm[static_cast<std::size_t>(c)];
    }
    for (std::int64_t i = 0; i < Y.rows(); ++i) item_norm += kernels::dot_double(Y.row(i), Y.row(i), s);
    total += static_cast<double>(regularization) * (user_norm + item_norm);
    const double denom = static_cast<double>(X.rows()) * static_cast<double>(Y.rows()) + total_weight;
    return denom > 0 ? total / denom : 0.0;
}

void train_als(const Csr& cui_by_user, const Csr& cui_by_item, const AlsOptions& options, Matrix& user_factors,
               Matrix& item_factors, AlsReport* report) {
    check_options(options);
    if (cui_by_item.rows != cui_by_user.cols || cui_by_item.cols != cui_by_user.rows ||
        cui_by_item.nnz() != cui_by_user.nnz())
        fail("train_als: the by-item matrix ({}x{}, {} non-zeros) is not the transpose of the by-user one ({}x{}, {})",
             cui_by_item.rows, cui_by_item.cols, cui_by_item.nnz(), cui_by_user.rows, cui_by_user.cols,
             cui_by_user.nnz());
    const auto start = std::chrono::steady_clock::now();
    const int threads = resolve_threads(options.threads);
    // init_factors writes every float, each thread its own rows: no single-threaded zero fill first.
    user_factors = Matrix::uninitialized(cui_by_user.rows, options.factors);
    item_factors = Matrix::uninitialized(cui_by_user.cols, options.factors);
    init_factors(user_factors, options.seed, 0, threads);
    init_factors(item_factors, options.seed, 1, threads);
    if (report) report->loss.clear();

    // One set of workspaces for the whole run, sized for the longer side.
    Workspaces spaces;
    const std::int64_t stride = user_factors.stride();
    const std::int64_t cap = std::max(block_capacity(cui_by_user, stride, options.block_rows),
                                      block_capacity(cui_by_item, stride, options.block_rows));
    if (options.solver == AlsSolver::cg && options.half_gather)
        spaces.half.reserve(std::max(user_factors.rows(), item_factors.rows()) * stride);
    const bool eigenbasis = options.solver == AlsSolver::cg && options.eigenbasis;
    Eigenbasis basis;
    auto half_step = [&](const Csr& cui, Matrix& Y, Matrix& X) {
        if (!eigenbasis) return update(cui, Y, X, options, spaces, cap);
        basis.compute(Y, options.regularization, threads);
        std::uint16_t* half = options.half_gather ? spaces.half.writable(Y.rows() * Y.stride()) : nullptr;
        basis.rotate(Y, threads, half);
        basis.rotate(X, threads);  // CG's warm start, in the same basis
        update(cui, Y, X, options, spaces, cap, basis.d.get(), half,
               options.cg_precondition ? basis.inv_d.get() : nullptr);
    };
    Progress progress("als", options.iterations, options.reporter, "iterations");
    for (int it = 0; it < options.iterations; ++it) {
        half_step(cui_by_user, item_factors, user_factors);
        half_step(cui_by_item, user_factors, item_factors);
        if (options.compute_loss) {
            double loss = als_loss(cui_by_user, user_factors, item_factors, options.regularization, threads);
            if (report) report->loss.push_back(loss);
            progress.note(fmt::format("loss {:.6g}", loss));
        }
        progress.add(1);
    }
    progress.finish();
    if (report)
        report->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace encore
