#pragma once
// Ingest: play logs as text (Last.fm 360K / 2K, MovieLens, generic CSV/TSV) -> Dataset.
// Multi-threaded: the input is mapped (or read from a pipe in large blocks), each block is split at
// line boundaries across threads, every thread parses its part into local id dictionaries, and the
// dictionaries are merged. Errors name FILE:LINE and the reason (see docs/formats.md for the rules).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "encore/data/dataset.hpp"

namespace encore {

enum class InputFormat { auto_detect, lastfm360k, lastfm2k, movielens, csv, tsv };

// "lastfm360k", "lastfm2k", "movielens", "csv", "tsv", "auto"; throws OptionError otherwise.
InputFormat parse_input_format(std::string_view name);
std::string_view format_name(InputFormat f);

struct IngestOptions {
    InputFormat format = InputFormat::auto_detect;
    std::string names_file;        // display names (artists.dat, u.item, movies.csv, or id<sep>name); "" = auto
    std::optional<bool> header;    // nullopt: auto-detect (first row's value column is not a number)
    // Generic csv/tsv columns, 0-based. value_col < 0: no value column, every row counts 1.
    int user_col = 0, item_col = 1, value_col = 2;
    std::optional<double> min_value;  // keep rows with value >= min_value
    bool allow_negative = false;      // negative values = dislikes (see docs); otherwise an error
    bool skip_bad_lines = false;      // skip and count malformed rows instead of stopping
    int threads = 0;                  // 0 = all cores
    bool quiet = false;
};

struct IngestReport {
    std::int64_t bytes = 0;
    std::int64_t lines = 0;           // data lines seen (header excluded)
    std::int64_t rows_kept = 0;       // rows that made it into the matrix (before summing duplicates)
    std::int64_t rows_below_min = 0;  // dropped by min_value
    std::int64_t bad_lines = 0;       // skipped with skip_bad_lines
    std::int64_t duplicates = 0;      // (user, item) rows summed into an earlier one
    std::vector<std::string> bad_examples;  // first few "FILE:LINE: reason" of skipped lines
    double seconds = 0;
};

// Reads every input (same format; "-" = standard input) into one Dataset. Throws ParseError
// ("FILE:LINE: reason") on a malformed row unless skip_bad_lines, Error on a missing or empty input.
Dataset ingest(const std::vector<std::string>& inputs, const IngestOptions& options, IngestReport* report = nullptr);

}  // namespace encore
