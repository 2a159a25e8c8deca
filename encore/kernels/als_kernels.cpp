#include "encore/kernels/als_kernels.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#if defined(__AVX2__) || defined(__AVX512F__) || defined(__F16C__)
#include <immintrin.h>
#endif

#include "encore/kernels/simd_reduce.hpp"
#include "encore/util/prefetch.hpp"

namespace encore::kernels {

void gather_rows_weighted(const float* src, std::int64_t s, const std::int32_t* idx, const float* conf, std::int64_t n,
                          float* G, float* w, float* a, float* sum) {
    // The rows are scattered over a matrix far bigger than cache: ask for a few rows ahead so the
    // loads overlap instead of stalling one after another.
    constexpr std::int64_t kAhead = 16;
    for (std::int64_t i = 0; i < n; ++i) {
        if (i + kAhead < n) prefetch_rows(src, s, idx + i + kAhead, 1);
        const float* row = src + static_cast<std::int64_t>(idx[i]) * s;
        float* g = G + i * s;
        const float c = conf[i];
        w[i] = std::fabs(c) - 1.0f;
        a[i] = c > 0.0f ? c : 0.0f;
        if (sum && a[i] != 0.0f) {
            const float ai = a[i];
#pragma omp simd
            for (std::int64_t j = 0; j < s; ++j) {
                g[j] = row[j];
                sum[j] = madd(ai, row[j], sum[j]);
            }
        } else {
            copy(row, g, s);
        }
    }
}

float half_to_float(std::uint16_t h) {
    const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
    const std::uint32_t exp = (h >> 10) & 0x1fu;
    std::uint32_t man = h & 0x3ffu;
    std::uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {  // subnormal: normalise
            std::uint32_t e = 0;
            while (!(man & 0x400u)) {
                man <<= 1;
                ++e;
            }
            bits = sign | ((113u - e) << 23) | ((man & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 112u) << 23) | (man << 13);
    }
    return std::bit_cast<float>(bits);
}

std::uint16_t float_to_half(float f) {
    const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
    const std::uint32_t sign = (x >> 16) & 0x8000u;
    const std::uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return static_cast<std::uint16_t>(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0u));
    if (ax >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // rounds past 65504: infinity
    if (ax < 0x38800000u) {                                                    // below 2^-14: subnormal half
        if (ax <= 0x33000000u) return static_cast<std::uint16_t>(sign);       // <= 2^-25 rounds to zero
        const std::uint32_t e = ax >> 23, m = (ax & 0x7fffffu) | 0x800000u;
        const std::uint32_t shift = 126u - e;  // 14..24
        std::uint32_t r = m >> shift;
        const std::uint32_t rem = m & ((1u << shift) - 1u), halfway = 1u << (shift - 1u);
        if (rem > halfway || (rem == halfway && (r & 1u))) ++r;
        return static_cast<std::uint16_t>(sign | r);
    }
    const std::uint32_t r = ax - 0x38000000u;  // exponent rebiased from 127 to 15
    std::uint32_t h = r >> 13;
    const std::uint32_t rem = r & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // a carry into the exponent is right
    return static_cast<std::uint16_t>(sign | h);
}

void halves_to_floats(const std::uint16_t* src, float* dst, std::int64_t n) {
    std::int64_t i = 0;
#if defined(__AVX512F__)
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i))));
#endif
#if defined(__F16C__)
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
#endif
    for (; i < n; ++i) dst[i] = half_to_float(src[i]);
}

void floats_to_halves(const float* src, std::uint16_t* dst, std::int64_t n) {
    std::int64_t i = 0;
#if defined(__AVX512F__)
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i),
                            _mm512_cvtps_ph(_mm512_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
#endif
#if defined(__F16C__)
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
#endif
    for (; i < n; ++i) dst[i] = float_to_half(src[i]);
}

void gather_rows_weighted(const std::uint16_t* src, std::int64_t s, const std::int32_t* idx, const float* conf,
                          std::int64_t n, float* G, float* w, float* a, float* sum) {
    constexpr std::int64_t kAhead = 16;
    for (std::int64_t i = 0; i < n; ++i) {
        if (i + kAhead < n) prefetch_rows(src, s, idx + i + kAhead, 1);
        halves_to_floats(src + static_cast<std::int64_t>(idx[i]) * s, G + i * s, s);
    }
    // The float rows are in G now: the weights and b as the float version computes them.
    for (std::int64_t i = 0; i < n; ++i) {
        const float c = conf[i];
        w[i] = std::fabs(c) - 1.0f;
        a[i] = c > 0.0f ? c : 0.0f;
    }
    if (sum) weighted_sum(G, n, s, a, sum);
}

namespace {
// Starts loading rows idx[0..n) of a matrix with rows of row_bytes bytes into cache.
void prefetch_row_bytes(const char* base, std::int64_t row_bytes, const std::int32_t* idx, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) {
        const char* row = base + static_cast<std::int64_t>(idx[i]) * row_bytes;
        for (std::int64_t l = 0; l < row_bytes; l += 64) prefetch_l1(row + l);
    }
}
}  // namespace

void prefetch_rows(const float* src, std::int64_t s, const std::int32_t* idx, std::int64_t n) {
    prefetch_row_bytes(reinterpret_cast<const char*>(src), s * static_cast<std::int64_t>(sizeof(float)), idx, n);
}

void prefetch_rows(const std::uint16_t* src, std::int64_t s, const std::int32_t* idx, std::int64_t n) {
    prefetch_row_bytes(reinterpret_cast<const char*>(src), s * static_cast<std::int64_t>(sizeof(std::uint16_t)), idx,
                       n);
}

namespace {

// The row strides the unrolled kernels are built for: calls f.template operator()<s / lanes>() (the
// kernel's vector count per row) for s in 16, 32, ..., 128 and returns true; false for other s.
template <int lanes, typename F>
bool for_stride(std::int64_t s, F&& f) {
    switch (s) {
        case 16: f.template operator()<16 / lanes>(); return true;
        case 32: f.template operator()<32 / lanes>(); return true;
        case 48: f.template operator()<48 / lanes>(); return true;
        case 64: f.template operator()<64 / lanes>(); return true;
        case 80: f.template operator()<80 / lanes>(); return true;
        case 96: f.template operator()<96 / lanes>(); return true;
        case 112: f.template operator()<112 / lanes>(); return true;
        case 128: f.template operator()<128 / lanes>(); return true;
        default: return false;
    }
}

// Portable version: any s. The dot products are plain loops (no `omp simd reduction`: GCC
// lowers a multi-variable simd reduction to scalar adds through the stack, which was the
// measured bottleneck of this pass).
void rank1_pass_generic(const float* G, std::int64_t n, std::int64_t s, const float* w, const float* a,
                        float wscale, const float* v, float* out) {
    for (std::int64_t i = 0; i < n; ++i) {
        const float* g = G + i * s;
        const float c = (a ? a[i] : 0.0f) + wscale * w[i] * dot(g, v, s);
        axpy(c, g, out, s);
    }
}

#if defined(__AVX512F__)
// s a multiple of 16. Four rows at a time: four independent dot products hide each other's
// reduction latency, and out is loaded and stored once per four rows.
void rank1_pass_avx512(const float* G, std::int64_t n, std::int64_t s, const float* w, const float* a,
                       float wscale, const float* v, float* out) {
    std::int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float* g0 = G + i * s;
        const float* g1 = g0 + s;
        const float* g2 = g1 + s;
        const float* g3 = g2 + s;
        __m512 d0 = _mm512_setzero_ps(), d1 = _mm512_setzero_ps(), d2 = _mm512_setzero_ps(), d3 = _mm512_setzero_ps();
        for (std::int64_t j = 0; j < s; j += 16) {
            __m512 vj = _mm512_loadu_ps(v + j);
            d0 = _mm512_fmadd_ps(_mm512_loadu_ps(g0 + j), vj, d0);
            d1 = _mm512_fmadd_ps(_mm512_loadu_ps(g1 + j), vj, d1);
            d2 = _mm512_fmadd_ps(_mm512_loadu_ps(g2 + j), vj, d2);
            d3 = _mm512_fmadd_ps(_mm512_loadu_ps(g3 + j), vj, d3);
        }
        const __m512 c0 = _mm512_set1_ps((a ? a[i] : 0.0f) + wscale * w[i] * _mm512_reduce_add_ps(d0));
        const __m512 c1 = _mm512_set1_ps((a ? a[i + 1] : 0.0f) + wscale * w[i + 1] * _mm512_reduce_add_ps(d1));
        const __m512 c2 = _mm512_set1_ps((a ? a[i + 2] : 0.0f) + wscale * w[i + 2] * _mm512_reduce_add_ps(d2));
        const __m512 c3 = _mm512_set1_ps((a ? a[i + 3] : 0.0f) + wscale * w[i + 3] * _mm512_reduce_add_ps(d3));
        for (std::int64_t j = 0; j < s; j += 16) {
            __m512 o = _mm512_loadu_ps(out + j);
            o = _mm512_fmadd_ps(c0, _mm512_loadu_ps(g0 + j), o);
            o = _mm512_fmadd_ps(c1, _mm512_loadu_ps(g1 + j), o);
            o = _mm512_fmadd_ps(c2, _mm512_loadu_ps(g2 + j), o);
            o = _mm512_fmadd_ps(c3, _mm512_loadu_ps(g3 + j), o);
            _mm512_storeu_ps(out + j, o);
        }
    }
    for (; i < n; ++i) {
        const float* g = G + i * s;
        __m512 d = _mm512_setzero_ps();
        for (std::int64_t j = 0; j < s; j += 16) d = _mm512_fmadd_ps(_mm512_loadu_ps(g + j), _mm512_loadu_ps(v + j), d);
        const __m512 c = _mm512_set1_ps((a ? a[i] : 0.0f) + wscale * w[i] * _mm512_reduce_add_ps(d));
        for (std::int64_t j = 0; j < s; j += 16)
            _mm512_storeu_ps(out + j, _mm512_fmadd_ps(c, _mm512_loadu_ps(g + j), _mm512_loadu_ps(out + j)));
    }
}
#endif

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
// Where a pass reads its rows. Plain: rows of G with weights w and a (a may be null). Gather: rows
// Y[idx[i]], copied to G row i with w and a computed from conf as they go (the first pass of a row,
// which brings its factor rows in from memory).
struct PassRows {
    using Src = float;
    const float* G = nullptr;
    const float* w = nullptr;
    const float* a = nullptr;
};
template <typename T>
struct GatherRowsOf {
    using Src = T;
    const T* Y = nullptr;
    const std::int32_t* idx = nullptr;
    const float* conf = nullptr;
    float* G = nullptr;
    float* w = nullptr;
    float* a = nullptr;
};
using GatherRows = GatherRowsOf<float>;
using GatherHalfRows = GatherRowsOf<std::uint16_t>;

// The pieces of a pass that do not depend on the vector width (shared by the AVX-512 and AVX2
// kernels). Row i's source: Y[idx[i]] for a gather, G row i otherwise (rows of stride s).
template <std::int64_t s, typename Rows>
inline const typename Rows::Src* row_source(const Rows& in, std::int64_t i) {
    if constexpr (std::is_same_v<Rows, PassRows>)
        return in.G + i * s;
    else
        return in.Y + static_cast<std::int64_t>(in.idx[i]) * s;
}

// A gather's look-ahead: starts loading rows i0 + ahead .. i0 + ahead + 3 (those below n) into cache,
// so they have arrived when the group that needs them comes (a row is s values of Rows::Src).
template <std::int64_t s, std::int64_t ahead, typename Rows>
inline void prefetch_group(const Rows& in, std::int64_t i0, std::int64_t n) {
    constexpr int kLines = static_cast<int>((s * sizeof(typename Rows::Src) + 63) / 64);
    const std::int64_t end = std::min(n, i0 + ahead + 4);
    for (std::int64_t i = i0 + ahead; i < end; ++i) {
        const char* p = reinterpret_cast<const char*>(row_source<s>(in, i));
        for (int l = 0; l < kLines; ++l) prefetch_l1(p + 64 * l);
    }
}

// Row i's weights w = |c| - 1 and a = max(c, 0) (a gather computes them from conf and stores them).
template <typename Rows>
inline void row_weights(const Rows& in, std::int64_t i, float& w, float& a) {
    if constexpr (!std::is_same_v<Rows, PassRows>) {
        const float c = in.conf[i];
        w = in.w[i] = std::fabs(c) - 1.0f;
        a = in.a[i] = c > 0.0f ? c : 0.0f;
    } else {
        w = in.w[i];
        a = in.a ? in.a[i] : 0.0f;
    }
}

// Rows i0..i0+3's coefficients a_i + wscale w_i (g_i . v), given their dot products (a gather
// computes w and a from the confidences and stores them).
template <typename Rows>
inline __m128 coefficients4(const Rows& in, std::int64_t i0, __m128 dots, __m128 wscale) {
    __m128 wv, av;
    if constexpr (!std::is_same_v<Rows, PassRows>) {
        const __m128 c = _mm_loadu_ps(in.conf + i0);
        wv = _mm_sub_ps(_mm_andnot_ps(_mm_set1_ps(-0.0f), c), _mm_set1_ps(1.0f));
        av = _mm_max_ps(c, _mm_setzero_ps());
        _mm_storeu_ps(in.w + i0, wv);
        _mm_storeu_ps(in.a + i0, av);
    } else {
        wv = _mm_loadu_ps(in.w + i0);
        av = in.a ? _mm_loadu_ps(in.a + i0) : _mm_setzero_ps();
    }
    return _mm_add_ps(_mm_mul_ps(_mm_mul_ps(wscale, wv), dots), av);
}
#endif

#if defined(__AVX512F__)
using detail::reduce16;

template <typename T>
inline __m512 load16(const T* p) {
    if constexpr (std::is_same_v<T, float>)
        return _mm512_loadu_ps(p);
    else
        return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

// The steps of M v for s = 16 V, shared by symv and the passes that carry M v along: rows r..r+3 of
// M added to o (v1 m1 first, then v0 m0, v2 m2, v3 m3 fused, then added: the order the portable symv
// compiles to, so results are bit-identical to it), and a single row r.
template <int V>
inline void mv_rows4(const float* M, std::int64_t s, const float* v, std::int64_t r, __m512 (&o)[V]) {
    const __m512 v0 = _mm512_set1_ps(v[r]), v1 = _mm512_set1_ps(v[r + 1]), v2 = _mm512_set1_ps(v[r + 2]),
                 v3 = _mm512_set1_ps(v[r + 3]);
    const float* m0 = M + r * s;
    for (int j = 0; j < V; ++j) {
        __m512 t = _mm512_mul_ps(v1, _mm512_loadu_ps(m0 + s + 16 * j));
        t = _mm512_fmadd_ps(v0, _mm512_loadu_ps(m0 + 16 * j), t);
        t = _mm512_fmadd_ps(v2, _mm512_loadu_ps(m0 + 2 * s + 16 * j), t);
        t = _mm512_fmadd_ps(v3, _mm512_loadu_ps(m0 + 3 * s + 16 * j), t);
        o[j] = _mm512_add_ps(o[j], t);
    }
}
template <int V>
inline void mv_row1(const float* M, std::int64_t s, const float* v, std::int64_t r, __m512 (&o)[V]) {
    const __m512 vr = _mm512_set1_ps(v[r]);
    for (int j = 0; j < V; ++j) o[j] = _mm512_fmadd_ps(vr, _mm512_loadu_ps(M + r * s + 16 * j), o[j]);
}

// The pass for s = 16 V (V <= 8), four rows at a time: their four dot products with v are reduced
// together in registers, the four coefficients computed as one 128-bit vector and broadcast by
// in-register permutes, and out stays in registers for the whole pass. Each group adds two partial
// sums to out, so the chain through out is one add per four rows (the FMAs of consecutive groups
// overlap). The last n % 4 rows go one at a time. The gather variant writes exactly n rows of G, w, a.
template <int V, typename Rows>
void pass4_avx512(const Rows& in, std::int64_t n, float wscale, const float* v, float* out, const float* M,
                  std::int64_t k) {
    constexpr bool gather = !std::is_same_v<Rows, PassRows>;
    using Src = typename Rows::Src;
    constexpr std::int64_t s = 16 * V;
    // How far ahead (in rows) the gather asks for its rows: far enough for the misses to overlap,
    // near enough not to queue behind each other.
    constexpr std::int64_t kAhead = 16;
    __m512 vv[V], o[V], mv[V];
    for (int j = 0; j < V; ++j) {
        vv[j] = _mm512_loadu_ps(v + 16 * j);
        o[j] = M ? _mm512_setzero_ps() : _mm512_loadu_ps(out + 16 * j);
        mv[j] = _mm512_setzero_ps();
    }
    const __m128 ws = _mm_set1_ps(wscale);
    // With M: mv = M v, four rows of M per group of rows. These FMAs do not depend on the rows, so
    // they fill the time the pass waits on its loads and reductions.
    std::int64_t mr = 0;
    const std::int64_t k4 = M ? k / 4 * 4 : 0;
    auto m_step = [&] {
        mv_rows4<V>(M, s, v, mr, mv);
        mr += 4;
    };
    auto source = [&](std::int64_t i) { return row_source<s>(in, i); };
    // Transpose-reduce of four rows' partial dot products: lane r = the sum of d[r].
    auto reduce4 = [](const __m512 (&d)[4]) {
        const __m512 t0 = _mm512_add_ps(_mm512_unpacklo_ps(d[0], d[1]), _mm512_unpackhi_ps(d[0], d[1]));
        const __m512 t1 = _mm512_add_ps(_mm512_unpacklo_ps(d[2], d[3]), _mm512_unpackhi_ps(d[2], d[3]));
        const __m512 u = _mm512_add_ps(_mm512_shuffle_ps(t0, t1, 0x44), _mm512_shuffle_ps(t0, t1, 0xEE));
        const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(u), _mm512_extractf32x8_ps(u, 1));
        return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    };
    // Rows i0..i0+3's coefficients a_i + wscale w_i (g_i . v), in the four 128-bit lanes alike (the
    // gather case computes w and a from the confidences and stores them).
    auto coefficients = [&](std::int64_t i0, __m128 dots) {
        return _mm512_broadcast_f32x4(coefficients4(in, i0, dots, ws));
    };
    // o += sum_r c_r f_r over four float rows, as two partial sums.
    auto update4 = [&](const float* const (&f)[4], __m512 cv) {
        const __m512 c0 = _mm512_permute_ps(cv, 0x00), c1 = _mm512_permute_ps(cv, 0x55),
                     c2 = _mm512_permute_ps(cv, 0xAA), c3 = _mm512_permute_ps(cv, 0xFF);
        for (int j = 0; j < V; ++j) {
            __m512 x = _mm512_fmadd_ps(c0, _mm512_loadu_ps(f[0] + 16 * j), o[j]);
            __m512 y = _mm512_mul_ps(c1, _mm512_loadu_ps(f[1] + 16 * j));
            x = _mm512_fmadd_ps(c2, _mm512_loadu_ps(f[2] + 16 * j), x);
            y = _mm512_fmadd_ps(c3, _mm512_loadu_ps(f[3] + 16 * j), y);
            o[j] = _mm512_add_ps(x, y);
        }
    };
    std::int64_t i0 = 0;
    if constexpr (gather) {
        for (; i0 + 4 <= n; i0 += 4) {
            if (mr < k4) m_step();
            prefetch_group<s, kAhead>(in, i0, n);
            const Src* g[4] = {source(i0), source(i0 + 1), source(i0 + 2), source(i0 + 3)};
            __m512 d[4];
            for (int r = 0; r < 4; ++r) {
                __m512 acc = _mm512_setzero_ps();
                for (int j = 0; j < V; ++j) {
                    const __m512 x = load16(g[r] + 16 * j);
                    _mm512_storeu_ps(in.G + (i0 + r) * s + 16 * j, x);
                    acc = _mm512_fmadd_ps(x, vv[j], acc);
                }
                d[r] = acc;
            }
            const __m512 cv = coefficients(i0, reduce4(d));
            const float* const f[4] = {in.G + i0 * s, in.G + (i0 + 1) * s, in.G + (i0 + 2) * s, in.G + (i0 + 3) * s};
            update4(f, cv);  // the rows again, from G (L1, already float)
        }
    } else {
        // Software-pipelined: the next group's dot products are issued before this group's update,
        // so the reductions' latency overlaps independent work, and each row's dot product is two
        // chains of FMAs (measured: ~15% faster per pass from cache). Not done for the gather, where
        // both made the pass slower: there the loads miss, and fewer of them were in flight.
        auto dots4 = [&](std::int64_t i) {
            __m512 d[4];
            for (int r = 0; r < 4; ++r) {
                const float* g = in.G + (i + r) * s;
                __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
                for (int j = 0; j < V; ++j) acc[j & 1] = _mm512_fmadd_ps(_mm512_loadu_ps(g + 16 * j), vv[j], acc[j & 1]);
                d[r] = _mm512_add_ps(acc[0], acc[1]);
            }
            return reduce4(d);
        };
        if (n >= 4) {
            __m128 dots = dots4(0);
            for (; i0 + 4 <= n; i0 += 4) {
                if (mr < k4) m_step();
                const __m512 cv = coefficients(i0, dots);
                if (i0 + 8 <= n) dots = dots4(i0 + 4);
                const float* const f[4] = {in.G + i0 * s, in.G + (i0 + 1) * s, in.G + (i0 + 2) * s,
                                           in.G + (i0 + 3) * s};
                update4(f, cv);
            }
        }
    }
    for (; i0 < n; ++i0) {
        const Src* g = source(i0);
        const float* f = nullptr;
        if constexpr (gather)
            f = in.G + i0 * s;
        else
            f = g;
        __m512 acc = _mm512_setzero_ps();
        for (int j = 0; j < V; ++j) {
            const __m512 x = load16(g + 16 * j);
            if constexpr (gather) _mm512_storeu_ps(in.G + i0 * s + 16 * j, x);
            acc = _mm512_fmadd_ps(x, vv[j], acc);
        }
        float w, a;
        row_weights(in, i0, w, a);
        const __m512 c = _mm512_set1_ps(wscale * w * _mm512_reduce_add_ps(acc) + a);
        for (int j = 0; j < V; ++j) o[j] = _mm512_fmadd_ps(c, _mm512_loadu_ps(f + 16 * j), o[j]);
    }
    if (M) {
        while (mr < k4) m_step();
        for (; mr < k; ++mr) mv_row1<V>(M, s, v, mr, mv);
        const __m512 wsv = _mm512_set1_ps(wscale);
        for (int j = 0; j < V; ++j) o[j] = _mm512_fmadd_ps(wsv, mv[j], o[j]);
    }
    for (int j = 0; j < V; ++j) _mm512_storeu_ps(out + 16 * j, o[j]);
}

// The four-row kernel for s <= 128 (false: not handled here).
template <typename Rows>
bool pass_rows(std::int64_t s, const Rows& in, std::int64_t n, float wscale, const float* v, float* out,
               const float* M, std::int64_t k) {
    return for_stride<16>(s, [&]<int V>() { pass4_avx512<V>(in, n, wscale, v, out, M, k); });
}
#endif

#if defined(__AVX2__) && defined(__FMA__)
float hsum256(__m256 x) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// s a multiple of 8; two rows at a time (AVX2 has half the registers of AVX-512).
void rank1_pass_avx2(const float* G, std::int64_t n, std::int64_t s, const float* w, const float* a,
                     float wscale, const float* v, float* out) {
    std::int64_t i = 0;
    for (; i + 2 <= n; i += 2) {
        const float* g0 = G + i * s;
        const float* g1 = g0 + s;
        __m256 d0 = _mm256_setzero_ps(), d1 = _mm256_setzero_ps();
        for (std::int64_t j = 0; j < s; j += 8) {
            __m256 vj = _mm256_loadu_ps(v + j);
            d0 = _mm256_fmadd_ps(_mm256_loadu_ps(g0 + j), vj, d0);
            d1 = _mm256_fmadd_ps(_mm256_loadu_ps(g1 + j), vj, d1);
        }
        const __m256 c0 = _mm256_set1_ps((a ? a[i] : 0.0f) + wscale * w[i] * hsum256(d0));
        const __m256 c1 = _mm256_set1_ps((a ? a[i + 1] : 0.0f) + wscale * w[i + 1] * hsum256(d1));
        for (std::int64_t j = 0; j < s; j += 8) {
            __m256 o = _mm256_loadu_ps(out + j);
            o = _mm256_fmadd_ps(c0, _mm256_loadu_ps(g0 + j), o);
            o = _mm256_fmadd_ps(c1, _mm256_loadu_ps(g1 + j), o);
            _mm256_storeu_ps(out + j, o);
        }
    }
    for (; i < n; ++i) {
        const float* g = G + i * s;
        __m256 d = _mm256_setzero_ps();
        for (std::int64_t j = 0; j < s; j += 8) d = _mm256_fmadd_ps(_mm256_loadu_ps(g + j), _mm256_loadu_ps(v + j), d);
        const __m256 c = _mm256_set1_ps((a ? a[i] : 0.0f) + wscale * w[i] * hsum256(d));
        for (std::int64_t j = 0; j < s; j += 8)
            _mm256_storeu_ps(out + j, _mm256_fmadd_ps(c, _mm256_loadu_ps(g + j), _mm256_loadu_ps(out + j)));
    }
}

// The AVX2 passes for s = 8 V (s a multiple of 16 up to 128; AVX-512 builds use pass4_avx512).
// AVX2 has 16 vector registers, too few to keep a row, v and out all resident at s = 64.
template <typename T>
inline __m256 load8(const T* p) {
    if constexpr (std::is_same_v<T, float>)
        return _mm256_loadu_ps(p);
    else
        return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

template <int V>
void symv_avx2(const float* M, std::int64_t k, std::int64_t s, const float* v, float scale_by, float* out) {
    __m256 o[V];
    for (int j = 0; j < V; ++j) o[j] = _mm256_setzero_ps();
    std::int64_t r = 0;
    for (; r + 4 <= k; r += 4) {
        const __m256 v0 = _mm256_set1_ps(v[r]), v1 = _mm256_set1_ps(v[r + 1]), v2 = _mm256_set1_ps(v[r + 2]),
                     v3 = _mm256_set1_ps(v[r + 3]);
        const float* m0 = M + r * s;
        for (int j = 0; j < V; ++j) {
            __m256 t = _mm256_mul_ps(v1, _mm256_loadu_ps(m0 + s + 8 * j));
            t = _mm256_fmadd_ps(v0, _mm256_loadu_ps(m0 + 8 * j), t);
            t = _mm256_fmadd_ps(v2, _mm256_loadu_ps(m0 + 2 * s + 8 * j), t);
            t = _mm256_fmadd_ps(v3, _mm256_loadu_ps(m0 + 3 * s + 8 * j), t);
            o[j] = _mm256_add_ps(o[j], t);
        }
    }
    for (; r < k; ++r) {
        const __m256 vr = _mm256_set1_ps(v[r]);
        for (int j = 0; j < V; ++j) o[j] = _mm256_fmadd_ps(vr, _mm256_loadu_ps(M + r * s + 8 * j), o[j]);
    }
    const __m256 sc = _mm256_set1_ps(scale_by);
    for (int j = 0; j < V; ++j) _mm256_storeu_ps(out + 8 * j, _mm256_mul_ps(sc, o[j]));
}

// Lane r of the result: the sum of d[r]'s lanes (four rows' partial dot products reduced at once).
inline __m128 reduce4_avx2(const __m256 (&d)[4]) {
    const __m256 t0 = _mm256_add_ps(_mm256_unpacklo_ps(d[0], d[1]), _mm256_unpackhi_ps(d[0], d[1]));
    const __m256 t1 = _mm256_add_ps(_mm256_unpacklo_ps(d[2], d[3]), _mm256_unpackhi_ps(d[2], d[3]));
    const __m256 u = _mm256_add_ps(_mm256_shuffle_ps(t0, t1, 0x44), _mm256_shuffle_ps(t0, t1, 0xEE));
    return _mm_add_ps(_mm256_castps256_ps128(u), _mm256_extractf128_ps(u, 1));
}

// The gather pass (a row's first): four rows at a time, each converted to float and stored to G as
// it is loaded, the four dot products reduced together in registers, then the four rows added to
// out (in L1) from G as one sum (one add in the chain through out per group). It asks for the rows
// kAhead rows ahead. A two-phase form like pass2_avx2's was no faster here: the loads miss, and
// the second phase's rows come from G anyway.
template <int V, typename Rows>
void gather_pass4_avx2(const Rows& in, std::int64_t n, float wscale, const float* v, float* out, const float* M,
                       std::int64_t k) {
    static_assert(!std::is_same_v<Rows, PassRows>);
    using Src = typename Rows::Src;
    constexpr std::int64_t s = 8 * V;
    constexpr std::int64_t kAhead = 16;
    if (M) symv_avx2<V>(M, k, s, v, wscale, out);
    auto source = [&](std::int64_t i) { return row_source<s>(in, i); };
    const __m128 ws = _mm_set1_ps(wscale);
    auto coefficients = [&](std::int64_t i0, __m128 dots) {
        const __m128 c = coefficients4(in, i0, dots, ws);
        return _mm256_insertf128_ps(_mm256_castps128_ps256(c), c, 1);
    };
    // out += (c0 f0 + c1 f1) + (c2 f2 + c3 f3) over four float rows.
    auto update4 = [&](const float* const (&f)[4], __m256 cv) {
        const __m256 c0 = _mm256_permute_ps(cv, 0x00), c1 = _mm256_permute_ps(cv, 0x55),
                     c2 = _mm256_permute_ps(cv, 0xAA), c3 = _mm256_permute_ps(cv, 0xFF);
        for (int j = 0; j < V; ++j) {
            __m256 x = _mm256_mul_ps(c0, _mm256_loadu_ps(f[0] + 8 * j));
            __m256 y = _mm256_mul_ps(c2, _mm256_loadu_ps(f[2] + 8 * j));
            x = _mm256_fmadd_ps(c1, _mm256_loadu_ps(f[1] + 8 * j), x);
            y = _mm256_fmadd_ps(c3, _mm256_loadu_ps(f[3] + 8 * j), y);
            _mm256_storeu_ps(out + 8 * j, _mm256_add_ps(_mm256_loadu_ps(out + 8 * j), _mm256_add_ps(x, y)));
        }
    };
    std::int64_t i0 = 0;
    for (; i0 + 4 <= n; i0 += 4) {
        prefetch_group<s, kAhead>(in, i0, n);
        const Src* g[4] = {source(i0), source(i0 + 1), source(i0 + 2), source(i0 + 3)};
        __m256 d[4];
        for (int r = 0; r < 4; ++r) {
            __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
            for (int j = 0; j < V; ++j) {
                const __m256 x = load8(g[r] + 8 * j);
                _mm256_storeu_ps(in.G + (i0 + r) * s + 8 * j, x);
                acc[j & 1] = _mm256_fmadd_ps(x, _mm256_loadu_ps(v + 8 * j), acc[j & 1]);
            }
            d[r] = _mm256_add_ps(acc[0], acc[1]);
        }
        const __m256 cv = coefficients(i0, reduce4_avx2(d));
        const float* const f[4] = {in.G + i0 * s, in.G + (i0 + 1) * s, in.G + (i0 + 2) * s, in.G + (i0 + 3) * s};
        update4(f, cv);
    }
    for (; i0 < n; ++i0) {
        const Src* g = source(i0);
        const float* f = in.G + i0 * s;
        __m256 acc = _mm256_setzero_ps();
        for (int j = 0; j < V; ++j) {
            const __m256 x = load8(g + 8 * j);
            _mm256_storeu_ps(in.G + i0 * s + 8 * j, x);
            acc = _mm256_fmadd_ps(x, _mm256_loadu_ps(v + 8 * j), acc);
        }
        float w, a;
        row_weights(in, i0, w, a);
        const __m256 c = _mm256_set1_ps(wscale * w * hsum256(acc) + a);
        for (int j = 0; j < V; ++j)
            _mm256_storeu_ps(out + 8 * j, _mm256_fmadd_ps(c, _mm256_loadu_ps(f + 8 * j), _mm256_loadu_ps(out + 8 * j)));
    }
}

// The later passes (rows already in G), in two phases over chunks of kChunk rows (16 KB at s = 64,
// so a chunk is still in L1 for its second phase). Phase 1: four rows' dot products with v at a
// time (v in registers where it fits), their coefficients written to a small array. Phase 2: out +=
// sum_i c_i g_i with out in registers, eight vectors at a time, two rows per add into out. Each phase
// reads a row once, so a row costs 2 V loads for its 2 V FMAs, where a one-phase kernel like the
// gather's also reloads v and out (measured at s = 64, 50 rows in L1: 3.6 against 4.5 ns per row).
template <int V>
void pass2_avx2(const PassRows& in, std::int64_t n, float wscale, const float* v, float* out, const float* M,
                std::int64_t k) {
    constexpr std::int64_t s = 8 * V;
    constexpr std::int64_t kChunk = 64;
    constexpr int kVb = V <= 8 ? V : V / 2;  // out vectors held in registers at once in phase 2 (divides V)
    static_assert(V % 2 == 0 && kVb <= 8);
    if (M) symv_avx2<V>(M, k, s, v, wscale, out);
    const __m128 ws = _mm_set1_ps(wscale);
    __m256 vv[V];
    for (int j = 0; j < V; ++j) vv[j] = _mm256_loadu_ps(v + 8 * j);
    alignas(16) float coef[kChunk];
    for (std::int64_t c0 = 0; c0 < n; c0 += kChunk) {
        const std::int64_t m = std::min(kChunk, n - c0);
        const float* F = in.G + c0 * s;
        // Phase 1. Two chains of FMAs per row: the reductions' latency hides behind other rows.
        auto dot = [&](const float* g) {
            __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
            for (int j = 0; j < V; ++j) acc[j & 1] = _mm256_fmadd_ps(_mm256_loadu_ps(g + 8 * j), vv[j], acc[j & 1]);
            return _mm256_add_ps(acc[0], acc[1]);
        };
        std::int64_t i = 0;
        for (; i + 4 <= m; i += 4) {
            const __m256 d[4] = {dot(F + i * s), dot(F + (i + 1) * s), dot(F + (i + 2) * s), dot(F + (i + 3) * s)};
            _mm_store_ps(coef + i, coefficients4(in, c0 + i, reduce4_avx2(d), ws));
        }
        for (; i < m; ++i) {
            float w, a;
            row_weights(in, c0 + i, w, a);
            coef[i] = wscale * w * hsum256(dot(F + i * s)) + a;
        }
        // Phase 2.
        for (int jb = 0; jb < V; jb += kVb) {
            __m256 o[kVb];
            for (int j = 0; j < kVb; ++j) o[j] = _mm256_loadu_ps(out + 8 * (jb + j));
            std::int64_t r = 0;
            for (; r + 2 <= m; r += 2) {
                const __m256 ca = _mm256_broadcast_ss(coef + r), cb = _mm256_broadcast_ss(coef + r + 1);
                const float* fa = F + r * s + 8 * jb;
                const float* fb = fa + s;
                for (int j = 0; j < kVb; ++j)
                    o[j] = _mm256_add_ps(o[j], _mm256_fmadd_ps(cb, _mm256_loadu_ps(fb + 8 * j),
                                                               _mm256_mul_ps(ca, _mm256_loadu_ps(fa + 8 * j))));
            }
            if (r < m) {
                const __m256 ca = _mm256_broadcast_ss(coef + r);
                const float* fa = F + r * s + 8 * jb;
                for (int j = 0; j < kVb; ++j) o[j] = _mm256_fmadd_ps(ca, _mm256_loadu_ps(fa + 8 * j), o[j]);
            }
            for (int j = 0; j < kVb; ++j) _mm256_storeu_ps(out + 8 * (jb + j), o[j]);
        }
    }
}

// The AVX2 kernels for s <= 128: the gather's or the later passes' (false: not handled here).
template <int V, typename Rows>
void pass_avx2(const Rows& in, std::int64_t n, float wscale, const float* v, float* out, const float* M,
               std::int64_t k) {
    if constexpr (std::is_same_v<Rows, PassRows>)
        pass2_avx2<V>(in, n, wscale, v, out, M, k);
    else
        gather_pass4_avx2<V>(in, n, wscale, v, out, M, k);
}

template <typename Rows>
bool pass_rows_avx2(std::int64_t s, const Rows& in, std::int64_t n, float wscale, const float* v, float* out,
                    const float* M, std::int64_t k) {
#if defined(__F16C__)
    constexpr bool converts = true;
#else
    constexpr bool converts = false;  // half rows need F16C's conversions
#endif
    if constexpr (!converts && std::is_same_v<typename Rows::Src, std::uint16_t>) {
        return false;
    } else {
        return for_stride<8>(s, [&]<int V>() { pass_avx2<V>(in, n, wscale, v, out, M, k); });
    }
}
#endif

}  // namespace

namespace {
// out = wscale * M v (the unfused start of a pass given M).
void start_with_mv(const float* M, std::int64_t k, std::int64_t s, float wscale, const float* v, float* out) {
    symv(M, k, s, v, out);
    scale(wscale, out, s);
}
}  // namespace

void weighted_rank1_pass(const float* G, std::int64_t n, std::int64_t s, const float* w, const float* a,
                         float wscale, const float* v, float* out, const float* M, std::int64_t k) {
#if defined(__AVX512F__)
    if (pass_rows(s, PassRows{G, w, a}, n, wscale, v, out, M, k)) return;
#elif defined(__AVX2__) && defined(__FMA__)
    if (pass_rows_avx2(s, PassRows{G, w, a}, n, wscale, v, out, M, k)) return;
#endif
    if (M) start_with_mv(M, k, s, wscale, v, out);
#if defined(__AVX512F__)
    if (s % 16 == 0) return rank1_pass_avx512(G, n, s, w, a, wscale, v, out);
#endif
#if defined(__AVX2__) && defined(__FMA__)
    if (s % 8 == 0) return rank1_pass_avx2(G, n, s, w, a, wscale, v, out);
#endif
    rank1_pass_generic(G, n, s, w, a, wscale, v, out);
}

void gather_rank1_pass(const float* src, std::int64_t s, const std::int32_t* idx, const float* conf, std::int64_t n,
                       float* G, float* w, float* a, float wscale, const float* v, float* out, const float* M,
                       std::int64_t k) {
#if defined(__AVX512F__)
    if (pass_rows(s, GatherRows{src, idx, conf, G, w, a}, n, wscale, v, out, M, k)) return;
#elif defined(__AVX2__) && defined(__FMA__)
    if (pass_rows_avx2(s, GatherRows{src, idx, conf, G, w, a}, n, wscale, v, out, M, k)) return;
#endif
    gather_rows_weighted(src, s, idx, conf, n, G, w, a, nullptr);
    weighted_rank1_pass(G, n, s, w, a, wscale, v, out, M, k);
}

void gather_rank1_pass_half(const std::uint16_t* src, std::int64_t s, const std::int32_t* idx, const float* conf,
                            std::int64_t n, float* G, float* w, float* a, float wscale, const float* v, float* out,
                            const float* M, std::int64_t k) {
#if defined(__AVX512F__)
    if (pass_rows(s, GatherHalfRows{src, idx, conf, G, w, a}, n, wscale, v, out, M, k)) return;
#elif defined(__AVX2__) && defined(__FMA__)
    if (pass_rows_avx2(s, GatherHalfRows{src, idx, conf, G, w, a}, n, wscale, v, out, M, k)) return;
#endif
    gather_rows_weighted(src, s, idx, conf, n, G, w, a, nullptr);
    weighted_rank1_pass(G, n, s, w, a, wscale, v, out, M, k);
}

bool weighted_rank1_pass_is_simd(std::int64_t s) {
#if defined(__AVX512F__)
    if (s % 16 == 0) return true;
#endif
#if defined(__AVX2__) && defined(__FMA__)
    if (s % 8 == 0) return true;
#endif
    (void)s;
    return false;
}

#if defined(__AVX512F__)
namespace {
// s = 16 V: the output in registers for the whole product, one pass over M's k rows, four rows at a
// time (mv_rows4: bit-identical to the portable loop below and to earlier versions of encore).
template <int V>
void symv_avx512(const float* M, std::int64_t k, std::int64_t s, const float* v, float* out) {
    __m512 o[V];
    for (int j = 0; j < V; ++j) o[j] = _mm512_setzero_ps();
    std::int64_t r = 0;
    for (; r + 4 <= k; r += 4) mv_rows4<V>(M, s, v, r, o);
    for (; r < k; ++r) mv_row1<V>(M, s, v, r, o);
    for (int j = 0; j < V; ++j) _mm512_storeu_ps(out + 16 * j, o[j]);
}
}  // namespace
#endif

void symv(const float* M, std::int64_t k, std::int64_t s, const float* v, float* out) {
#if defined(__AVX512F__)
    if (for_stride<16>(s, [&]<int V>() { symv_avx512<V>(M, k, s, v, out); })) return;
#endif
    for (std::int64_t j = 0; j < s; ++j) out[j] = 0.0f;
    std::int64_t r = 0;
    for (; r + 4 <= k; r += 4) {
        const float* m0 = M + r * s;
        const float* m1 = m0 + s;
        const float* m2 = m1 + s;
        const float* m3 = m2 + s;
        const float v0 = v[r], v1 = v[r + 1], v2 = v[r + 2], v3 = v[r + 3];
#pragma omp simd
        for (std::int64_t j = 0; j < s; ++j) out[j] += v0 * m0[j] + v1 * m1[j] + v2 * m2[j] + v3 * m3[j];
    }
    for (; r < k; ++r) axpy(v[r], M + r * s, out, s);
}

// ---- Cholesky solver kernels ----

namespace {

void syrk_generic(const float* G, std::int64_t n, std::int64_t k, std::int64_t s, const float* w, float* A,
                  const float* C) {
    if (C && C != A)
        for (std::int64_t r = 0; r < k; ++r) copy(C + r * s + r, A + r * s + r, k - r);
    for (std::int64_t i = 0; i < n; ++i) {
        const float* g = G + i * s;
        if (w[i] == 0.0f) continue;  // most plays have confidence 1: nothing to add
        for (std::int64_t r = 0; r < k; ++r) axpy(w[i] * g[r], g + r, A + r * s + r, k - r);
    }
}

#if defined(__AVX512F__)
// R rows of A (from r0) times V 16-column blocks (from column c0), held in registers over all n rows
// of G: per row of G, V loads and multiplies by w_i, then R x V FMAs with g_i[r0 + r] broadcast.
template <int R, int V>
void syrk_tile_avx512(const float* G, std::int64_t n, std::int64_t s, const float* w, float* A, const float* C,
                      std::int64_t r0, std::int64_t c0) {
    __m512 acc[R][V];
    for (int r = 0; r < R; ++r)
        for (int v = 0; v < V; ++v) acc[r][v] = _mm512_loadu_ps(C + (r0 + r) * s + c0 + 16 * v);
    for (std::int64_t i = 0; i < n; ++i) {
        const float* g = G + i * s;
        const __m512 wi = _mm512_set1_ps(w[i]);
        __m512 y[V];
        for (int v = 0; v < V; ++v) y[v] = _mm512_mul_ps(wi, _mm512_loadu_ps(g + c0 + 16 * v));
        for (int r = 0; r < R; ++r) {
            const __m512 b = _mm512_set1_ps(g[r0 + r]);
            for (int v = 0; v < V; ++v) acc[r][v] = _mm512_fmadd_ps(b, y[v], acc[r][v]);
        }
    }
    for (int r = 0; r < R; ++r)
        for (int v = 0; v < V; ++v) _mm512_storeu_ps(A + (r0 + r) * s + c0 + 16 * v, acc[r][v]);
}

template <int V>
void syrk_rows_avx512(const float* G, std::int64_t n, std::int64_t s, const float* w, float* A, const float* C,
                      std::int64_t r0, std::int64_t rows, std::int64_t c0) {
    switch (rows) {
        case 1: return syrk_tile_avx512<1, V>(G, n, s, w, A, C, r0, c0);
        case 2: return syrk_tile_avx512<2, V>(G, n, s, w, A, C, r0, c0);
        case 3: return syrk_tile_avx512<3, V>(G, n, s, w, A, C, r0, c0);
        case 4: if constexpr (V <= 4) return syrk_tile_avx512<4, V>(G, n, s, w, A, C, r0, c0); break;
        case 5: if constexpr (V <= 4) return syrk_tile_avx512<5, V>(G, n, s, w, A, C, r0, c0); break;
        case 6: if constexpr (V <= 4) return syrk_tile_avx512<6, V>(G, n, s, w, A, C, r0, c0); break;
        default: break;
    }
}

bool syrk_avx512(const float* G, std::int64_t n, std::int64_t k, std::int64_t s, const float* w, float* A,
                 const float* C) {
    if (s % 16 != 0 || s > 128) return false;
    if (!C) C = A;
    const std::int64_t blocks = (k + 15) / 16;
    for (std::int64_t r0 = 0; r0 < k;) {
        // From the block holding the tile's first diagonal entry to the last block with a column < k;
        // six rows while the tile fits the 32 registers with room for the loaded row, three beyond.
        const std::int64_t first = r0 / 16, V = blocks - first;
        const std::int64_t rows = std::min<std::int64_t>(k - r0, V <= 4 ? 6 : 3);
        const std::int64_t c0 = first * 16;
        switch (V) {
            case 1: syrk_rows_avx512<1>(G, n, s, w, A, C, r0, rows, c0); break;
            case 2: syrk_rows_avx512<2>(G, n, s, w, A, C, r0, rows, c0); break;
            case 3: syrk_rows_avx512<3>(G, n, s, w, A, C, r0, rows, c0); break;
            case 4: syrk_rows_avx512<4>(G, n, s, w, A, C, r0, rows, c0); break;
            case 5: syrk_rows_avx512<5>(G, n, s, w, A, C, r0, rows, c0); break;
            case 6: syrk_rows_avx512<6>(G, n, s, w, A, C, r0, rows, c0); break;
            case 7: syrk_rows_avx512<7>(G, n, s, w, A, C, r0, rows, c0); break;
            default: syrk_rows_avx512<8>(G, n, s, w, A, C, r0, rows, c0); break;
        }
        r0 += rows;
    }
    return true;
}
#endif

#if defined(__AVX2__) && defined(__FMA__) && !defined(__AVX512F__)
// AVX2 (16 registers): tiles of R <= 4 rows of A by V <= 3 eight-column blocks in registers over a
// chunk of G's rows, whose weighted copy H = w_i g_i (computed once per chunk, not once per tile)
// supplies the blocks: per row of G, V loads, R broadcasts and R V FMAs (no multiplies).
constexpr std::int64_t kSyrkChunk = 32;

template <int R, int V>
void syrk_tile_avx2(const float* G, const float* H, std::int64_t n, std::int64_t s, float* A, const float* C,
                    std::int64_t r0, std::int64_t c0) {
    __m256 acc[R][V];
    for (int r = 0; r < R; ++r)
        for (int v = 0; v < V; ++v) acc[r][v] = _mm256_loadu_ps(C + (r0 + r) * s + c0 + 8 * v);
    for (std::int64_t i = 0; i < n; ++i) {
        const float* g = G + i * s;
        const float* h = H + i * s;
        __m256 y[V];
        for (int v = 0; v < V; ++v) y[v] = _mm256_loadu_ps(h + c0 + 8 * v);
        for (int r = 0; r < R; ++r) {
            const __m256 b = _mm256_broadcast_ss(g + r0 + r);
            for (int v = 0; v < V; ++v) acc[r][v] = _mm256_fmadd_ps(b, y[v], acc[r][v]);
        }
    }
    for (int r = 0; r < R; ++r)
        for (int v = 0; v < V; ++v) _mm256_storeu_ps(A + (r0 + r) * s + c0 + 8 * v, acc[r][v]);
}

template <int R>
void syrk_cols_avx2(const float* G, const float* H, std::int64_t n, std::int64_t s, float* A, const float* C,
                    std::int64_t r0, std::int64_t c0, std::int64_t blocks) {
    switch (blocks) {
        case 1: return syrk_tile_avx2<R, 1>(G, H, n, s, A, C, r0, c0);
        case 2: return syrk_tile_avx2<R, 2>(G, H, n, s, A, C, r0, c0);
        default: return syrk_tile_avx2<R, 3>(G, H, n, s, A, C, r0, c0);
    }
}

// Upper triangle (plus the lanes left of the diagonal in its block, as the AVX-512 kernel): rows in
// fours, each from the 8-column block holding its first diagonal entry to column k, three blocks a
// tile, G in chunks of kSyrkChunk rows (s <= 128: the weighted chunk is 16 KB on the stack).
bool syrk_avx2(const float* G, std::int64_t n, std::int64_t k, std::int64_t s, const float* w, float* A,
               const float* C) {
    if (s % 8 != 0 || s > 128) return false;
    if (!C) C = A;
    alignas(32) float H[kSyrkChunk * 128];
    const std::int64_t end = (k + 7) / 8 * 8;
    std::int64_t i0 = 0;
    do {  // at least once: with no rows, A = C
        const std::int64_t m = std::min(kSyrkChunk, n - i0);
        for (std::int64_t i = 0; i < m; ++i) {
            const __m256 wi = _mm256_set1_ps(w[i0 + i]);
            for (std::int64_t j = 0; j < end; j += 8)
                _mm256_store_ps(H + i * s + j, _mm256_mul_ps(wi, _mm256_loadu_ps(G + (i0 + i) * s + j)));
        }
        for (std::int64_t r0 = 0; r0 < k; r0 += 4) {
            const std::int64_t rows = std::min<std::int64_t>(k - r0, 4);
            for (std::int64_t c0 = r0 / 8 * 8; c0 < end; c0 += 24) {
                const std::int64_t blocks = std::min<std::int64_t>((end - c0) / 8, 3);
                const float* g = G + i0 * s;
                switch (rows) {
                    case 1: syrk_cols_avx2<1>(g, H, m, s, A, C, r0, c0, blocks); break;
                    case 2: syrk_cols_avx2<2>(g, H, m, s, A, C, r0, c0, blocks); break;
                    case 3: syrk_cols_avx2<3>(g, H, m, s, A, C, r0, c0, blocks); break;
                    default: syrk_cols_avx2<4>(g, H, m, s, A, C, r0, c0, blocks); break;
                }
            }
        }
        C = A;  // later chunks add to what the first wrote
        i0 += m;
    } while (i0 < n);
    return true;
}
#endif

// The row operations of the factorisation. `wide`: s is a multiple of 16 and rows may be processed
// in whole 16-float blocks, from the block holding `begin` to the end of the row's block holding
// k - 1 (the extra lanes are below the diagonal or padding: never read).
#if defined(__AVX512F__)
constexpr bool kWideRows = true;
#else
constexpr bool kWideRows = false;
#endif

// Rows r in [from, to) of A, columns [r, k): A[r][j] -= sum_q R[q][r] R[q][j] (the rank-4 update
// by a block's four rows of U). Wide: column block by column block, the four rows' vectors loaded
// once per block and every row reaching that block updated with them (four FMAs per loaded vector).
inline void trailing_rank4(float* A, std::int64_t s, float* const (&R)[4], std::int64_t from, std::int64_t to,
                           std::int64_t k, bool wide) {
#if defined(__AVX512F__)
    if (wide) {
        for (std::int64_t j = from & ~std::int64_t{15}; j < k; j += 16) {
            const __m512 p0 = _mm512_loadu_ps(R[0] + j), p1 = _mm512_loadu_ps(R[1] + j), p2 = _mm512_loadu_ps(R[2] + j),
                         p3 = _mm512_loadu_ps(R[3] + j);
            const std::int64_t last = std::min(to, j + 16);  // row r's columns start in block r & ~15
            for (std::int64_t r = from; r < last; ++r) {
                float* a = A + r * s + j;
                __m512 v = _mm512_loadu_ps(a);
                v = _mm512_fnmadd_ps(_mm512_set1_ps(R[0][r]), p0, v);
                v = _mm512_fnmadd_ps(_mm512_set1_ps(R[1][r]), p1, v);
                v = _mm512_fnmadd_ps(_mm512_set1_ps(R[2][r]), p2, v);
                v = _mm512_fnmadd_ps(_mm512_set1_ps(R[3][r]), p3, v);
                _mm512_storeu_ps(a, v);
            }
        }
        return;
    }
#endif
    (void)wide;
    for (std::int64_t r = from; r < to; ++r) {
        float* a = A + r * s;
        const float l0 = R[0][r], l1 = R[1][r], l2 = R[2][r], l3 = R[3][r];
#pragma omp simd
        for (std::int64_t j = r; j < k; ++j) a[j] -= l0 * R[0][j] + l1 * R[1][j] + l2 * R[2][j] + l3 * R[3][j];
    }
}

// sum of a[j] x[j] over j in [begin, end) exactly (masked: the lanes outside may hold anything).
inline float row_dot(const float* a, const float* x, std::int64_t begin, std::int64_t end, bool wide) {
#if defined(__AVX512F__)
    if (wide) {
        __m512 acc = _mm512_setzero_ps();
        for (std::int64_t j = begin & ~std::int64_t{15}; j < end; j += 16) {
            const std::int64_t lo = std::max<std::int64_t>(begin - j, 0), hi = std::min<std::int64_t>(end - j, 16);
            const auto mask = static_cast<__mmask16>(((1u << hi) - 1) & ~((1u << lo) - 1));
            acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, a + j), _mm512_maskz_loadu_ps(mask, x + j), acc);
        }
        return _mm512_reduce_add_ps(acc);
    }
#endif
    (void)wide;
    return dot(a + begin, x + begin, end - begin);
}

}  // namespace

void weighted_syrk(const float* G, std::int64_t n, std::int64_t k, std::int64_t s, const float* w, float* A,
                   const float* C) {
#if defined(__AVX512F__)
    if (syrk_avx512(G, n, k, s, w, A, C)) return;
#elif defined(__AVX2__) && defined(__FMA__)
    if (syrk_avx2(G, n, k, s, w, A, C)) return;
#endif
    syrk_generic(G, n, k, s, w, A, C);
}

void weighted_sum(const float* G, std::int64_t n, std::int64_t s, const float* a, float* out) {
    for (std::int64_t i = 0; i < n; ++i)
        if (a[i] != 0.0f) axpy(a[i], G + i * s, out, s);
}

namespace {

// 1 / sqrt(d) for d > 0: the hardware estimate refined by one Newton step (a few ulps), a shorter
// dependency chain than a square root followed by a division; the pivots form the factorisation's
// critical path.
inline float inverse_sqrt(float d) {
#if defined(__AVX512F__)
    const __m128 dv = _mm_set_ss(d);
    const __m128 r = _mm_rsqrt14_ss(dv, dv);
    // r (1.5 - 0.5 d r^2)
    const __m128 h = _mm_mul_ss(_mm_mul_ss(_mm_set_ss(0.5f), dv), _mm_mul_ss(r, r));
    return _mm_cvtss_f32(_mm_mul_ss(r, _mm_sub_ss(_mm_set_ss(1.5f), h)));
#else
    return 1.0f / std::sqrt(d);
#endif
}

// The 4 x 4 (nb x nb) diagonal block of U at rows/columns c0..: scalar Cholesky of the block as the
// earlier blocks left it; u[p][q] (p < q) and inv[q] = 1 / u[q][q] are written to the caller's
// arrays and the block's entries of A, where the diagonal gets inv[q] (all the back substitution
// needs of it: it multiplies instead of dividing). False when a pivot is not positive.
inline bool factor_diagonal_block(float* A, std::int64_t s, std::int64_t c0, int nb, float (&u)[4][4], float (&inv)[4]) {
    for (int q = 0; q < nb; ++q) {
        const float* row = A + (c0 + q) * s + c0;
        for (int q2 = q; q2 < nb; ++q2) u[q][q2] = row[q2];
    }
    for (int q = 0; q < nb; ++q) {
        float d = u[q][q];
        for (int p = 0; p < q; ++p) d -= u[p][q] * u[p][q];
        if (!(d > 0.0f) || !std::isfinite(d)) return false;
        inv[q] = inverse_sqrt(d);
        u[q][q] = inv[q];  // stored in A's diagonal (the value of u_qq itself is never needed again)
        for (int q2 = q + 1; q2 < nb; ++q2) {
            float v = u[q][q2];
            for (int p = 0; p < q; ++p) v -= u[p][q] * u[p][q2];
            u[q][q2] = v * inv[q];
        }
    }
    for (int q = 0; q < nb; ++q) {
        float* row = A + (c0 + q) * s + c0;
        for (int q2 = q; q2 < nb; ++q2) row[q2] = u[q][q2];
    }
    return true;
}

// The block's rows right of the diagonal block, columns [begin, k): row_q = (row_q - sum_{p<q}
// u[p][q] row_p) / u[q][q], all rows of a 16-column block at once.
inline void factor_panel(float* const (&R)[4], int nb, const float (&u)[4][4], const float (&inv)[4], std::int64_t begin,
                         std::int64_t k, bool wide) {
#if defined(__AVX512F__)
    if (wide) {
        std::int64_t j = begin & ~std::int64_t{15};
        // The first block may start inside the diagonal block: those lanes are kept.
        auto mask = static_cast<__mmask16>(0xFFFFu << (begin - j));
        for (; j < k; j += 16, mask = 0xFFFF) {
            __m512 v[4];
            for (int q = 0; q < nb; ++q) {
                v[q] = _mm512_loadu_ps(R[q] + j);
                for (int p = 0; p < q; ++p) v[q] = _mm512_fnmadd_ps(_mm512_set1_ps(u[p][q]), v[p], v[q]);
                v[q] = _mm512_mul_ps(v[q], _mm512_set1_ps(inv[q]));
                _mm512_mask_storeu_ps(R[q] + j, mask, v[q]);
            }
        }
        return;
    }
#endif
    (void)wide;
    for (int q = 0; q < nb; ++q) {
        for (int p = 0; p < q; ++p) axpy(-u[p][q], R[p] + begin, R[q] + begin, k - begin);
        scale(inv[q], R[q] + begin, k - begin);
    }
}

}  // namespace

bool cholesky_solve(float* A, std::int64_t k, std::int64_t s, float* b, float* x) {
    // Right-looking, four rows of U at a time. For each block: its 4 x 4 diagonal block (scalar),
    // its rows right of it (vector, one pass), b's four entries (the forward substitution), then the
    // rank-4 update of every later row (four FMAs per loaded vector) and of b. The next block's rows
    // are updated first and its diagonal block factored right away, so that short serial chain
    // (square roots, divisions) overlaps the vector work on the remaining rows. All accesses are rows.
    const bool wide = kWideRows && s % 16 == 0;
    float u[4][4] = {}, inv[4] = {};
    if (k > 0 && !factor_diagonal_block(A, s, 0, static_cast<int>(std::min<std::int64_t>(4, k)), u, inv)) return false;
    for (std::int64_t c0 = 0; c0 < k; c0 += 4) {
        const int nb = static_cast<int>(std::min<std::int64_t>(4, k - c0));
        const std::int64_t next = c0 + nb;
        float* R[4];
        for (int q = 0; q < 4; ++q) R[q] = A + std::min<std::int64_t>(c0 + q, k - 1) * s;
        if (next < k) factor_panel(R, nb, u, inv, next, k, wide);
        float y[4] = {};
        for (int q = 0; q < nb; ++q) {
            float v = b[c0 + q];
            for (int p = 0; p < q; ++p) v -= u[p][q] * y[p];
            y[q] = b[c0 + q] = v * inv[q];
        }
        if (next >= k) break;
        // nb is 4 here (only the last block can be short, and it has no later rows).
        auto update_rows = [&](std::int64_t from, std::int64_t to) { trailing_rank4(A, s, R, from, to, k, wide); };
        const std::int64_t lookahead = std::min<std::int64_t>(next + 4, k);
        update_rows(next, lookahead);
        const bool ok = factor_diagonal_block(A, s, next, static_cast<int>(lookahead - next), u, inv);
        update_rows(lookahead, k);
        for (std::int64_t j = next; j < k; ++j) b[j] -= R[0][j] * y[0] + R[1][j] * y[1] + R[2][j] * y[2] + R[3][j] * y[3];
        if (!ok) return false;
    }
    // b now holds y = U^-T b (and A's diagonal 1 / u_rr); back substitution U x = y, four rows at a time from the last: their
    // dot products with the x already known are independent, then a 4 x 4 triangle.
    for (std::int64_t r0 = (k - 1) / 4 * 4; r0 >= 0; r0 -= 4) {
        const int m = static_cast<int>(std::min<std::int64_t>(4, k - r0));
        const std::int64_t e = r0 + m;
        float t[4];
        for (int q = 0; q < m; ++q) t[q] = b[r0 + q] - (e < k ? row_dot(A + (r0 + q) * s, x, e, k, wide) : 0.0f);
        for (int q = m - 1; q >= 0; --q) {
            const float* row = A + (r0 + q) * s;
            float v = t[q];
            for (int q2 = q + 1; q2 < m; ++q2) v -= row[r0 + q2] * x[r0 + q2];
            x[r0 + q] = v * row[r0 + q];  // the diagonal holds 1 / u_qq
        }
    }
    return true;
}

namespace {

#if defined(__AVX512F__)
// The 16 x 16 transpose of v (in place): afterwards lane l of v[t] = old lane t of v[l].
// GCC 12's unpack/shuffle intrinsics start from an "undefined" vector that its -Wuninitialized
// flags when inlined (GCC bug 105593, fixed in 13): silenced here only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
inline void transpose16(__m512 (&v)[16]) {
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(v[i], v[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(v[i], v[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        const __m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]), c = _mm512_castps_pd(t[i + 2]),
                      d = _mm512_castps_pd(t[i + 3]);
        v[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        v[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        v[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        v[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    // Now v[i] holds, per 128-bit quarter q, column (i % 4) of the 4 x 4 block of rows 4 (i / 4)..+3
    // and columns 4 q..: exchange quarters between the groups of four.
    for (int i = 0; i < 4; ++i) {
        const __m512 a = v[i], b = v[4 + i], c = v[8 + i], d = v[12 + i];
        const __m512 ab_lo = _mm512_shuffle_f32x4(a, b, 0x44), ab_hi = _mm512_shuffle_f32x4(a, b, 0xEE);
        const __m512 cd_lo = _mm512_shuffle_f32x4(c, d, 0x44), cd_hi = _mm512_shuffle_f32x4(c, d, 0xEE);
        v[i] = _mm512_shuffle_f32x4(ab_lo, cd_lo, 0x88);
        v[4 + i] = _mm512_shuffle_f32x4(ab_lo, cd_lo, 0xDD);
        v[8 + i] = _mm512_shuffle_f32x4(ab_hi, cd_hi, 0x88);
        v[12 + i] = _mm512_shuffle_f32x4(ab_hi, cd_hi, 0xDD);
    }
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// The batched solver's vector operations, sixteen systems a vector (AVX-512).
struct Lanes16 {
    using V = __m512;
    using Mask = __mmask16;
    static constexpr int W = 16;
    static V zero() { return _mm512_setzero_ps(); }
    static V set1(float x) { return _mm512_set1_ps(x); }
    static V load(const float* p) { return _mm512_loadu_ps(p); }
    static V add(V a, V b) { return _mm512_add_ps(a, b); }
    static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
    static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
    static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
    static V fnmadd(V a, V b, V c) { return _mm512_fnmadd_ps(a, b, c); }
    // Lanes where d is positive and finite; their bits; b where m is set, else a.
    static Mask usable(V d) {
        return _mm512_cmp_ps_mask(d, zero(), _CMP_GT_OQ) & _mm512_cmp_ps_mask(d, set1(INFINITY), _CMP_LT_OQ);
    }
    static std::uint32_t bits(Mask m) { return m; }
    static Mask from_bits(std::uint32_t b) { return static_cast<Mask>(b); }
    static V blend(Mask m, V a, V b) { return _mm512_mask_blend_ps(m, a, b); }
    // rsqrt(d) refined by one Newton step, lane by lane.
    static V inverse_sqrt(V d) {
        const V r = _mm512_rsqrt14_ps(d);
        const V h = mul(mul(set1(0.5f), d), mul(r, r));
        return mul(r, sub(set1(1.5f), h));
    }
    static void transpose(V (&v)[W]) { transpose16(v); }
    // The first m lanes of v to p.
    static void store_first(float* p, std::int64_t m, V v) {
        _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << m) - 1), v);
    }
    // An empty asm that claims to modify v: the compiler must hold v in a register here, so it loads a
    // vector once for its NR uses instead of folding a load into every FMA (which made the tile
    // load-bound: one 512-bit load per FMA).
    static void keep_in_register(V& v) {
#if defined(__GNUC__)
        asm("" : "+v"(v));
#else
        (void)v;
#endif
    }
};
#endif

#if defined(__AVX2__) && defined(__FMA__) && !defined(__AVX512F__)
// The same, eight systems a vector (AVX2): masks are vectors of all-ones / all-zero lanes.
struct Lanes8 {
    using V = __m256;
    using Mask = __m256;
    static constexpr int W = 8;
    static V zero() { return _mm256_setzero_ps(); }
    static V set1(float x) { return _mm256_set1_ps(x); }
    static V load(const float* p) { return _mm256_loadu_ps(p); }
    static V add(V a, V b) { return _mm256_add_ps(a, b); }
    static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
    static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
    static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
    static V fnmadd(V a, V b, V c) { return _mm256_fnmadd_ps(a, b, c); }
    static Mask usable(V d) {
        return _mm256_and_ps(_mm256_cmp_ps(d, zero(), _CMP_GT_OQ), _mm256_cmp_ps(d, set1(INFINITY), _CMP_LT_OQ));
    }
    static std::uint32_t bits(Mask m) { return static_cast<std::uint32_t>(_mm256_movemask_ps(m)); }
    static Mask from_bits(std::uint32_t b) {
        const __m256i lane = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
        const __m256i set = _mm256_and_si256(_mm256_set1_epi32(static_cast<int>(b)), lane);
        return _mm256_castsi256_ps(_mm256_cmpeq_epi32(set, lane));
    }
    static V blend(Mask m, V a, V b) { return _mm256_blendv_ps(a, b, m); }
    // rsqrt's 12-bit estimate refined by one Newton step (about 22 bits).
    static V inverse_sqrt(V d) {
        const V r = _mm256_rsqrt_ps(d);
        const V h = mul(mul(set1(0.5f), d), mul(r, r));
        return mul(r, sub(set1(1.5f), h));
    }
    static void transpose(V (&v)[W]) {
        __m256 t[8], u[8];
        for (int i = 0; i < 8; i += 2) {
            t[i] = _mm256_unpacklo_ps(v[i], v[i + 1]);
            t[i + 1] = _mm256_unpackhi_ps(v[i], v[i + 1]);
        }
        for (int i = 0; i < 8; i += 4) {
            u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
            u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
            u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
            u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
        }
        for (int i = 0; i < 4; ++i) {
            v[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
            v[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
        }
    }
    static void store_first(float* p, std::int64_t m, V v) {
        const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        _mm256_maskstore_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(m)), lane), v);
    }
    static void keep_in_register(V& v) {
#if defined(__GNUC__)
        asm("" : "+x"(v));
#else
        (void)v;
#endif
    }
};
#endif

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
// The packed upper triangle of a k x k matrix of vectors: row i holds columns i..k-1, and (i, j)
// sits at packed_row(i, k) + j.
inline std::int64_t packed_row(std::int64_t i, std::int64_t k) { return i * (2 * k - i - 1) / 2; }

// The factorisation works on the augmented matrix [A | b]: k rows, k + 1 columns (b is column k),
// packed (row i holds columns i..k). Factoring it leaves U in columns < k and y = U^-T b in column k,
// so the forward substitution needs no pass of its own. Left-looking, four rows of U at a time:
// a register tile (NR rows x W columns) sums the updates of every earlier row of U, reading each
// earlier row's entries once per tile; the diagonal tile is then factored in registers, and every
// tile right of it gets the block's triangular solve in registers before its single store. L is a
// Lanes type: one system per vector lane.

// acc[r][t] = X(c0 + r, j0 + t) - sum_{q < c0} U(q, c0 + r) U(q, j0 + t) (for j0 + t >= c0 + r).
template <typename L, int NR, int W>
inline void tile_sums(const typename L::V* P, std::int64_t kk, std::int64_t c0, std::int64_t j0,
                      typename L::V (&acc)[NR][W]) {
    for (int r = 0; r < NR; ++r)
        for (int t = 0; t < W; ++t) acc[r][t] = j0 + t >= c0 + r ? P[packed_row(c0 + r, kk) + j0 + t] : L::zero();
    for (std::int64_t q = 0; q < c0; ++q) {
        const typename L::V* U = P + packed_row(q, kk);
        typename L::V a[NR];
        for (int r = 0; r < NR; ++r) a[r] = U[c0 + r];
        for (int t = 0; t < W; ++t) {
            typename L::V p = U[j0 + t];
            L::keep_in_register(p);
            for (int r = 0; r < NR; ++r) acc[r][t] = L::fnmadd(a[r], p, acc[r][t]);
        }
    }
}

// The diagonal block (NR x NR at c0): its sums, then its Cholesky factorisation lane by lane. The
// diagonal keeps 1 / u_rr (the later solves multiply). Lanes with a pivot that is not positive and
// finite are added to `failed` and go on with pivot 1 (their results are discarded).
template <typename L, int NR>
void factor_diagonal(typename L::V* P, std::int64_t kk, std::int64_t c0, std::uint32_t& failed) {
    typename L::V acc[NR][NR];
    tile_sums<L, NR, NR>(P, kk, c0, c0, acc);
    const typename L::V one = L::set1(1.0f);
    for (int r = 0; r < NR; ++r) {
        const typename L::V d = acc[r][r];
        const typename L::Mask ok = L::usable(d);
        failed |= ~L::bits(ok) & ((1u << L::W) - 1);
        const typename L::V inv = L::inverse_sqrt(L::blend(ok, one, d));
        acc[r][r] = inv;
        for (int t = r + 1; t < NR; ++t) acc[r][t] = L::mul(acc[r][t], inv);
        for (int i = r + 1; i < NR; ++i)
            for (int t = i; t < NR; ++t) acc[i][t] = L::fnmadd(acc[r][i], acc[r][t], acc[i][t]);
    }
    for (int r = 0; r < NR; ++r)
        for (int t = r; t < NR; ++t) P[packed_row(c0 + r, kk) + c0 + t] = acc[r][t];
}

// A tile right of the diagonal block: its sums, then U(block)^-T applied in registers.
template <typename L, int NR, int W>
void solve_tile(typename L::V* P, std::int64_t kk, std::int64_t c0, std::int64_t j0) {
    typename L::V acc[NR][W];
    tile_sums<L, NR, W>(P, kk, c0, j0, acc);
    for (int r = 0; r < NR; ++r) {
        const typename L::V* D = P + packed_row(c0 + r, kk);  // row r of the factored diagonal block
        for (int p = 0; p < r; ++p) {
            const typename L::V u = P[packed_row(c0 + p, kk) + c0 + r];
            for (int t = 0; t < W; ++t) acc[r][t] = L::fnmadd(u, acc[p][t], acc[r][t]);
        }
        const typename L::V inv = D[c0 + r];
        for (int t = 0; t < W; ++t) acc[r][t] = L::mul(acc[r][t], inv);
    }
    for (int r = 0; r < NR; ++r)
        for (int t = 0; t < W; ++t) P[packed_row(c0 + r, kk) + j0 + t] = acc[r][t];
}

template <typename L, int NR>
void factor_block(typename L::V* P, std::int64_t kk, std::int64_t c0, std::uint32_t& failed) {
    factor_diagonal<L, NR>(P, kk, c0, failed);
    // Four columns per tile: 4 x 4 sums stay in registers through the triangular solve (six
    // columns sum with fewer loads but spill there; measured slower with AVX-512).
    std::int64_t j0 = c0 + NR;
    for (; j0 + 4 <= kk; j0 += 4) solve_tile<L, NR, 4>(P, kk, c0, j0);
    switch (kk - j0) {
        case 1: solve_tile<L, NR, 1>(P, kk, c0, j0); break;
        case 2: solve_tile<L, NR, 2>(P, kk, c0, j0); break;
        case 3: solve_tile<L, NR, 3>(P, kk, c0, j0); break;
        default: break;
    }
}

// L::W systems at once (A[l] == nullptr: no system in lane l); the bits of the lanes that failed.
template <typename L>
std::uint32_t cholesky_solve_lanes(float* const* A, std::int64_t k, std::int64_t s, float* const* b, float* const* x,
                                   float* scratch) {
    using V = typename L::V;
    constexpr int W = L::W;
    const std::int64_t kk = k + 1;
    V* P = reinterpret_cast<V*>(scratch);  // packed [A | b]: k (k + 3) / 2 vectors
    V* X = P + k * (k + 3) / 2;            // the solutions: k vectors
    const V zero = L::zero(), one = L::set1(1.0f);
    std::uint32_t missing = 0;
    for (int l = 0; l < W; ++l)
        if (A[l] == nullptr) missing |= 1u << l;
    // In: lane l of P(i, j) = A[l][i][j] (and of P(i, k) = b[l][i]), W columns at a time through a
    // W x W transpose. A missing system is the identity with b = 0.
    V v[W];
    for (std::int64_t i = 0; i <= k; ++i) {
        const std::int64_t begin = i < k ? i : 0;  // "row" k: b, which becomes column k
        for (std::int64_t j0 = begin & ~std::int64_t{W - 1}; j0 < k; j0 += W) {
            for (int l = 0; l < W; ++l) v[l] = A[l] == nullptr ? zero : L::load(i < k ? A[l] + i * s + j0 : b[l] + j0);
            L::transpose(v);
            const std::int64_t hi = std::min<std::int64_t>(k, j0 + W);
            if (i < k) {
                V* dst = P + packed_row(i, kk);
                for (std::int64_t j = std::max(i, j0); j < hi; ++j) dst[j] = v[j - j0];
            } else {
                for (std::int64_t j = j0; j < hi; ++j) P[packed_row(j, kk) + k] = v[j - j0];
            }
        }
    }
    const typename L::Mask missing_mask = L::from_bits(missing);
    for (std::int64_t i = 0; i < k; ++i) {
        V& d = P[packed_row(i, kk) + i];
        d = L::blend(missing_mask, d, one);
    }
    std::uint32_t failed = 0;
    for (std::int64_t c0 = 0; c0 < k; c0 += 4) {
        switch (std::min<std::int64_t>(4, k - c0)) {
            case 1: factor_block<L, 1>(P, kk, c0, failed); break;
            case 2: factor_block<L, 2>(P, kk, c0, failed); break;
            case 3: factor_block<L, 3>(P, kk, c0, failed); break;
            default: factor_block<L, 4>(P, kk, c0, failed); break;
        }
    }
    // Back substitution U x = y from the last row; four accumulators per dot product.
    for (std::int64_t r = k - 1; r >= 0; --r) {
        const V* R = P + packed_row(r, kk);
        V acc[4] = {zero, zero, zero, zero};
        std::int64_t j = r + 1;
        for (; j + 4 <= k; j += 4)
            for (int q = 0; q < 4; ++q) acc[q] = L::fmadd(R[j + q], X[j + q], acc[q]);
        for (; j < k; ++j) acc[0] = L::fmadd(R[j], X[j], acc[0]);
        const V sum = L::add(L::add(acc[0], acc[1]), L::add(acc[2], acc[3]));
        X[r] = L::mul(L::sub(R[k], sum), R[r]);
    }
    // Out: x[l][i] = lane l of X[i], W entries at a time (only [0, k) written: x's padding stays).
    for (std::int64_t i0 = 0; i0 < k; i0 += W) {
        const std::int64_t m = std::min<std::int64_t>(W, k - i0);
        for (int t = 0; t < W; ++t) v[t] = t < m ? X[i0 + t] : zero;
        L::transpose(v);
        for (int l = 0; l < W; ++l)
            if (A[l] != nullptr && !(failed >> l & 1)) L::store_first(x[l] + i0, m, v[l]);
    }
    return failed & ~missing;
}
#endif
}  // namespace

std::uint32_t cholesky_solve16(float* const* A, std::int64_t k, std::int64_t s, float* const* b, float* const* x,
                               float* scratch) {
#if defined(__AVX512F__)
    if (s % 16 == 0) return cholesky_solve_lanes<Lanes16>(A, k, s, b, x, scratch);
#elif defined(__AVX2__) && defined(__FMA__)
    // Two batches of eight (the scratch for sixteen lanes holds one of eight twice over).
    if (s % 8 == 0)
        return cholesky_solve_lanes<Lanes8>(A, k, s, b, x, scratch) |
               cholesky_solve_lanes<Lanes8>(A + 8, k, s, b + 8, x + 8, scratch) << 8;
#endif
    (void)scratch;
    std::uint32_t failed = 0;
    for (int l = 0; l < 16; ++l)
        if (A[l] != nullptr && !cholesky_solve(A[l], k, s, b[l], x[l])) failed |= 1u << l;
    return failed;
}

namespace ref {

void weighted_syrk(const float* G, std::int64_t n, std::int64_t k, std::int64_t s, const float* w, float* A) {
    for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t r = 0; r < k; ++r)
            for (std::int64_t c = r; c < k; ++c) A[r * s + c] += w[i] * G[i * s + r] * G[i * s + c];
}

bool cholesky_solve(float* A, std::int64_t k, std::int64_t s, float* b, float* x) {
    // L = U^T, from the upper triangle: a(r, c) for c <= r is A[c][r].
    std::vector<double> L(static_cast<std::size_t>(k * k), 0.0), y(static_cast<std::size_t>(k)), z(static_cast<std::size_t>(k));
    auto l = [&](std::int64_t r, std::int64_t c) -> double& { return L[static_cast<std::size_t>(r * k + c)]; };
    for (std::int64_t r = 0; r < k; ++r)
        for (std::int64_t c = 0; c <= r; ++c) {
            double v = A[c * s + r];
            for (std::int64_t t = 0; t < c; ++t) v -= l(r, t) * l(c, t);
            if (c == r) {
                if (!(v > 0.0)) return false;
                l(r, r) = std::sqrt(v);
            } else {
                l(r, c) = v / l(c, c);
            }
        }
    for (std::int64_t r = 0; r < k; ++r) {
        double v = b[r];
        for (std::int64_t t = 0; t < r; ++t) v -= l(r, t) * y[static_cast<std::size_t>(t)];
        y[static_cast<std::size_t>(r)] = v / l(r, r);
    }
    for (std::int64_t r = k - 1; r >= 0; --r) {
        double v = y[static_cast<std::size_t>(r)];
        for (std::int64_t t = r + 1; t < k; ++t) v -= l(t, r) * z[static_cast<std::size_t>(t)];
        z[static_cast<std::size_t>(r)] = v / l(r, r);
    }
    for (std::int64_t r = 0; r < k; ++r) x[r] = static_cast<float>(z[static_cast<std::size_t>(r)]);
    return true;
}

void weighted_rank1_pass(const float* G, std::int64_t n, std::int64_t s, const float* w, const float* a,
                         float wscale, const float* v, float* out) {
    for (std::int64_t i = 0; i < n; ++i) {
        const float* g = G + i * s;
        float d = 0.0f;
        for (std::int64_t j = 0; j < s; ++j) d += g[j] * v[j];
        const float c = (a ? a[i] : 0.0f) + wscale * w[i] * d;
        for (std::int64_t j = 0; j < s; ++j) out[j] += c * g[j];
    }
}

void symv(const float* M, std::int64_t k, std::int64_t s, const float* v, float* out) {
    for (std::int64_t j = 0; j < s; ++j) {
        float t = 0.0f;
        for (std::int64_t r = 0; r < k; ++r) t += M[r * s + j] * v[r];
        out[j] = t;
    }
}

}  // namespace ref

}  // namespace encore::kernels
