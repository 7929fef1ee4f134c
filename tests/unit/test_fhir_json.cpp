// The FHIR R4 JSON reader: what it keeps, and how it refuses what it cannot read.
#include <catch2/catch.hpp>

#include "base/errors.hpp"
#include "read/record_reader.hpp"

using namespace ppmg::core;

namespace {

RawRecord read(const std::string& json, ReadLimits limits = {}) { return readFhirJson(json, limits, "t.json"); }

ppmg_status statusOf(const std::string& input, ReadLimits limits = {}) {
    try {
        readRecord(input, PPMG_INPUT_AUTO, limits, "t.json");
    } catch (const Error& e) {
        CHECK(e.where().file == "t.json");
        CHECK(std::string(e.what()).size() > 10);
        return e.status();
    }
    return PPMG_OK;
}

}  // namespace

TEST_CASE("JSON: a bare Patient", "[read][json]") {
    auto r = read(R"({"resourceType":"Patient","id":"p1","gender":"female","birthDate":"1990-05-06",
        "identifier":[{"system":"urn:oid:1.2.3","value":"MRN1"}],
        "name":[{"use":"usual","given":["Al"]},{"use":"official","family":"Ng","given":["Mei","Lin"]}]})");
    REQUIRE(r.patients.size() == 1);
    const Patient& p = r.patients[0];
    CHECK(p.source.id == "p1");
    CHECK(p.source.pathText() == "Patient");
    CHECK(p.gender == "female");
    CHECK(formatIsoDate(*p.birthDate) == "1990-05-06");
    CHECK(p.family == "Ng");
    CHECK(p.given == std::vector<Text>{"Mei", "Lin"});
    REQUIRE(p.identifiers.size() == 1);
    CHECK(p.identifiers[0].value == "MRN1");
    CHECK(r.bundleType.empty());
}

TEST_CASE("JSON: a bundle keeps every fact with its source", "[read][json]") {
    auto r = read(R"({"resourceType":"Bundle","type":"searchset","entry":[
      {"fullUrl":"urn:uuid:p","resource":{"resourceType":"Patient","id":"p"}},
      {"search":{"mode":"match"}},
      {"resource":{"resourceType":"Observation","id":"bp","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},
        "subject":{"reference":"urn:uuid:p"},"effectivePeriod":{"start":"2025-01-02T03:04:05+01:00"},
        "component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":141,"unit":"mmHg","code":"mm[Hg]"}}]}},
      {"resource":{"resourceType":"Observation","id":"w","code":{"coding":[{"code":"x"}]},"valueCodeableConcept":{"coding":[{"system":"s","code":"healed"}]},"issued":"2025-01-03T00:00:00Z"}},
      {"resource":{"resourceType":"Condition","id":"c","clinicalStatus":{"coding":[{"code":"active"}]},"verificationStatus":{"coding":[{"code":"provisional"}]},
        "code":{"coding":[{"system":"http://snomed.info/sct","code":"128053003","display":"DVT"}]},"onsetDateTime":"2025-01-01"}},
      {"resource":{"resourceType":"Procedure","id":"pr","status":"completed","code":{"coding":[{"code":"11466000"}]},"performedPeriod":{"start":"2025-01-01T10:00:00Z"}}},
      {"fullUrl":"http://x/Medication/m","resource":{"resourceType":"Medication","id":"m","code":{"coding":[{"system":"rx","code":"67108"}]}}},
      {"resource":{"resourceType":"MedicationRequest","id":"mr","status":"active","medicationReference":{"reference":"Medication/m"},"authoredOn":"2025-01-01"}},
      {"resource":{"resourceType":"MedicationStatement","id":"ms","status":"active","medicationReference":{"reference":"#c1"},
        "contained":[{"resourceType":"Medication","id":"c1","code":{"coding":[{"system":"rx","code":"11289"}]}}]}},
      {"resource":{"resourceType":"AllergyIntolerance","id":"a","patient":{"reference":"Patient/p"},"clinicalStatus":{"coding":[{"code":"active"}]},"code":{"coding":[{"code":"300916003"}]}}},
      {"resource":{"resourceType":"Encounter","id":"e","type":[{"coding":[{"code":"183460006"}]}],"period":{"start":"2025-01-01"}}},
      {"resource":{"resourceType":"Claim","id":"ignored"}}]})");
    CHECK(r.bundleType == "searchset");
    CHECK(r.resourceCount == 11);
    REQUIRE(r.observations.size() == 2);
    const Observation& bp = r.observations[0];
    CHECK(bp.source.pathText() == "Bundle.entry[2].resource");
    CHECK(bp.subject == "urn:uuid:p");
    CHECK(bp.effective->text == "2025-01-02T03:04:05+01:00");
    REQUIRE(bp.components.size() == 1);
    CHECK(bp.components[0].quantity.value == 141);
    CHECK(bp.components[0].quantity.unit == "mm[Hg]");
    CHECK(r.observations[1].valueCodes[0].code == "healed");
    CHECK(!r.observations[1].effective);
    REQUIRE(r.observations[1].issued);
    CHECK(r.observations[1].issued->text == "2025-01-03T00:00:00Z");
    REQUIRE(r.conditions.size() == 1);
    CHECK(r.conditions[0].clinicalStatusCodings.at(0).code == "active");
    CHECK(r.conditions[0].verificationStatusCodings.at(0).code == "provisional");
    CHECK(r.conditions[0].codes[0].display == "DVT");
    CHECK(r.procedures[0].performed->text == "2025-01-01T10:00:00Z");
    REQUIRE(r.medications.size() == 2);
    // The parser keeps references as written; the mapping resolves them (test_record_mapping.cpp).
    CHECK(r.medications[0].medicationReference == "Medication/m");
    CHECK(r.medications[1].medicationReference == "#c1");
    REQUIRE(r.medicationDefinitions.size() == 2);
    CHECK(r.medicationDefinitions[1].id == "c1");
    CHECK(r.medicationDefinitions[1].containedIn == 1);
    CHECK(r.medicationDefinitions[1].codes.at(0).code == "11289");
    CHECK(r.allergies[0].subject == "Patient/p");
    CHECK(r.encounters[0].types[0].code == "183460006");
}

TEST_CASE("JSON: an Encounter's types are every coding of every type, in order", "[read][json]") {
    RawRecord r = read(R"({"resourceType":"Bundle","type":"collection","entry":[
      {"resource":{"resourceType":"Patient","id":"p"}},
      {"resource":{"resourceType":"Encounter","id":"e","type":[
        {"coding":[{"system":"http://snomed.info/sct","code":"183460006"}]},
        {"text":"no codings"},
        {"coding":[{"system":"http://snomed.info/sct","code":"169762003","display":"Postnatal visit"},
                   {"system":"urn:local","code":"pn"}]}]}}]})");
    REQUIRE(r.encounters.size() == 1);
    const Codings& t = r.encounters[0].types;
    REQUIRE(t.size() == 3);
    CHECK(t[0].code == "183460006");
    CHECK(t[1].display == "Postnatal visit");
    CHECK(t[2].system == "urn:local");
    CHECK(t[2].code == "pn");

    // Many types are gathered once, not copied again for each (which would be quadratic).
    std::string many = R"({"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient","id":"p"}},)"
                       R"({"resource":{"resourceType":"Encounter","type":[)";
    for (int i = 0; i < 50000; ++i)
        many += std::string(i ? "," : "") + R"({"coding":[{"system":"s","code":")" + std::to_string(i) + "\"}]}";
    many += "]}}]}";
    RawRecord big = read(many);
    REQUIRE(big.encounters[0].types.size() == 50000);
    CHECK(big.encounters[0].types[49999].code == "49999");
}

TEST_CASE("JSON: broken input is refused with a specific status", "[read][json][errors]") {
    CHECK(statusOf(R"({"resourceType":"Bundle","entry":[)") == PPMG_E_PARSE);
    CHECK(statusOf("") == PPMG_E_PARSE);
    CHECK(statusOf("hello") == PPMG_E_PARSE);
    std::string withNul = R"({"resourceType":"Patient","id":"a)";
    withNul.push_back('\0');
    withNul += R"(b"})";
    CHECK(statusOf(withNul) == PPMG_E_ENCODING);
    CHECK(statusOf("{\"resourceType\":\"Patient\",\"id\":\"\xC3\x28\"}") == PPMG_E_ENCODING);
    CHECK(statusOf(R"([1,2,3])") == PPMG_E_NOT_FHIR);
    CHECK(statusOf(R"({"hello":"world"})") == PPMG_E_NOT_FHIR);
    CHECK(statusOf(R"({"resourceType":"Patient","gender":42})") == PPMG_E_NOT_FHIR);
    CHECK(statusOf(R"({"resourceType":"Patient","birthDate":"yesterday"})") == PPMG_E_NOT_FHIR);
    CHECK(statusOf(R"({"resourceType":"Bundle","entry":{"resource":{}}})") == PPMG_E_NOT_FHIR);
    CHECK(statusOf(R"({"resourceType":"Observation","id":"o"})") == PPMG_E_NO_PATIENT);
    CHECK(statusOf(R"({"resourceType":"Bundle","type":"collection","entry":[]})") == PPMG_E_NO_PATIENT);
}

TEST_CASE("JSON: limits on size, depth and resources", "[read][json][limits]") {
    ReadLimits small;
    small.maxInputBytes = 20;
    CHECK(statusOf(R"({"resourceType":"Patient","id":"p"})", small) == PPMG_E_LIMIT);
    ReadLimits shallow;
    shallow.maxDepth = 4;
    CHECK(statusOf(R"({"resourceType":"Patient","a":{"b":{"c":{"d":{"e":1}}}}})", shallow) == PPMG_E_LIMIT);
    ReadLimits few;
    few.maxResources = 2;
    CHECK(statusOf(R"({"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient"}},
        {"resource":{"resourceType":"Patient"}},{"resource":{"resourceType":"Patient"}}]})",
                   few) == PPMG_E_LIMIT);
    ReadLimits shortStrings;
    shortStrings.maxStringBytes = 8;
    CHECK(statusOf(R"({"resourceType":"Patient","id":"a-very-long-identifier"})", shortStrings) == PPMG_E_LIMIT);
}

TEST_CASE("JSON: a byte order mark and leading space are accepted", "[read][json]") {
    auto r = readRecord("\xEF\xBB\xBF  {\"resourceType\":\"Patient\",\"id\":\"x\"}", PPMG_INPUT_AUTO, {}, "t.json");
    CHECK(r.patients.size() == 1);
}
