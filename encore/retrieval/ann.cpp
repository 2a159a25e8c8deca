// The parts every index kind shares: the metric transform (normalise or norm-augment), the common
// header and vector section of the .enci file, the factory and open_index.
#include "encore/retrieval/ann.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "encore/io/container.hpp"
#include "encore/kernels/distance.hpp"
#include "encore/retrieval/forest.hpp"
#include "encore/retrieval/graph.hpp"
#include "encore/util/error.hpp"
#include "encore/util/threads.hpp"

namespace encore {

namespace {

constexpr Magic kIndexMagic = {'E', 'N', 'C', 'O', 'I', 'N', 'D', 'X'};

// The "header" section: fixed-size, little-endian, read with one memcpy.
struct IndexHeader {
    std::uint32_t kind;    // 1 forest, 2 graph
    std::uint32_t metric;  // AnnMetric
    std::int64_t rows;
    std::int64_t dim;         // query length (source columns)
    std::int64_t stored_dim;  // dim, or dim + 1 for dot (the augmentation coordinate)
    std::int64_t stride;      // floats per stored row (stored_dim rounded up to 16)
    std::uint64_t fingerprint;
    std::int32_t default_search;
    std::uint32_t reserved0;
    std::uint64_t seed;
    std::uint8_t reserved[64];
};
static_assert(sizeof(IndexHeader) == 128);

}  // namespace

AnnMetric parse_metric(std::string_view name) {
    if (name == "cosine") return AnnMetric::cosine;
    if (name == "dot") return AnnMetric::dot;
    throw OptionError(fmt::format("metric: unknown metric '{}' (expected cosine or dot)", name));
}

std::string_view metric_name(AnnMetric metric) { return metric == AnnMetric::dot ? "dot" : "cosine"; }

std::uint64_t vectors_fingerprint(const Matrix& vectors) {
    return checksum64(std::as_bytes(vectors.storage()));
}

void AnnIndex::init_common(const Matrix& source, AnnMetric metric, int default_search, std::uint64_t seed,
                           int threads) {
    metric_ = metric;
    dim_ = source.cols();
    default_search_ = default_search;
    seed_ = seed;
    fingerprint_ = vectors_fingerprint(source);
    const std::int64_t n = source.rows(), d = dim_;
    vectors_ = Matrix(n, metric == AnnMetric::dot ? d + 1 : d);
    double max_norm2 = 0;
    std::vector<double> norm2(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) {
        const float* r = source.row(i);
        double s = 0;
        for (std::int64_t j = 0; j < d; ++j) s += static_cast<double>(r[j]) * r[j];
        if (!std::isfinite(s)) throw Error(fmt::format("row {} of the vectors is not finite", i));
        norm2[static_cast<std::size_t>(i)] = s;
        max_norm2 = std::max(max_norm2, s);
    }
    threads = resolve_threads(threads);
#pragma omp parallel for num_threads(threads) schedule(static) if (n * d >= (1 << 18))
    for (std::int64_t i = 0; i < n; ++i) {
        const float* r = source.row(i);
        float* out = vectors_.row(i);
        const double s = norm2[static_cast<std::size_t>(i)];
        if (metric == AnnMetric::cosine) {
            const double inv = s > 0 ? 1.0 / std::sqrt(s) : 0.0;
            for (std::int64_t j = 0; j < d; ++j) out[j] = static_cast<float>(r[j] * inv);
        } else {
            for (std::int64_t j = 0; j < d; ++j) out[j] = r[j];
            out[d] = static_cast<float>(std::sqrt(std::max(0.0, max_norm2 - s)));
        }
    }    init_codes(threads);
}

namespace {

std::int64_t code_stride_for(std::int64_t stored_dim) { return (stored_dim + 63) / 64 * 64; }

}  // namespace

void AnnIndex::init_codes(int threads) {
    const std::int64_t n = vectors_.rows(), d = vectors_.cols();
    code_stride_ = code_stride_for(d);
    const auto cs = static_cast<std::size_t>(code_stride_);
    // Per dimension: the range's midpoint and the step that spreads the range over [-127, 127].
    std::vector<float> params(2 * cs, 0.0f);
    for (std::int64_t j = 0; j < d; ++j) {
        float lo = 0, hi = 0;
        if (n > 0) lo = hi = vectors_(0, j);
        for (std::int64_t i = 1; i < n; ++i) {
            lo = std::min(lo, vectors_(i, j));
            hi = std::max(hi, vectors_(i, j));
        }
        params[static_cast<std::size_t>(j)] = 0.5f * (lo + hi);
        params[cs + static_cast<std::size_t>(j)] = (hi - lo) / 254.0f;
    }
    std::vector<std::int8_t> codes(static_cast<std::size_t>(n) * cs, 0);
#pragma omp parallel for num_threads(resolve_threads(threads)) schedule(static) if (n * d >= (1 << 18))
    for (std::int64_t i = 0; i < n; ++i) {
        const float* r = vectors_.row(i);
        std::int8_t* c = codes.data() + static_cast<std::size_t>(i) * cs;
        for (std::int64_t j = 0; j < d; ++j) {
            const float step = params[cs + static_cast<std::size_t>(j)];
            const float v = step > 0 ? std::nearbyint((r[j] - params[static_cast<std::size_t>(j)]) / step) : 0.0f;
            c[j] = static_cast<std::int8_t>(std::clamp(v, -127.0f, 127.0f));
        }
    }
    codes_ = Buffer<std::int8_t>(std::move(codes));
    code_params_ = Buffer<float>(std::move(params));
}

void AnnIndex::open_common(const ContainerReader& in) {
    IndexHeader h;
    auto hs = in.array<const std::byte>("header", sizeof(IndexHeader));
    std::memcpy(&h, hs.data(), sizeof h);
    metric_ = static_cast<AnnMetric>(h.metric);
    dim_ = h.dim;
    fingerprint_ = h.fingerprint;
    default_search_ = h.default_search;
    seed_ = h.seed;
    auto v = in.array<float>("vectors", static_cast<std::size_t>(h.rows * h.stride));
    vectors_ = Matrix::view(v.data(), h.rows, h.stored_dim, h.stride, in.file());
    keepalive_ = in.file();
    code_stride_ = code_stride_for(h.stored_dim);
    codes_ = Buffer<std::int8_t>::view(in.array<std::int8_t>("codes", static_cast<std::size_t>(h.rows * code_stride_)), in.file());
    code_params_ = Buffer<float>::view(in.array<float>("code_params", static_cast<std::size_t>(2 * code_stride_)), in.file());
}

AnnIndex::Prepared AnnIndex::prepare_query(std::span<const float> query) const {
    if (static_cast<std::int64_t>(query.size()) != dim_)
        fail("query has {} values but the index has {} dimensions", query.size(), dim_);
    thread_local std::vector<float> buffer;
    const auto stride = static_cast<std::size_t>(vectors_.stride());
    buffer.assign(std::max<std::size_t>(stride, 16), 0.0f);
    double s = 0;
    for (float x : query) s += static_cast<double>(x) * x;
    const double scale = (metric_ == AnnMetric::cosine && s > 0) ? 1.0 / std::sqrt(s) : 1.0;
    for (std::size_t j = 0; j < query.size(); ++j) buffer[j] = static_cast<float>(query[j] * scale);
    return prepare_stored(buffer.data());  // dot: the augmentation coordinate stays 0
}

AnnIndex::Prepared AnnIndex::prepare_stored(const float* stored) const {
    thread_local std::vector<float> scaled;
    const auto cs = static_cast<std::size_t>(code_stride_);
    scaled.assign(std::max<std::size_t>(cs, 16), 0.0f);
    const float* mid = code_params_.data();
    const float* step = code_params_.data() + cs;
    double bias = 0;
    for (std::int64_t j = 0; j < vectors_.cols(); ++j) {
        scaled[static_cast<std::size_t>(j)] = stored[j] * step[j];
        bias += static_cast<double>(stored[j]) * mid[j];
    }
    return {stored, scaled.data(), static_cast<float>(bias)};
}

float AnnIndex::approx_score(const Prepared& q, std::int64_t row) const {
    return q.bias + kernels::dot_i8(q.scaled, code(row), code_stride_);
}

void AnnIndex::approx_scores(const Prepared& q, const std::uint32_t* rows, std::size_t m, float* out) const {
    kernels::dot_i8_gather(q.scaled, codes_.data(), code_stride_, rows, m, code_stride_, out);
    for (std::size_t i = 0; i < m; ++i) out[i] += q.bias;
}

std::vector<ScoredItem> AnnIndex::search_item(std::int64_t item, int k, int search) const {
    if (item < 0 || item >= size()) fail("item {} is out of range (the index has {} items)", item, size());
    return this->search(item_vector(item), k, search);
}

float AnnIndex::score(const float* q, std::int64_t row) const {
    return kernels::inner_product(q, vectors_.row(row), vectors_.stride());
}

void AnnIndex::save(const std::string& path) const {
    IndexHeader h;
    std::memset(&h, 0, sizeof h);
    h.kind = kind_code();
    h.metric = static_cast<std::uint32_t>(metric_);
    h.rows = vectors_.rows();
    h.dim = dim_;
    h.stored_dim = vectors_.cols();
    h.stride = vectors_.stride();
    h.fingerprint = fingerprint_;
    h.default_search = default_search_;
    h.seed = seed_;
    ContainerWriter out(kIndexMagic, kIndexVersion);
    out.add_text("header", std::string(reinterpret_cast<const char*>(&h), sizeof h));
    out.add_array("vectors", vectors_.storage());
    out.add_array("codes", codes_.span());
    out.add_array("code_params", code_params_.span());
    add_sections(out);
    out.write(path);
}

std::unique_ptr<AnnIndex> build_index(const Matrix& vectors, const IndexBuildOptions& options) {
    if (options.kind == "forest") return ForestIndex::build(vectors, options);
    if (options.kind == "graph") return GraphIndex::build(vectors, options);
    throw OptionError(fmt::format("kind: unknown index kind '{}' (expected forest or graph)", options.kind));
}

std::unique_ptr<AnnIndex> open_index(const std::string& path, bool verify) {
    auto in = ContainerReader::open(path, kIndexMagic, kIndexVersion, verify);
    if (in.version() < kIndexVersion)
        throw FormatError(path, fmt::format("index format version {} is older than this build reads ({}): rebuild it with encore index",
                                            in.version(), kIndexVersion));
    auto hs = in.section("header");
    if (hs.size() != sizeof(IndexHeader))
        throw FormatError(path, fmt::format("index header is {} bytes, expected {}", hs.size(), sizeof(IndexHeader)));
    IndexHeader h;
    std::memcpy(&h, hs.data(), sizeof h);
    if (h.metric != static_cast<std::uint32_t>(AnnMetric::cosine) && h.metric != static_cast<std::uint32_t>(AnnMetric::dot))
        throw FormatError(path, fmt::format("unknown metric code {}", h.metric));
    const std::int64_t extra = h.metric == static_cast<std::uint32_t>(AnnMetric::dot) ? 1 : 0;
    if (h.rows < 0 || h.rows > (std::int64_t{1} << 31) - 2 || h.dim < 1 || h.dim > (1 << 20) ||
        h.stored_dim != h.dim + extra || h.stride != Matrix::padded(h.stored_dim))
        throw FormatError(path, fmt::format("inconsistent index header (rows {}, dim {}, stored {}, stride {})", h.rows,
                                            h.dim, h.stored_dim, h.stride));
    if (in.section("vectors").size() != static_cast<std::size_t>(h.rows * h.stride) * sizeof(float))
        throw FormatError(path, fmt::format("section 'vectors' has {} bytes, expected {} rows of {} floats",
                                            in.section("vectors").size(), h.rows, h.stride));
    std::unique_ptr<AnnIndex> index;
    if (h.kind == 1)
        index = ForestIndex::open(in);
    else if (h.kind == 2)
        index = GraphIndex::open(in);
    else
        throw FormatError(path, fmt::format("unknown index kind code {}", h.kind));
    return index;
}

void verify_index(const std::string& path) { open_index(path, true); }

namespace ann_detail {

void VisitedSet::begin(std::int64_t n) {
    if (static_cast<std::int64_t>(marks_.size()) < n) {
        marks_.assign(static_cast<std::size_t>(n), 0);
        epoch_ = 0;
    }
    if (++epoch_ == 0) {  // wrapped: old marks could collide with the new epoch
        std::fill(marks_.begin(), marks_.end(), 0);
        epoch_ = 1;
    }
}

VisitedSet& VisitedSet::local() {
    thread_local VisitedSet set;
    return set;
}

}  // namespace ann_detail

}  // namespace encore
