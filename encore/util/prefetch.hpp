#pragma once
// A software prefetch the compiler cannot drop. GCC 12 deleted loops whose only effect was
// __builtin_prefetch / _mm_prefetch (measured: the ALS gather's look-ahead over rows of two or more
// cache lines compiled to nothing, and the gather ran ~3x slower); an asm volatile statement is
// always emitted, in order with the code around it.
namespace encore {

// Starts loading the cache line holding p into every cache level (prefetcht0). Touches nothing.
inline void prefetch_l1(const void* p) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p)));
#elif defined(__GNUC__)
    __builtin_prefetch(p, 0, 3);
#else
    (void)p;
#endif
}

}  // namespace encore
