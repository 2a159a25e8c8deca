#pragma once
// Matrix: dense row-major float32 with every row starting on a 64-byte boundary (stride = cols
// rounded up to 16 floats, padding kept at zero) so SIMD kernels can load rows aligned. Either owns
// its memory or views a mapped file (copy-on-write pages). Move-only; clone() makes a deep copy.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace encore {

class Matrix {
public:
    static constexpr std::int64_t kAlignFloats = 16;
    static std::int64_t padded(std::int64_t cols) { return (cols + kAlignFloats - 1) / kAlignFloats * kAlignFloats; }

    Matrix() = default;
    Matrix(std::int64_t rows, std::int64_t cols);  // zero-filled
    // Not zero-filled: the caller must write every float of storage(), padding included, before
    // anything reads it. For big matrices that are filled in parallel at once (ALS's random start):
    // memory touched for the first time is slow, and a memset would touch all of it on one thread.
    static Matrix uninitialized(std::int64_t rows, std::int64_t cols);
    static Matrix view(float* data, std::int64_t rows, std::int64_t cols, std::int64_t stride,
                       std::shared_ptr<const void> keepalive);
    Matrix(Matrix&&) noexcept = default;
    Matrix& operator=(Matrix&&) noexcept = default;
    Matrix(const Matrix&) = delete;
    Matrix& operator=(const Matrix&) = delete;
    Matrix clone() const;

    std::int64_t rows() const { return rows_; }
    std::int64_t cols() const { return cols_; }
    std::int64_t stride() const { return stride_; }
    bool empty() const { return rows_ == 0; }
    float* data() { return data_; }
    const float* data() const { return data_; }
    float* row(std::int64_t i) { return data_ + i * stride_; }
    const float* row(std::int64_t i) const { return data_ + i * stride_; }
    std::span<float> row_span(std::int64_t i) { return {row(i), static_cast<std::size_t>(cols_)}; }
    std::span<const float> row_span(std::int64_t i) const { return {row(i), static_cast<std::size_t>(cols_)}; }
    float& operator()(std::int64_t i, std::int64_t j) { return data_[i * stride_ + j]; }
    float operator()(std::int64_t i, std::int64_t j) const { return data_[i * stride_ + j]; }
    // All rows * stride floats, padding included (what goes to disk).
    std::span<const float> storage() const { return {data_, static_cast<std::size_t>(rows_ * stride_)}; }

private:
    Matrix(std::int64_t rows, std::int64_t cols, bool zero);

    float* data_ = nullptr;
    std::int64_t rows_ = 0, cols_ = 0, stride_ = 0;
    std::shared_ptr<const void> owner_;
};

}  // namespace encore
