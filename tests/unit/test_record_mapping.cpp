// The one mapping (read/record_mapping.hpp): references, medications, the patient, whose data,
// the date that counts and statuses, decided once after any parser.
#include <catch2/catch.hpp>

#include "base/errors.hpp"
#include "read/record_mapping.hpp"
#include "read/record_reader.hpp"
#include "support/test_env.hpp"

using namespace ppmg::core;
using namespace ppmg::test;

namespace {

PatientRecord mapJson(const std::string& json, const std::string& patient = "") {
    return mapRecord(readFhirJson(json, ReadLimits{}, "t.json"), patient, content(), "t.json");
}

std::string bundle(const std::string& entries) {
    return R"({"resourceType":"Bundle","type":"collection","entry":[)" + entries + "]}";
}

}  // namespace

TEST_CASE("Mapping: references are read into type, id and version", "[mapping][reference]") {
    using K = ResourceReference::Kind;
    auto r = readReference("Patient/abc");
    CHECK((r.kind == K::Relative && r.type == "Patient" && r.id == "abc" && r.version.empty()));
    r = readReference("Patient/abc/_history/2");
    CHECK((r.kind == K::Relative && r.id == "abc" && r.version == "2"));
    r = readReference("https://fhir.example.org/r4/Patient/abc/_history/7");
    CHECK((r.kind == K::Absolute && r.type == "Patient" && r.id == "abc" && r.version == "7"));
    CHECK(r.url == "https://fhir.example.org/r4/Patient/abc");
    r = readReference("urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a");
    CHECK((r.kind == K::Urn && r.id == "61ebe359-bfdc-4613-8bf2-c5e300945f0a"));
    r = readReference("#med1");
    CHECK((r.kind == K::Contained && r.id == "med1"));
    r = readReference("abc");
    CHECK((r.kind == K::Bare && r.id == "abc"));
    CHECK(readReference("").kind == K::None);
    CHECK(readReference("#").kind == K::Other);
    CHECK(readReference("foo/Patient/abc").kind == K::Other);  // relative with a path: not a reference here
    CHECK(readReference("patient/abc").kind == K::Other);      // not a resource type
    CHECK(readReference("https://fhir.example.org/").kind == K::Other);
}

TEST_CASE("Mapping: whose data: the patient's, another patient's (dropped) or unknown (kept, marked)",
          "[mapping][whose]") {
    const std::string json = bundle(
        R"({"fullUrl":"urn:uuid:m","resource":{"resourceType":"Patient","id":"m","gender":"female"}},
           {"resource":{"resourceType":"Patient","id":"b","gender":"male"}},
           {"resource":{"resourceType":"Procedure","id":"birth","status":"completed","subject":{"reference":"urn:uuid:m"},
             "code":{"coding":[{"system":"http://snomed.info/sct","code":"177184002"}]},"performedDateTime":"2025-10-01"}},
           {"resource":{"resourceType":"Condition","id":"mine","subject":{"reference":"Patient/m/_history/4"},"code":{"text":"x"}}},
           {"resource":{"resourceType":"Condition","id":"babys","subject":{"reference":"Patient/b"},"code":{"text":"x"}}},
           {"resource":{"resourceType":"Condition","id":"nobody","code":{"text":"x"}}},
           {"resource":{"resourceType":"Condition","id":"dangling","subject":{"reference":"Patient/elsewhere"},"code":{"text":"x"}}})");
    const PatientRecord r = mapJson(json);
    CHECK(r.patient.source.id == "m");  // the delivery's subject
    CHECK(r.patientCount == 2);
    REQUIRE(r.conditions.size() == 3);
    CHECK(r.conditions[0].source.id == "mine");
    CHECK(r.conditions[0].whose == Whose::Patient);
    CHECK(r.conditions[1].source.id == "nobody");
    CHECK(r.conditions[1].whose == Whose::Unknown);
    CHECK(r.conditions[2].source.id == "dangling");
    CHECK(r.conditions[2].whose == Whose::Unknown);
}

TEST_CASE("Mapping: repeated copies of one Patient are one patient, repeated facts are all kept",
          "[mapping][rule-21]") {
    const std::string json = bundle(
        R"({"resource":{"resourceType":"Patient","id":"m","gender":"female"}},
           {"resource":{"resourceType":"Patient","id":"m","gender":"female"}},
           {"resource":{"resourceType":"Condition","id":"dvt","subject":{"reference":"Patient/m"},
             "verificationStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":"entered-in-error"}]},
             "code":{"coding":[{"system":"http://snomed.info/sct","code":"128053003"}]}}},
           {"resource":{"resourceType":"Condition","id":"dvt","subject":{"reference":"Patient/m"},
             "verificationStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":"confirmed"}]},
             "code":{"coding":[{"system":"http://snomed.info/sct","code":"128053003"}]}}})");
    const PatientRecord r = mapJson(json);
    CHECK(r.patientCount == 1);
    REQUIRE(r.conditions.size() == 2);
    CHECK(r.conditions[0].verificationStatus.code == "entered-in-error");
    CHECK(r.conditions[1].verificationStatus.code == "confirmed");
}

TEST_CASE("Mapping: statuses are read from the HL7 coding, whatever its position, and compared exactly",
          "[mapping][status][rule-19]") {
    auto condition = [](const std::string& clinical) {
        return bundle(R"({"resource":{"resourceType":"Patient","id":"m"}},
                         {"resource":{"resourceType":"Condition","id":"c","clinicalStatus":)" +
                      clinical + R"(,"code":{"text":"x"}}})");
    };
    const std::string hl7 = "http://terminology.hl7.org/CodeSystem/condition-clinical";
    SECTION("a local coding before the HL7 one") {
        const auto r = mapJson(condition(R"({"coding":[{"system":"urn:local","code":"resolved"},{"system":")" + hl7 +
                                         R"(","code":"active"}]})"));
        CHECK(r.conditions[0].clinicalStatus.state == StatusReading::State::Read);
        CHECK(r.conditions[0].clinicalStatus.code == "active");
    }
    SECTION("a code that is not the HL7 code (case matters)") {
        const auto r = mapJson(condition(R"({"coding":[{"system":")" + hl7 + R"(","code":"Active"}]})"));
        CHECK(r.conditions[0].clinicalStatus.state == StatusReading::State::Unreadable);
    }
    SECTION("no HL7 coding") {
        const auto r = mapJson(condition(R"({"coding":[{"code":"resolved"}]})"));
        CHECK(r.conditions[0].clinicalStatus.state == StatusReading::State::Unreadable);
    }
    SECTION("two HL7 codings that disagree: the one under which it counts") {
        const auto r = mapJson(condition(R"({"coding":[{"system":")" + hl7 + R"(","code":"resolved"},{"system":")" +
                                         hl7 + R"(","code":"active"}]})"));
        CHECK(r.conditions[0].clinicalStatus.code == "active");
    }
    SECTION("absent") {
        const auto r = mapJson(bundle(R"({"resource":{"resourceType":"Patient","id":"m"}},
                                         {"resource":{"resourceType":"Condition","id":"c","code":{"text":"x"}}})"));
        CHECK(r.conditions[0].clinicalStatus.state == StatusReading::State::Absent);
    }
}

TEST_CASE("Mapping: the date that counts for each fact", "[mapping][dates][rule-1]") {
    const PatientRecord r = mapJson(bundle(
        R"({"resource":{"resourceType":"Patient","id":"m"}},
           {"resource":{"resourceType":"Observation","id":"o","status":"final","code":{"text":"x"},"issued":"2025-01-05T00:00:00Z"}},
           {"resource":{"resourceType":"Condition","id":"c","code":{"text":"x"},"recordedDate":"2025-01-06","abatementPeriod":{"start":"2025-02-01","end":"2025-03-01"}}},
           {"resource":{"resourceType":"MedicationRequest","id":"mr","status":"active","medicationCodeableConcept":{"text":"x"},"authoredOn":"2025-01-07"}},
           {"resource":{"resourceType":"MedicationStatement","id":"ms","status":"active","medicationCodeableConcept":{"text":"x"},"dateAsserted":"2025-01-08"}},
           {"resource":{"resourceType":"AllergyIntolerance","id":"a","patient":{"reference":"Patient/m"},"onsetDateTime":"2025-01-09","recordedDate":"2025-01-10"}})"));
    CHECK(formatIsoDate(r.observations[0].when->date) == "2025-01-05");     // issued, for want of effective[x]
    CHECK(formatIsoDate(r.conditions[0].when->date) == "2025-01-06");       // recordedDate, for want of onset[x]
    CHECK(formatIsoDate(r.conditions[0].abatement->date) == "2025-03-01");  // abatementPeriod.end
    CHECK(formatIsoDate(r.medications[0].when->date) == "2025-01-07");
    CHECK(formatIsoDate(r.medications[1].when->date) == "2025-01-08");  // dateAsserted, for want of effective[x]
    CHECK(formatIsoDate(r.allergies[0].when->date) == "2025-01-09");    // onset before recordedDate
    // A medication with no coding at all is an unknown medication, like a reference to nothing.
    CHECK(r.medications[0].unresolved);
}

TEST_CASE("Mapping: a requested patient that the record does not hold is refused, naming the candidates",
          "[mapping][patient]") {
    try {
        mapJson(
            bundle(R"({"resource":{"resourceType":"Patient","id":"m","name":[{"family":"Ames","given":["Ann"]}]}})"),
            "x");
        FAIL("expected a refusal");
    } catch (const Error& e) {
        CHECK(e.status() == PPMG_E_AMBIGUOUS_PATIENT);
        CHECK_THAT(e.what(), Catch::Contains("Ann Ames"));
    }
}

TEST_CASE("Mapping: JSON with a repeated member name is refused as bad input", "[mapping][rule-21]") {
    for (
        const std::string& json :
        {std::string(R"({"resourceType":"Patient","id":"p1","id":"p2"})"),
         bundle(R"({"resource":{"resourceType":"Patient","id":"m"}},{"resource":{"resourceType":"Condition","id":"c",
             "verificationStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":"confirmed"}]},
             "verificationStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":"refuted"}]},
             "code":{"coding":[{"system":"http://snomed.info/sct","code":"128053003"}]}}})"),
         bundle(
             R"({"resource":{"resourceType":"Patient","id":"m"}},{"resource":{"resourceType":"Observation","id":"t","status":"final",
             "code":{"coding":[{"system":"http://loinc.org","code":"8310-5","code":"8867-4"}]}}})"),
         std::string(R"({"resourceType":"Patient","resourceType":"Observation","id":"p"})")}) {
        INFO(json);
        try {
            readFhirJson(json, ReadLimits{}, "t.json");
            FAIL("expected a refusal");
        } catch (const Error& e) {
            CHECK(e.status() == PPMG_E_NOT_FHIR);
            CHECK_THAT(e.what(), Catch::Contains("occurs twice"));
        }
    }
}

TEST_CASE("Mapping: a code system named by OID, urn:oid: or an HL7 v2 name is the system the content knows",
          "[mapping][systems]") {
    const PatientRecord r = mapJson(bundle(
        R"({"resource":{"resourceType":"Patient","id":"m"}},
           {"resource":{"resourceType":"Condition","id":"c","code":{"coding":[
             {"system":"2.16.840.1.113883.6.96","code":"128053003"},
             {"system":"urn:oid:2.16.840.1.113883.6.90","code":"O87.1"},
             {"system":"I10C","code":"O87.1"},
             {"system":"SCT","code":"128053003"},
             {"system":"http://snomed.info/sct","code":"128053003"},
             {"system":"2.25.318214975805081609918790724903688664766.1","code":"healed"},
             {"system":"urn:local","code":"x"}]}}})"));
    const Codings& c = r.conditions.at(0).codes;
    REQUIRE(c.size() == 7);
    CHECK(c[0].system == "http://snomed.info/sct");
    CHECK(c[1].system == "http://hl7.org/fhir/sid/icd-10-cm");
    CHECK(c[2].system == "http://hl7.org/fhir/sid/icd-10-cm");
    CHECK(c[3].system == "http://snomed.info/sct");
    CHECK(c[4].system == "http://snomed.info/sct");
    CHECK(c[5].system == PPMG_CODE_SYSTEM_URI);
    CHECK(c[6].system == "urn:local");  // unknown: as written
    // And so the rules see it: a DVT coded only by OID escalates.
    const Assessment a = assessRecord(bundle(
                                          R"({"resource":{"resourceType":"Patient","id":"m","gender":"female"}},
           {"resource":{"resourceType":"Condition","id":"c","code":{"coding":[{"system":"2.16.840.1.113883.6.96","code":"128053003"}]}}})"),
                                      "2025-11-15");
    CHECK(outcomes(a).at("abdominal") == "escalate");
}
