#include "encore/kernels/half_scan.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

#include "encore/util/memory.hpp"
#include "encore/util/prefetch.hpp"

namespace encore::kernels {

std::uint16_t to_half(float x) {
    std::uint32_t u;
    std::memcpy(&u, &x, sizeof u);
    const auto sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
    u &= 0x7FFFFFFFu;
    if (u > 0x7F800000u) return static_cast<std::uint16_t>(sign | 0x7E00u | ((u >> 13) & 0x3FFu));  // NaN, quiet
    if (u >= 0x477FF000u) return static_cast<std::uint16_t>(sign | 0x7C00u);  // >= 65520 (or inf): infinity
    if (u >= 0x38800000u) {  // a normal half (>= 2^-14): rebias the exponent, round the mantissa to 10 bits
        std::uint32_t v = u - 0x38000000u;
        v += 0xFFFu + ((v >> 13) & 1u);  // a carry into the exponent is the right result
        return static_cast<std::uint16_t>(sign | (v >> 13));
    }
    const std::uint32_t exp = u >> 23;
    if (exp < 102) return sign;  // below 2^-25: rounds to zero
    // A subnormal half: m 2^-24 with m = |x| 2^24 rounded to nearest even (m = 1024 is the smallest normal).
    const std::uint32_t mant = (u & 0x7FFFFFu) | 0x800000u, shift = 126 - exp;
    std::uint32_t m = mant >> shift;
    const std::uint32_t rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (m & 1u))) ++m;
    return static_cast<std::uint16_t>(sign | m);
}

float from_half(std::uint16_t h) {
    const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
    const std::uint32_t exp = (h >> 10) & 0x1Fu, mant = h & 0x3FFu;
    std::uint32_t bits;
    if (exp == 0) {
        const float f = static_cast<float>(mant) * 0x1p-24f;  // exact
        return sign ? -f : f;
    }
    if (exp == 0x1F)
        bits = sign | 0x7F800000u | (mant << 13);
    else
        bits = sign | ((exp + 112) << 23) | (mant << 13);
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

bool has_half_scan() {
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__) && defined(__F16C__))
    return true;
#else
    return false;
#endif
}

namespace {

// x's halves into h and back into xr (exact), n values.
void round_trip(const float* x, std::int64_t n, std::uint16_t* h, float* xr) {
    std::int64_t j = 0;
#if defined(__F16C__)
    for (; j + 8 <= n; j += 8) {
        const __m128i v = _mm256_cvtps_ph(_mm256_loadu_ps(x + j), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(h + j), v);
        _mm256_storeu_ps(xr + j, _mm256_cvtph_ps(v));
    }
#endif
    for (; j < n; ++j) {
        h[j] = to_half(x[j]);
        xr[j] = from_half(h[j]);
    }
}

}  // namespace

HalfRows::HalfRows(const Matrix& T, int threads) : rows_(T.rows()), dim_(T.cols()) {
    if (dim_ > kMaxHalfDim || dim_ < 1) return;
    const std::int64_t panels = (rows_ + kHalfPanel - 1) / kHalfPanel;
    std::size_t bytes = static_cast<std::size_t>(panels * dim_ * kHalfPanel) * sizeof(std::uint16_t);
    if (bytes == 0) return;
    // Scanned from end to end for every query: 2 MB pages where the kernel gives them (fewer TLB misses).
    auto block = allocate_large(bytes);
    data_ = std::shared_ptr<std::uint16_t>(block, static_cast<std::uint16_t*>(block.get()));
    bounds_.assign(static_cast<std::size_t>(panels * kHalfPanel), 0.0f);

    std::uint16_t* data = data_.get();
    float* bounds = bounds_.data();
    const std::int64_t rows = rows_, dim = dim_;
    bool ok = true;
    double max_norm = 0;
#pragma omp parallel num_threads(threads) if (rows * dim >= (1 << 18))
    {
        std::vector<std::uint16_t> h(static_cast<std::size_t>(dim));
        std::vector<float> xr(static_cast<std::size_t>(dim));
#pragma omp for schedule(static) reduction(&& : ok) reduction(max : max_norm)
        for (std::int64_t pn = 0; pn < panels; ++pn) {
            std::uint16_t* out = data + pn * dim * kHalfPanel;
            for (std::int64_t l = 0; l < kHalfPanel; ++l) {
                const std::int64_t r = pn * kHalfPanel + l;
                if (r >= rows) {
                    for (std::int64_t j = 0; j < dim; ++j) out[j * kHalfPanel + l] = 0;
                    continue;
                }
                const float* x = T.row(r);
                round_trip(x, dim, h.data(), xr.data());
                for (std::int64_t j = 0; j < dim; ++j) out[j * kHalfPanel + l] = h[static_cast<std::size_t>(j)];
                // In double: the squares cannot overflow, so a value or half that is not finite leaves
                // a sum that is not finite; the rounding of the sums is far inside the 2^-6 slack.
                double e2 = 0, a2 = 0, r2 = 0;
                const float* xrp = xr.data();
#pragma omp simd reduction(+ : e2, a2, r2)
                for (std::int64_t j = 0; j < dim; ++j) {
                    const double xj = x[j], rj = xrp[j];
                    const double d = xj - rj;  // exact: both are floats of nearby magnitude
                    e2 += d * d;
                    a2 += xj * xj;
                    r2 += rj * rj;
                }
                ok = ok && std::isfinite(e2 + a2 + r2);
                const double a = std::sqrt(a2), rn = std::sqrt(r2);
                const double c = (std::sqrt(e2) + 0x1p-15 * (rn + a)) * (1 + 0x1p-6) + 0x1p-57;
                float cf = static_cast<float>(c);
                if (static_cast<double>(cf) < c) cf = std::nextafter(cf, std::numeric_limits<float>::infinity());
                bounds[r] = cf;
                max_norm = std::max({max_norm, a, rn});
            }
        }
    }
    usable_ = ok && std::isfinite(max_norm);
    max_norm_ = max_norm;
}

float half_query_scale(const float* q, const HalfRows& H) {
    double a2 = 0;
    for (std::int64_t j = 0; j < H.dim(); ++j) a2 += static_cast<double>(q[j]) * q[j];
    const double n = std::sqrt(a2);
    if (!H.usable() || !(n >= 0x1p-50) || !(n * H.max_norm() <= 0x1p100)) return 0.0f;  // NaN fails too
    const double up = n * (1 + 0x1p-20);
    float s = static_cast<float>(up);
    if (static_cast<double>(s) < up) s = std::nextafter(s, std::numeric_limits<float>::infinity());
    return s;
}

std::uint32_t reach_mask_scalar(const float* s, const float* c, float scale, float tau) {
    std::uint32_t mask = 0;
    for (int i = 0; i < 16; ++i) mask |= static_cast<std::uint32_t>(half_upper(s[i], c[i], scale) >= tau) << i;
    return mask;
}

void half_scores_portable(const float* q, const HalfRows& H, std::int64_t r0, std::int64_t n, float* out) {
    const std::int64_t dim = H.dim();
    for (std::int64_t p = 0; p * kHalfPanel < n; ++p) {
        const std::uint16_t* panel = H.panel(r0 / kHalfPanel + p);
        float acc[kHalfPanel] = {};
        for (std::int64_t j = 0; j < dim; ++j)
            for (std::int64_t l = 0; l < kHalfPanel; ++l)
                acc[l] = madd(q[j], from_half(panel[j * kHalfPanel + l]), acc[l]);
        std::memcpy(out + p * kHalfPanel, acc, sizeof acc);
    }
}

namespace {

// Bytes of panels fetched ahead by software: the hardware prefetcher stops at every 4 KB page
// boundary (two panels at 64 dimensions).
constexpr std::int64_t kAheadBytes = 8192;

#if defined(__AVX512F__)
// G panels at a time: G independent accumulators hide the multiply-add latency; one lane is one
// chain over the dimensions in order, as in the portable loop. Eight panels (8 of the 32 registers)
// measured fastest at 64 dimensions (p50 of related items 1.19 ms against 1.33 / 1.62 ms for two
// and four panels).
constexpr int kGroup = 8;
template <int G>
inline void half_panels(const float* q, const std::uint16_t* p0, std::int64_t dim, float* out, const char* ahead,
                        std::int64_t ahead_bytes) {
    const std::int64_t ps = dim * kHalfPanel;
    for (std::int64_t off = 0; off < ahead_bytes; off += 64) prefetch_l1(ahead + off);
    __m512 acc[G];
    for (int g = 0; g < G; ++g) acc[g] = _mm512_setzero_ps();
    for (std::int64_t j = 0; j < dim; ++j) {
        const __m512 v = _mm512_set1_ps(q[j]);
        for (int g = 0; g < G; ++g)
            acc[g] = _mm512_fmadd_ps(
                v, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p0 + g * ps + j * kHalfPanel))),
                acc[g]);
    }
    for (int g = 0; g < G; ++g) _mm512_storeu_ps(out + g * kHalfPanel, acc[g]);
}
#elif defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
// Two vectors per panel: four panels keep 8 accumulators in the 16 registers.
constexpr int kGroup = 4;
template <int G>
inline void half_panels(const float* q, const std::uint16_t* p0, std::int64_t dim, float* out, const char* ahead,
                        std::int64_t ahead_bytes) {
    const std::int64_t ps = dim * kHalfPanel;
    for (std::int64_t off = 0; off < ahead_bytes; off += 64) prefetch_l1(ahead + off);
    __m256 acc[G][2];
    for (int g = 0; g < G; ++g) acc[g][0] = acc[g][1] = _mm256_setzero_ps();
    for (std::int64_t j = 0; j < dim; ++j) {
        const __m256 v = _mm256_set1_ps(q[j]);
        for (int g = 0; g < G; ++g)
            for (int h = 0; h < 2; ++h) {
                const auto* x = reinterpret_cast<const __m128i*>(p0 + g * ps + j * kHalfPanel + 8 * h);
                acc[g][h] = _mm256_fmadd_ps(v, _mm256_cvtph_ps(_mm_loadu_si128(x)), acc[g][h]);
            }
    }
    for (int g = 0; g < G; ++g) {
        _mm256_storeu_ps(out + g * kHalfPanel, acc[g][0]);
        _mm256_storeu_ps(out + g * kHalfPanel + 8, acc[g][1]);
    }
}
#endif

}  // namespace

void half_scores(const float* q, const HalfRows& H, std::int64_t r0, std::int64_t n, float* out) {
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__) && defined(__F16C__))
    constexpr int G = kGroup;
    const std::int64_t dim = H.dim(), panels = (n + kHalfPanel - 1) / kHalfPanel, first = r0 / kHalfPanel;
    const std::int64_t total = (H.rows() + kHalfPanel - 1) / kHalfPanel;
    const std::int64_t panel_bytes = dim * kHalfPanel * static_cast<std::int64_t>(sizeof(std::uint16_t));
    // Fetch the panels kAheadBytes past the group being scored, as long as they exist.
    auto ahead = [&](std::int64_t p, std::int64_t count, std::int64_t& bytes) {
        const std::int64_t from = (first + p) * panel_bytes + kAheadBytes;
        bytes = std::clamp<std::int64_t>(total * panel_bytes - from, 0, count * panel_bytes);
        return reinterpret_cast<const char*>(H.panel(0)) + (bytes > 0 ? from : 0);
    };
    std::int64_t p = 0, bytes = 0;
    for (; p + G <= panels; p += G) {
        const char* a = ahead(p, G, bytes);
        half_panels<G>(q, H.panel(first + p), dim, out + p * kHalfPanel, a, bytes);
    }
    for (; p < panels; ++p) {
        const char* a = ahead(p, 1, bytes);
        half_panels<1>(q, H.panel(first + p), dim, out + p * kHalfPanel, a, bytes);
    }
#else
    half_scores_portable(q, H, r0, n, out);
#endif
}

}  // namespace encore::kernels
