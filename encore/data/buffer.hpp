#pragma once
// Buffer<T>: a contiguous array that either owns its storage (a std::vector) or views memory owned by
// someone else (a mapped file), kept alive through a shared handle. Copies share the same storage:
// treat a Buffer as immutable once built (build a new one instead of editing a shared one).
#include <cstddef>
#include <memory>
#include <span>
#include <type_traits>
#include <vector>

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
    static Buffer uninitialized(std::size_t n) {
        static_assert(std::is_trivially_default_constructible_v<T>);
        std::shared_ptr<T[]> owned(new T[n]);
        Buffer b;
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
