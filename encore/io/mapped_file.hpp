#pragma once
// A read-only view of a whole file through mmap. Pages are mapped private and copy-on-write, so a
// loaded model can be modified in memory without touching the file, while untouched pages stay
// shared with every other process that maps the same file.
#include <cstddef>
#include <memory>
#include <span>
#include <string>

namespace encore {

class MappedFile {
public:
    // Throws encore::Error naming the path if the file cannot be opened or mapped.
    static std::shared_ptr<MappedFile> open(const std::string& path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    std::span<std::byte> bytes() const { return {static_cast<std::byte*>(data_), size_}; }
    std::size_t size() const { return size_; }
    const std::string& path() const { return path_; }
    // Tell the kernel we will read it front to back (ingest) — a hint only.
    void advise_sequential() const;

private:
    MappedFile() = default;
    void* data_ = nullptr;
    std::size_t size_ = 0;
    std::string path_;
};

}  // namespace encore
