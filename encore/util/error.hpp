#pragma once
// One error family for everything a user can cause (bad input files, bad options, corrupt model files).
// The CLI prints what() as a single line and exits non-zero; nothing in the library aborts on user input.
#include <cstdint>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace encore {

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// A problem at a place in an input file: what() reads "FILE:LINE: reason".
class ParseError : public Error {
public:
    ParseError(std::string file, std::int64_t line, std::string reason)
        : Error(fmt::format("{}:{}: {}", file, line, reason)),
          file_(std::move(file)), line_(line), reason_(std::move(reason)) {}
    const std::string& file() const { return file_; }
    std::int64_t line() const { return line_; }
    const std::string& reason() const { return reason_; }

private:
    std::string file_;
    std::int64_t line_;
    std::string reason_;
};

// A file that is not what it should be (wrong magic, version, checksum, truncated): "FILE: reason".
class FormatError : public Error {
public:
    FormatError(const std::string& file, const std::string& reason)
        : Error(fmt::format("{}: {}", file, reason)) {}
};

// An option or argument out of range: "--name: reason".
class OptionError : public Error {
public:
    using Error::Error;
};

// Long work stopped because its cancellation flag was set (a batch query, say).
class Cancelled : public Error {
public:
    Cancelled() : Error("cancelled") {}
};

template <typename... Args>
[[noreturn]] inline void fail(fmt::format_string<Args...> f, Args&&... args) {
    throw Error(fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace encore
