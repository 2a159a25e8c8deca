#pragma once
// Writing files so that nothing is lost on a crash: data goes to "PATH.tmp.PID", is fsync'd, then
// renamed over PATH (atomic on POSIX) and the directory is fsync'd. A reader sees the old file or the
// new one, never half of one. If the writer is destroyed without commit(), the temp file is removed.
#include <cstddef>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>

namespace encore {

class AtomicFile {
public:
    explicit AtomicFile(std::string path);
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    void write(const void* data, std::size_t bytes);
    void write(std::string_view text) { write(text.data(), text.size()); }
    void write_zeros(std::size_t bytes);
    // Overwrite bytes at an absolute offset already written (headers patched after the body).
    void pwrite_at(std::size_t offset, const void* data, std::size_t bytes);
    std::size_t position() const { return pos_; }
    // fsync + rename + fsync(dir). After this the file is in place.
    void commit();
    const std::string& path() const { return path_; }

private:
    std::string path_, tmp_;
    int fd_ = -1;
    std::size_t pos_ = 0;
    bool committed_ = false;
    std::string buffer_;  // coalesces small writes
    void flush_buffer();
};

}  // namespace encore
