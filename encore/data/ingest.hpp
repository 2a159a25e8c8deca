#pragma once
// Ingest: play logs as text (Last.fm 360K / 2K, MovieLens, generic CSV/TSV) -> Dataset.
// Multi-threaded: the input is mapped (or read from a pipe in large blocks), each block is split at
// line boundaries across threads, every thread parses its part into local id dictionaries, and the
// dictionaries are merged. Errors name FILE:LINE and the reason.
//
// Parsing rules
// -------------
// Formats (InputFormat):
//   lastfm360k  TSV, no header: user_sha1 \t artist_mbid \t artist_name \t plays. Item key = the mbid,
//               or the artist name when the mbid is empty. Item display name = the first non-empty
//               artist_name seen for that key.
//   lastfm2k    user_artists.dat: userID \t artistID \t weight with a header line and CRLF line ends.
//               Names from artists.dat (id \t name \t url \t pictureURL) beside the input, or names_file.
//   movielens   u.data (also u1.base, ua.test, ...): user \t item \t rating \t timestamp, no header;
//               titles from u.item beside it (id|title|..., Latin-1). Or ratings.csv
//               (userId,movieId,rating,timestamp, header); titles from movies.csv beside it
//               (movieId,title,genres, quoted CSV). An input is the CSV variant when its name ends in
//               .csv or its first line has a comma and no tab.
//   csv / tsv   Columns user_col / item_col / value_col (0-based; value_col < 0: every row counts 1).
//               Every row must have as many fields as the first line of its file.
//               names_file: KEY<sep>NAME per line, same separator (and quoting) as the data.
//   auto_detect Decided from the first input: named user_artists.dat -> lastfm2k; named u.data,
//               u<N>.base/.test, ua/ub.base/.test or ratings.csv -> movielens; first line has 4 tab
//               fields and the first is 40 hex digits -> lastfm360k; name ends in .csv -> csv; else tsv.
// Lines: '\n' ends a line and one '\r' before it is dropped (CRLF files work). A UTF-8 byte-order mark
//   at the start of a file is skipped. Blank lines are ignored (they still count for line numbers).
//   Line numbers in messages are 1-based physical lines of that file.
// Fields: TSV and '|' fields are taken literally (no quoting; a '"' is an ordinary character). CSV
//   follows RFC 4180: a field starting with '"' runs to the closing '"', "" inside it is one '"'. A
//   quoted field may not span lines (an error: "quoted field not closed on this line"). Keys are taken
//   exactly (no trimming); blanks around a value are allowed.
// Header: forced by IngestOptions::header, else the first non-blank line of each file is a header
//   when its value field is not a number (e.g. "plays", "weight", "rating"); with no value column,
//   when its user or item field has no digits (only letters, '_', '-', '.', ' ') and contains one of
//   user, item, artist, movie, track, song, product (any case), or is "id" or ends in "_id", "-id",
//   " id" or "Id" (user_id, movieId).
// Values: a decimal number (integers take a fast exact path; float syntax via from_chars). NaN,
//   infinities, values beyond float range and text are errors. Negative values are an error
//   ("negative value -3 (use --allow-negative to keep dislikes)") unless allow_negative, which keeps
//   them as they are (weighting decides what they mean).
// Filtering: a row with value 0 is no interaction: it never enters the matrix and is counted in
//   rows_below_min, as is any row with value < min_value. Users and items are only created by kept
//   rows, so a user whose every row was filtered does not appear.
// Duplicates: rows with the same (user, item) are summed into one entry; report.duplicates counts
//   the rows merged away. With allow_negative an entry that sums to exactly 0 is dropped as well.
// Ids: users and items are numbered in order of first appearance among kept rows, across all
//   inputs in the order given; the result is identical for any thread count.
// Names: item_names has one entry per item ("" when unknown) when any name is known, else it is
//   empty. Names from a names file take precedence over names inside the data; names for keys that
//   are not items are ignored (so a names-file header line is harmless).
// Encoding (IngestOptions::encoding): every user id, item key and display name (in the data and in
//   names files) must be valid UTF-8 by default; an invalid byte is a ParseError "FILE:LINE: invalid
//   UTF-8 in ..." that suggests --encoding latin1 (skippable with skip_bad_lines). latin1 reads every
//   byte of every input and names file as Latin-1 and converts it to UTF-8; replace keeps valid UTF-8
//   and substitutes U+FFFD for each invalid byte. One exception: MovieLens 100K's u.item is Latin-1 by
//   its documentation, so under utf8 its titles keep valid UTF-8 sequences and read other bytes as
//   Latin-1. The meta records the encoding used.
// Dropped ids: the keys of users and items that had rows but lost every one of them to the value
//   filter (min_value, or value 0) are recorded in Dataset::meta["dropped"] (see DroppedIds below), so
//   a later lookup can say why an id is unknown.
// Errors: a malformed row (wrong field count, empty key, bad/NaN/infinite/negative value, bad
//   quoting) throws ParseError "FILE:LINE: reason"; with skip_bad_lines it is skipped and counted
//   (the first few messages go to report.bad_examples). A file without data rows -> Error
//   "FILE: no data rows"; a missing file -> Error naming it; nothing left after filtering -> Error.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "encore/data/dataset.hpp"

namespace encore {

class Reporter;  // encore/util/progress.hpp

enum class InputFormat { auto_detect, lastfm360k, lastfm2k, movielens, csv, tsv };

// "lastfm360k", "lastfm2k", "movielens", "csv", "tsv", "auto"; throws OptionError otherwise.
InputFormat parse_input_format(std::string_view name);
std::string_view format_name(InputFormat f);
// The format auto_detect picks for this file (rule above); "-" reads nothing and answers tsv.
// Throws Error naming the file when it cannot be read.
InputFormat detect_input_format(const std::string& path);

enum class TextEncoding { utf8, latin1, replace };
// "utf8", "latin1", "replace"; throws OptionError otherwise.
TextEncoding parse_text_encoding(std::string_view name);
std::string_view encoding_name(TextEncoding e);

// At most this many dropped user (and item) keys are listed in meta["dropped"]; the count is exact.
inline constexpr std::size_t kMaxDroppedIds = 100000;

struct IngestOptions {
    InputFormat format = InputFormat::auto_detect;
    std::string names_file;        // display names (artists.dat, u.item, movies.csv, or id<sep>name); "" = auto
    std::optional<bool> header;    // nullopt: auto-detect (first row's value column is not a number)
    // Generic csv/tsv columns, 0-based. value_col < 0: no value column, every row counts 1.
    int user_col = 0, item_col = 1, value_col = 2;
    std::optional<double> min_value;  // keep rows with value >= min_value
    bool allow_negative = false;      // negative values = dislikes (see docs); otherwise an error
    bool skip_bad_lines = false;      // skip and count malformed rows instead of stopping
    TextEncoding encoding = TextEncoding::utf8;  // how bytes of keys and names are read (rules above)
    int threads = 0;                  // 0 = all cores
    Reporter* reporter = nullptr;  // progress in MB; null = silent
    // Tuning knobs (tests use them to force many chunks/blocks on small inputs):
    std::size_t chunk_bytes = 0;        // max bytes one thread parses at a time; 0 = block / threads
    std::size_t stdin_block_bytes = 0;  // bytes read from standard input per block; 0 = 64 MiB
};

struct IngestReport {
    InputFormat format = InputFormat::auto_detect;  // the format actually used
    std::int64_t bytes = 0;
    std::int64_t lines = 0;           // data lines seen (header and blank lines excluded)
    std::int64_t rows_kept = 0;       // rows that made it into the matrix (before summing duplicates)
    std::int64_t rows_below_min = 0;  // dropped by min_value or because the value is 0
    std::int64_t bad_lines = 0;       // skipped with skip_bad_lines
    std::int64_t duplicates = 0;      // (user, item) rows summed into an earlier one
    std::vector<std::string> bad_examples;  // first few "FILE:LINE: reason" of skipped lines
    double seconds = 0;
};

// Reads every input (same format; "-" = standard input) into one Dataset. Throws ParseError
// ("FILE:LINE: reason") on a malformed row unless skip_bad_lines, Error on a missing or empty input.
Dataset ingest(const std::vector<std::string>& inputs, const IngestOptions& options, IngestReport* report = nullptr);

}  // namespace encore
