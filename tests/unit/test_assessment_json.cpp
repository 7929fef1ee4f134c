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
