// The JSON assessment: a finding listed under several massage types is written once and copied;
// every copy must be the complete, identical object, and the document must stay valid JSON.
#include <simdjson.h>

#include <map>
#include <string>

#include "support/fhir_builder.hpp"
#include "support/test_env.hpp"
#include "write/assessment_writers.hpp"

using namespace ppmg::core;
using namespace ppmg::test;

namespace {

// Each type's findings as minified JSON objects, by type code.
std::map<std::string, std::vector<std::string>> findingsByType(const std::string& json) {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    REQUIRE(parser.parse(json).get(root) == simdjson::SUCCESS);
    std::map<std::string, std::vector<std::string>> out;
    simdjson::dom::object massages;
    REQUIRE(root["massages"].get(massages) == simdjson::SUCCESS);
    for (auto field : massages) {
        simdjson::dom::array findings;
        REQUIRE(field.value["findings"].get(findings) == simdjson::SUCCESS);
        auto& list = out[std::string(field.key)];
        for (simdjson::dom::element f : findings) list.push_back(simdjson::minify(f));
    }
    return out;
}

}  // namespace

TEST_CASE("assessment JSON: a finding under several types is the same complete object each time", "[write][json]") {
    Bundle b = Bundle::withBackground();
    b.procedure(kSct, "11466000", "2025-11-08T10:00:00Z");  // caesarean: abdominal deferred
    b.condition(kSct, "128053003");                         // a DVT: escalates every type
    const Assessment a = assessRecord(b.json(), "2025-11-15");
    REQUIRE(a.escalated());
    const std::string json = writeAssessmentJson(a, content(), "test");
    const auto byType = findingsByType(json);
    REQUIRE(byType.size() == a.massages.size());
    size_t shared = 0;
    for (size_t t = 0; t < a.massages.size(); ++t) {
        const auto& list = byType.at(content().massageTypes[t].code);
        REQUIRE(list.size() == a.massages[t].findings.size());
        for (size_t k = 0; k < list.size(); ++k) {
            const Finding& f = a.findings[a.massages[t].findings[k]];
            CHECK_THAT(list[k], Catch::StartsWith("{\"rule\":\"" + f.rule->id + "\""));
            // The same finding under another type: byte for byte the same object.
            for (size_t u = 0; u < t; ++u) {
                const auto& other = a.massages[u].findings;
                for (size_t m = 0; m < other.size(); ++m)
                    if (other[m] == a.massages[t].findings[k]) {
                        CHECK(byType.at(content().massageTypes[u].code)[m] == list[k]);
                        ++shared;
                    }
            }
        }
    }
    CHECK(shared >= 3);  // the escalation, at least, is under all four types
}

// ---- clinical rules 1.1, the wording rules, in the JSON and the text -------------------------------

namespace {

// A vaginal birth 10 days ago, an active anticoagulant (a modification with per-type wording), no
// allergy list (a data gap with advice), and, when asked, a DVT (escalates every type).
Bundle wordingRecord(bool dvt) {
    Bundle b = Bundle::withBackground();
    b.procedure(kSct, "177184002", "2025-11-05T10:00:00Z");
    b.medicationRequest(kRxNorm, "67108");  // enoxaparin
    if (dvt) b.condition(kSct, "128053003");
    return b;
}

simdjson::dom::element parsed(simdjson::dom::parser& parser, const std::string& json) {
    simdjson::dom::element root;
    REQUIRE(parser.parse(json).get(root) == simdjson::SUCCESS);
    return root;
}

std::vector<std::string> strings(simdjson::dom::element array) {
    std::vector<std::string> out;
    for (simdjson::dom::element e : array.get_array()) out.emplace_back(std::string_view(e.get_string()));
    return out;
}

}  // namespace

TEST_CASE("rule 11: an escalate result lists data gaps by name only and gives no massage advice (JSON, text)",
          "[write][json][rules-1.1]") {
    const Assessment a = assessRecord(wordingRecord(true).json(), "2025-11-15");
    REQUIRE(a.escalated());
    REQUIRE(hasFinding(a, "PPM-PREC-01"));  // the anticoagulant is found, but its advice must not show
    REQUIRE(hasGap(a, "allergies"));
    const std::string json = writeAssessmentJson(a, content(), "test");
    const std::string text = writeAssessmentText(a, content(), "test");
    for (const std::string& out : {json, text}) {
        INFO(out);
        CHECK(out.find("Light pressure") == std::string::npos);   // massage advice
        CHECK(out.find("injection sites") == std::string::npos);  // positions and sites
        CHECK(out.find("fragrance-free") == std::string::npos);   // products (the allergy gap's advice)
        CHECK(out.find("No allergy list") != std::string::npos);  // the gap, by name
        CHECK(out.find("Seek urgent clinical assessment") != std::string::npos);
    }
    simdjson::dom::parser parser;
    const auto root = parsed(parser, json);
    for (auto type : root["massages"].get_object()) CHECK(strings(type.value["actions"]).empty());
    for (simdjson::dom::element g : root["dataGaps"].get_array())
        CHECK(std::string_view(g["text"].get_string()) == std::string_view(g["name"].get_string()));
}

TEST_CASE("rule 11: without a warning sign the same record keeps its advice and its gap texts",
          "[write][json][rules-1.1]") {
    const Assessment a = assessRecord(wordingRecord(false).json(), "2025-11-15");
    REQUIRE(!a.escalated());
    const std::string json = writeAssessmentJson(a, content(), "test");
    CHECK(json.find("Light pressure only") != std::string::npos);
    CHECK(json.find("fragrance-free") != std::string::npos);
}

TEST_CASE("rule 12: \"avoid injection sites\" only under abdominal massage (JSON actions, text)",
          "[write][json][rules-1.1]") {
    const Assessment a = assessRecord(wordingRecord(false).json(), "2025-11-25");  // day 20: abdominal allowed
    REQUIRE(outcomes(a).at("breast") == "modify");
    const std::string json = writeAssessmentJson(a, content(), "test");
    simdjson::dom::parser parser;
    const auto root = parsed(parser, json);
    for (auto type : root["massages"].get_object()) {
        const std::string code(type.key);
        const auto actions = strings(type.value["actions"]);
        REQUIRE(!actions.empty());
        bool injection = false, light = false;
        for (const auto& s : actions) {
            injection |= s.find("injection sites") != std::string::npos;
            light |= s.find("Light pressure only") != std::string::npos;
        }
        INFO(code);
        CHECK(light);
        CHECK(injection == (code == "abdominal"));
    }
    // The text writes each type's own wording under it.
    const std::string text = writeAssessmentText(a, content(), "test");
    const size_t breast = text.find("Breast massage:");
    const size_t neck = text.find("Shoulder and neck massage:");
    REQUIRE(breast != std::string::npos);
    REQUIRE(neck != std::string::npos);
    CHECK(text.substr(breast, neck - breast).find("injection sites") == std::string::npos);
    CHECK(text.substr(0, text.find("Low-back massage:")).find("injection sites") != std::string::npos);
}

TEST_CASE("rule 16: draft content says so at the top of the text and in the JSON", "[write][json][rules-1.1]") {
    REQUIRE(content().draft);
    const Assessment a = assessRecord(wordingRecord(false).json(), "2025-11-15");
    const std::string text = writeAssessmentText(a, content(), "test");
    const size_t secondLine = text.find('\n') + 1;
    CHECK(text.substr(secondLine, text.find('\n', secondLine) - secondLine) ==
          "DRAFT: Draft content: not yet clinically signed off.");
    simdjson::dom::parser parser;
    const auto root = parsed(parser, writeAssessmentJson(a, content(), "test"));
    CHECK(bool(root["draft"].get_bool()));
    CHECK(std::string_view(root["draftNotice"].get_string()) == "Draft content: not yet clinically signed off");
}
