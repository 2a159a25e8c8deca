// encore as a library: synthetic play logs -> Dataset -> implicit ALS -> a model file, then the model
// opened for queries and the items related to one item printed. Writes plays.tsv and model.encm in the
// working directory.  Usage: related_items [ITEM_KEY_OR_NAME]
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>

#include "encore/data/ingest.hpp"
#include "encore/data/synth.hpp"
#include "encore/kinds/family.hpp"
#include "encore/models/model.hpp"
#include "encore/serve/recommender.hpp"

int main(int argc, char** argv) {
    try {
        // Play logs: a small Last.fm-360K-shaped TSV (user, artist id, artist name, plays) with planted genres.
        encore::write_synth("plays.tsv", {.users = 2000, .items = 500, .seed = 1});

        // Ingest: ids, display names and the play matrix both ways.
        encore::IngestOptions ingest_options;
        ingest_options.format = encore::InputFormat::lastfm360k;
        encore::Dataset data = encore::ingest({"plays.tsv"}, ingest_options);

        // Train implicit ALS (bm25 weighting, conjugate gradient) and save the model.
        encore::ModelOptions options = encore::default_model_options(encore::parse_model_kind("als"));
        options.als.factors = 32;
        options.als.iterations = 10;
        encore::save_model(encore::train_model(data, options, "plays.tsv"), "model.encm");

        // Open a Recommender on the model (mapped, not parsed) and ask for the 10 items most similar to one.
        auto rec = encore::Recommender::open({.models = {"model.encm"}});
        std::int32_t id = argc > 1 ? rec.item(argv[1]) : 0;  // by key or display name
        auto related = rec.related(id, {.n = 10});

        std::printf("related to %s:\n", std::string(rec.item_name(id)).c_str());
        int rank = 0;
        for (const auto& r : rec.view(related))
            std::printf("%3d. %.*s  %.3f\n", ++rank, static_cast<int>(r.name.size()), r.name.data(), r.score);
        return 0;
    } catch (const std::exception& e) {  // encore::Error and its kinds carry the file/line/field
        std::fprintf(stderr, "related_items: %s\n", e.what());
        return 1;
    }
}
