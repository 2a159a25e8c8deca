#pragma once
// Rendering query results, the same for every front end: the JSON contract (README "JSON contract"),
// the text table, and batch output (every item's or user's results) as TSV or JSON Lines.
//
// Batch TSV: a header line "query\trank\tresult\tscore" (unless header = false), then one line per
// result: the query's key (or display name for items with names = true), the 1-based rank, the
// result's key (or display name), the score (%.6g). A tab, newline, carriage return or backslash
// inside a field is written as \t, \n, \r, \\ so every line has exactly four fields.
// Batch JSON Lines: one object per query, in query order, exactly the single-query contract
// {"query": {...}, "results": [...]} on one line.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "encore/io/atomic_file.hpp"
#include "encore/models/model.hpp"
#include "encore/query/queries.hpp"

namespace encore {

// {"id": key, "name": display name (the key when it has none)}.
nlohmann::json item_json(const Model& m, std::int32_t item);
// {"query": query, "results": [{"id", "name", "score", "because": [...]}]}.
nlohmann::json results_json(const Model& m, const nlohmann::json& query, const std::vector<Recommendation>& results);
// The JSON contract (indented) when json, else a title line and a ranked table with "because you
// played ..." lines; always ends with a newline.
std::string format_results(const Model& m, const std::string& title, const std::vector<Recommendation>& results,
                           bool json, const nlohmann::json& query_json);
void print_results(std::ostream& out, const Model& m, const std::string& title,
                   const std::vector<Recommendation>& results, bool json, const nlohmann::json& query_json);

enum class BatchFormat { tsv, jsonl };

struct BatchOutputOptions {
    BatchFormat format = BatchFormat::tsv;
    bool header = true;  // tsv: the "query\trank\tresult\tscore" line first
    bool names = false;  // tsv: display names instead of keys (items; users have no names)
};

// Batch output, opened before the work and written after it: the constructor creates the output (an
// atomic temp file beside path, or standard output for "" and "-"), so a bad path fails at once with
// Error "PATH: cannot create: reason"; write() formats blocks of queries in parallel, writes them in
// order and puts the file in place.
class BatchWriter {
public:
    BatchWriter(const std::string& path, const BatchOutputOptions& options);
    // queries is model.items (related) or model.users (recommend); results[q] belongs to queries[q].
    void write(const Model& m, const StringTable& queries, const std::vector<std::vector<Recommendation>>& results);

private:
    BatchOutputOptions options_;
    std::optional<AtomicFile> file_;  // empty: standard output
};

// Backslash escapes for one TSV field (rule above); s itself when nothing needs escaping.
std::string escape_tsv_field(std::string_view s);

}  // namespace encore
