#include "encore/io/mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "encore/util/error.hpp"

namespace encore {

std::shared_ptr<MappedFile> MappedFile::open(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
    struct stat st {};
    if (fstat(fd, &st) != 0) {
        int e = errno;
        ::close(fd);
        throw Error(fmt::format("{}: cannot stat: {}", path, std::strerror(e)));
    }
    if (S_ISDIR(st.st_mode)) {
        ::close(fd);
        throw Error(fmt::format("{}: is a directory, not a file", path));
    }
    auto file = std::shared_ptr<MappedFile>(new MappedFile());
    file->path_ = path;
    file->size_ = static_cast<std::size_t>(st.st_size);
    if (file->size_ > 0) {
        void* p = mmap(nullptr, file->size_, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            ::close(fd);
            throw Error(fmt::format("{}: cannot map: {}", path, std::strerror(e)));
        }
        file->data_ = p;
    }
    ::close(fd);
    return file;
}

MappedFile::~MappedFile() {
    if (data_) munmap(data_, size_);
}

void MappedFile::advise_sequential() const {
    // Two calls: madvise takes one advice value at a time (they are not flags to combine).
    if (data_) {
        madvise(data_, size_, MADV_SEQUENTIAL);
        madvise(data_, size_, MADV_WILLNEED);
    }
}

}  // namespace encore
