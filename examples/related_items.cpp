// encore as a library: synthetic play logs -> Dataset -> implicit ALS -> a model file, then the model
// opened for queries and the items related to one item printed. Writes plays.tsv and model.encm in the
// working directory.  Usage: related_items [ITEM_KEY_OR_NAME]
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>

#include "encore/data/ingest.hpp"
#include "encore/data/synth.hpp"
#include "encore/models/family.hpp"
#include "encore/models/model.hpp"
#include "encore/retrieval/queries.hpp"

int main(int argc, char** argv) {
    try {
        // Play logs: a small Last.fm-360K-shaped TSV (user, artist id, artist name, plays) with planted genres.
        encore::write_synth("plays.tsv", {.users = 2000, .items = 500, .seed = 1, .quiet = true});

        // Ingest: ids, display names and the play matrix both ways.
        encore::IngestOptions ingest_options;
        ingest_options.format = encore::InputFormat::lastfm360k;
        ingest_options.quiet = true;
        encore::Dataset data = encore::ingest({"plays.tsv"}, ingest_options);

        // Train implicit ALS (bm25 weighting, conjugate gradient) and save the model.
        encore::ModelOptions options = encore::default_model_options(encore::ModelKind::als);
        options.als.factors = 32;
        options.als.iterations = 10;
        encore::save_model(encore::train_model(data, options, "plays.tsv"), "model.encm");

        // Open the model (mapped, not parsed) and ask for the 10 items most similar to one item.
        encore::Model model = encore::load_model("model.encm");  // TODO(recommender)
        std::string item = argc > 1 ? argv[1] : std::string(model.item_label(0));
        std::int32_t id = encore::resolve_item(model, item);  // TODO(recommender)
        auto related = encore::related_items(model, id, encore::ItemFilter{}, {.n = 10});  // TODO(recommender)

        std::printf("related to %s:\n", item.c_str());
        for (std::size_t rank = 0; rank < related.size(); ++rank) {
            std::string label(model.item_label(related[rank].id));
            std::printf("%3zu. %s  %.3f\n", rank + 1, label.c_str(), related[rank].score);
        }
        return 0;
    } catch (const std::exception& e) {  // encore::Error and its kinds carry the file/line/field
        std::fprintf(stderr, "related_items: %s\n", e.what());
        return 1;
    }
}
