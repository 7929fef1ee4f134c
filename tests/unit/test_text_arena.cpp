// A record's strings: the TextArena that holds them, the Text views the facts keep, and who keeps
// the arena alive (the record, the patient's record, the assessment, a value set).
#include <catch2/catch.hpp>

#include <cstdint>
#include <fstream>
#include <new>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "assess/rule_engine.hpp"
#include "base/text_arena.hpp"
#include "content/content.hpp"
#include "read/record_mapping.hpp"
#include "read/record_reader.hpp"
#include "write/cda_writer.hpp"

using namespace ppmg::core;

// A view of a std::string (a temporary, or one that dies first) must not compile.
static_assert(!std::is_constructible_v<Text, std::string>, "Text from a std::string temporary");
static_assert(!std::is_constructible_v<Text, const std::string&>, "Text from a std::string");
static_assert(!std::is_assignable_v<Text&, std::string>, "assigning a std::string to a Text");
static_assert(std::is_constructible_v<Text, std::string_view>, "Text from a view");
static_assert(std::is_constructible_v<Text, const char*>, "Text from a literal");

TEST_CASE("text arena: keeps copies that outlive their source", "[read][arena]") {
    TextArena arena;
    Text kept;
    {
        std::string source = "http://terminology.hl7.org/CodeSystem/condition-clinical";
        kept = arena.keep(source);
        CHECK(kept.data() != source.data());
        source.assign(source.size(), 'x');  // the source changes and then dies
    }
    CHECK(kept == "http://terminology.hl7.org/CodeSystem/condition-clinical");
    CHECK(arena.keep("").empty());
}

TEST_CASE("text arena: earlier strings stay put while it grows, and a huge string fits", "[read][arena]") {
    TextArena arena;
    std::vector<std::string> originals;
    std::vector<Text> views;
    for (int i = 0; i < 20000; ++i) {  // far past the first block
        originals.push_back("urn:uuid:" + std::to_string(i) + std::string(static_cast<size_t>(i % 97), 'a'));
        views.push_back(arena.keep(originals.back()));
    }
    const std::string huge(3u << 20, 'h');  // larger than any block the arena would choose
    const Text big = arena.keep(huge);
    CHECK(arena.blocks() > 2);
    for (size_t i = 0; i < views.size(); ++i) REQUIRE(views[i] == originals[i]);
    CHECK(big == huge);
}

TEST_CASE("text arena: arrays are aligned, default-constructed, and refused when impossibly large", "[read][arena]") {
    TextArena arena;
    std::vector<std::pair<Coding*, size_t>> arrays;
    for (size_t i = 1; i < 3000; ++i) {
        arena.keep(std::string(i % 7, 'x'));  // odd sizes between the arrays
        Coding* c = arena.make<Coding>(i % 5 + 1);
        REQUIRE(reinterpret_cast<uintptr_t>(c) % alignof(Coding) == 0);
        for (size_t k = 0; k < i % 5 + 1; ++k) {
            REQUIRE(c[k].system.empty());
            c[k].code = arena.keep(std::to_string(i));
        }
        arrays.emplace_back(c, i % 5 + 1);
    }
    CHECK(arena.blocks() > 1);
    for (size_t i = 0; i < arrays.size(); ++i)
        for (size_t k = 0; k < arrays[i].second; ++k) REQUIRE(arrays[i].first[k].code == std::to_string(i + 1));
    CHECK(arena.make<Coding>(0) == nullptr);
    CHECK_THROWS_AS(arena.make<Coding>(SIZE_MAX / 8), std::bad_alloc);
}

namespace {

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

TEST_CASE("text arena: the assessment keeps the patient's strings after the record is gone", "[read][arena]") {
    auto content = loadContent(PPMG_SOURCE_CONTENT_DIR);
    const std::string json = slurp(std::string(PPMG_SAMPLES_DIR) + "/sample-patient.json");
    Assessment a;
    std::weak_ptr<const TextArena> arena;
    {
        std::string input = json;  // the input dies too: nothing may view it
        RawRecord raw = readRecord(input, PPMG_INPUT_AUTO, ReadLimits{}, "sample.json");
        PatientRecord record = mapRecord(std::move(raw), "", *content, "sample.json");
        REQUIRE(record.text != nullptr);
        a = assess(*content, record, *parseIsoDate("2025-11-15"));
        CHECK(a.text == record.text);
        arena = record.text;
        input.assign(input.size(), '#');
    }
    CHECK_FALSE(arena.expired());  // only the assessment holds it now
    CHECK(a.patient.source.id == "4b0f5c1e-6a0e-4c1f-9c55-7d3b1e2a9f01");
    CHECK(a.patient.family == "Okafor-Lindqvist");
    RenderContext ctx;
    ctx.pluginVersion = "test";
    ctx.documentId = "00000000-0000-4000-8000-000000000000";
    ctx.effectiveTime = "20251115120000+0000";
    const std::string cda = writeCda(a, *content, ctx);
    CHECK(cda.find("<family>Okafor-Lindqvist</family>") != std::string::npos);
    a = Assessment{};
    CHECK(arena.expired());  // and nothing else keeps it
}

TEST_CASE("value sets: codes are views that copies of the set share", "[content][arena]") {
    ValueSet copy;
    {
        ValueSet vs;
        std::string system = "http://hl7.org/fhir/sid/icd-10-cm";
        vs.addPrefix(system, "O90");
        vs.addPrefix(system, "O90");  // once
        vs.addCode("http://snomed.info/sct", std::string("11466000"));
        CHECK(vs.prefixes.at(system).size() == 1);
        copy = vs;
        system.assign(system.size(), '?');
    }
    const std::vector<Coding> caesarean{{"http://snomed.info/sct", "11466000", ""}};
    CHECK(inValueSet(copy, caesarean));
    // ICD-10-CM matches by prefix, dots ignored; the code is not copied to compare.
    for (const char* code : {"O90.0", "O900", "O90", "O9.0.0"})
        CHECK(codingInValueSet(copy, "http://hl7.org/fhir/sid/icd-10-cm", code));
    for (const char* code : {"O9", "O8.0", "", "X90.0"})
        CHECK_FALSE(codingInValueSet(copy, "http://hl7.org/fhir/sid/icd-10-cm", code));
    CHECK_FALSE(codingInValueSet(copy, "http://snomed.info/sct", "1146600"));
}
