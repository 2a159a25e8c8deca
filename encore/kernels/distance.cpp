#include "encore/kernels/distance.hpp"

#include <algorithm>

#include "encore/kernels/simd_reduce.hpp"

namespace encore::kernels {

const char* distance_isa() {
#if defined(__AVX512F__)
    return "avx512";
#elif defined(__AVX2__) && defined(__FMA__)
    return "avx2";
#else
    return "scalar";
#endif
}

namespace {

#if defined(__AVX512F__)
template <int V>
void dot_i8_gather16(const float* q, const std::int8_t* codes, std::int64_t stride, const std::uint32_t* ids,
                     std::size_t m, float* out) {
    __m512 qv[V];
    for (int j = 0; j < V; ++j) qv[j] = _mm512_loadu_ps(q + 16 * j);
    for (std::size_t i0 = 0; i0 < m; i0 += 16) {
        const std::size_t rows = std::min<std::size_t>(16, m - i0);
        __m512 d[16];
        for (std::size_t r = 0; r < 16; ++r) {
            const std::int8_t* c = codes + static_cast<std::int64_t>(ids[i0 + std::min(r, rows - 1)]) * stride;
            __m512 acc = _mm512_setzero_ps();
            for (int j = 0; j < V; ++j)
                acc = _mm512_fmadd_ps(
                    qv[j], _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(c + 16 * j)))),
                    acc);
            d[r] = acc;
        }
        _mm512_mask_storeu_ps(out + i0, static_cast<__mmask16>((1u << rows) - 1), detail::reduce16(d));
    }
}
#endif

}  // namespace

void dot_i8_gather(const float* q, const std::int8_t* codes, std::int64_t stride, const std::uint32_t* ids,
                   std::size_t m, std::int64_t n, float* out) {
    if (m == 0) return;
#if defined(__AVX512F__)
    switch (n) {
        case 16: return dot_i8_gather16<1>(q, codes, stride, ids, m, out);
        case 32: return dot_i8_gather16<2>(q, codes, stride, ids, m, out);
        case 48: return dot_i8_gather16<3>(q, codes, stride, ids, m, out);
        case 64: return dot_i8_gather16<4>(q, codes, stride, ids, m, out);
        case 128: return dot_i8_gather16<8>(q, codes, stride, ids, m, out);
        default: break;
    }
#endif
    for (std::size_t i = 0; i < m; ++i) out[i] = dot_i8(q, codes + static_cast<std::int64_t>(ids[i]) * stride, n);
}

}  // namespace encore::kernels
