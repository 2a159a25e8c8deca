#pragma once
// Buffer<T>: a contiguous array that either owns its storage (a std::vector) or views memory owned by
// someone else (a mapped file), kept alive through a shared handle. Copies share the same storage:
// treat a Buffer as immutable once built (build a new one instead of editing a shared one).
#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>
#include <span>
#include <type_traits>
#include <vector>

#include "encore/util/memory.hpp"

namespace encore {

template <typename T>
class Buffer {
public:
    Buffer() = default;
    explicit Buffer(std::vector<T> values) {
        auto owned = std::make_shared<std::vector<T>>(std::move(values));
        span_ = std::span<T>(owned->data(), owned->size());
        owner_ = std::move(owned);
    }
    // n elements left uninitialised (for trivial T): the pages are first touched by whoever fills
    // them, so parallel fills also fault the memory in parallel (first touch is slow on these VMs).
    // Big arrays are 2 MiB aligned and ask for transparent huge pages: 512 times fewer page faults
    // when they are filled (each fault is expensive on a virtual machine), fewer TLB misses after.
    static Buffer uninitialized(std::size_t n) {
        static_assert(std::is_trivially_default_constructible_v<T>);
        const std::size_t bytes = std::max<std::size_t>(n, 1) * sizeof(T);
        Buffer b;
        if (bytes >= 2 * kHugePage) {
            void* p = std::aligned_alloc(kHugePage, (bytes + kHugePage - 1) / kHugePage * kHugePage);
            if (!p) throw std::bad_alloc();
            advise_huge_pages(p, bytes);
            std::shared_ptr<T> owned(static_cast<T*>(p), [](T* q) { std::free(q); });
            b.span_ = std::span<T>(owned.get(), n);
            b.owner_ = std::move(owned);
            return b;
        }
        std::shared_ptr<T[]> owned(new T[n]);
        b.span_ = std::span<T>(owned.get(), n);
        b.owner_ = std::shared_ptr<const void>(owned, owned.get());
        return b;
    }
    static Buffer view(std::span<T> data, std::shared_ptr<const void> keepalive) {
        Buffer b;
        b.span_ = data;
        b.owner_ = std::move(keepalive);
        return b;
    }

    std::size_t size() const { return span_.size(); }
    bool empty() const { return span_.empty(); }
    T* data() { return span_.data(); }
    const T* data() const { return span_.data(); }
    T& operator[](std::size_t i) { return span_[i]; }
    const T& operator[](std::size_t i) const { return span_[i]; }
    std::span<T> span() { return span_; }
    std::span<const T> span() const { return span_; }
    operator std::span<const T>() const { return span_; }
    auto begin() const { return span_.begin(); }
    auto end() const { return span_.end(); }

private:
    std::span<T> span_;
    std::shared_ptr<const void> owner_;
};

}  // namespace encore
