#include "encore/io/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "encore/util/error.hpp"

namespace encore {

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
    tmp_ = fmt::format("{}.tmp.{}", path_, static_cast<long>(getpid()));
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error(fmt::format("{}: cannot create: {}", path_, std::strerror(errno)));
}

AtomicFile::~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(tmp_.c_str());
}

void AtomicFile::flush_buffer() {
    const char* p = buffer_.data();
    std::size_t left = buffer_.size();
    while (left > 0) {
        ssize_t n = ::write(fd_, p, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw Error(fmt::format("{}: write failed: {}", path_, std::strerror(errno)));
        }
        p += n;
        left -= static_cast<std::size_t>(n);
    }
    buffer_.clear();
}

void AtomicFile::write(const void* data, std::size_t bytes) {
    constexpr std::size_t kBuffer = 1 << 20;
    if (buffer_.size() + bytes > kBuffer) flush_buffer();
    if (bytes >= kBuffer) {
        std::string_view big(static_cast<const char*>(data), bytes);
        // write large blocks directly
        std::size_t off = 0;
        while (off < big.size()) {
            ssize_t n = ::write(fd_, big.data() + off, big.size() - off);
            if (n < 0) {
                if (errno == EINTR) continue;
                throw Error(fmt::format("{}: write failed: {}", path_, std::strerror(errno)));
            }
            off += static_cast<std::size_t>(n);
        }
    } else {
        buffer_.append(static_cast<const char*>(data), bytes);
    }
    pos_ += bytes;
}

void AtomicFile::write_zeros(std::size_t bytes) {
    static const char zeros[4096] = {};
    while (bytes > 0) {
        std::size_t n = std::min(bytes, sizeof zeros);
        write(zeros, n);
        bytes -= n;
    }
}

void AtomicFile::pwrite_at(std::size_t offset, const void* data, std::size_t bytes) {
    flush_buffer();
    if (::pwrite(fd_, data, bytes, static_cast<off_t>(offset)) != static_cast<ssize_t>(bytes))
        throw Error(fmt::format("{}: write failed: {}", path_, std::strerror(errno)));
}

void AtomicFile::commit() {
    flush_buffer();
    if (::fsync(fd_) != 0) throw Error(fmt::format("{}: fsync failed: {}", path_, std::strerror(errno)));
    ::close(fd_);
    fd_ = -1;
    if (::rename(tmp_.c_str(), path_.c_str()) != 0)
        throw Error(fmt::format("{}: cannot rename into place: {}", path_, std::strerror(errno)));
    committed_ = true;
    auto dir = std::filesystem::path(path_).parent_path();
    int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
}

}  // namespace encore
