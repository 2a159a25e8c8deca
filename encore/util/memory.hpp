#pragma once
// Large allocations that ask the kernel for transparent huge pages. Factor matrices are read in
// random row order (the ALS gather, exact and approximate queries): with 4 KiB pages nearly every
// row read misses the TLB, with 2 MiB pages the whole 75 MB matrix is covered by a few dozen
// entries. Huge pages also cut page-fault counts when big buffers are first touched.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>

#include <sys/mman.h>

namespace encore {

inline constexpr std::size_t kHugePage = std::size_t{2} << 20;

// madvise(MADV_HUGEPAGE) on the whole huge pages inside [p, p + bytes); a hint, failures ignored.
inline void advise_huge_pages(void* p, std::size_t bytes) {
#ifdef MADV_HUGEPAGE
    if (bytes < 2 * kHugePage) return;
    auto a = (reinterpret_cast<std::uintptr_t>(p) + kHugePage - 1) & ~(kHugePage - 1);
    auto e = (reinterpret_cast<std::uintptr_t>(p) + bytes) & ~(kHugePage - 1);
    if (e > a) madvise(reinterpret_cast<void*>(a), e - a, MADV_HUGEPAGE);
#else
    (void)p;
    (void)bytes;
#endif
}

// A large buffer of at least `bytes` (rounded up and returned in `bytes`): on a huge-page boundary
// when it spans two or more, advised for huge pages, freed when the last owner goes. Not zeroed.
inline std::shared_ptr<void> allocate_large(std::size_t& bytes) {
    const std::size_t align = bytes >= 2 * kHugePage ? kHugePage : 64;
    bytes = (bytes + align - 1) / align * align;
    void* p = std::aligned_alloc(align, bytes);
    if (!p) throw std::bad_alloc();
    advise_huge_pages(p, bytes);
    return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}

}  // namespace encore

namespace encore {

// The resident-set high-water mark of this process over a stretch of work, above the resident set at
// its start (Linux: VmRSS / VmHWM from /proc/self/status, the mark reset through /proc/self/clear_refs).
class PeakMemoryMeter {
public:
    // Records the resident set now and resets the high-water mark to it.
    PeakMemoryMeter();
    // The peak resident bytes since construction above the resident set then (>= 0), or -1 where
    // /proc does not allow the measurement.
    double peak_bytes_above_start() const;

private:
    double start_bytes_ = -1;
    bool ok_ = false;
};

}  // namespace encore
