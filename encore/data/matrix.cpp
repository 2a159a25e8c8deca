#include "encore/data/matrix.hpp"

#include <cstdlib>
#include <cstring>
#include <new>

#include "encore/util/memory.hpp"

namespace encore {

Matrix::Matrix(std::int64_t rows, std::int64_t cols) : Matrix(rows, cols, true) {}

Matrix Matrix::uninitialized(std::int64_t rows, std::int64_t cols) { return Matrix(rows, cols, false); }

Matrix::Matrix(std::int64_t rows, std::int64_t cols, bool zero) : rows_(rows), cols_(cols), stride_(padded(cols)) {
    std::size_t bytes = static_cast<std::size_t>(rows_ * stride_) * sizeof(float);
    if (bytes == 0) return;
    // Big matrices start on a huge-page boundary so all of them can be backed by huge pages.
    auto block = allocate_large(bytes);
    if (zero) std::memset(block.get(), 0, bytes);
    data_ = static_cast<float*>(block.get());
    owner_ = std::move(block);
}

Matrix Matrix::view(float* data, std::int64_t rows, std::int64_t cols, std::int64_t stride,
                    std::shared_ptr<const void> keepalive) {
    Matrix m;
    m.data_ = data;
    m.rows_ = rows;
    m.cols_ = cols;
    m.stride_ = stride;
    m.owner_ = std::move(keepalive);
    return m;
}

Matrix Matrix::clone() const {
    Matrix m(rows_, cols_);
    if (rows_ > 0) std::memcpy(m.data_, data_, static_cast<std::size_t>(rows_ * stride_) * sizeof(float));
    return m;
}

}  // namespace encore
