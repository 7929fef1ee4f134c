// One reading of a record: the same record in FHIR JSON and FHIR XML gives identical facts (not
// only identical outcomes). Every in-repo FHIR fixture is read in both formats (the XML made from
// the JSON by tests/support/fhir_xml_convert), and the real JSON/XML twins in ../shared are
// compared as published. Every JSON vignette of the rule tests is checked the same way
// (tests/support/test_env.cpp, assessRecord), and as C-CDA (its twin made by
// support/fhir_ccda_convert). The C-CDA fixtures (tests/ccda: one per rule and more, with their FHIR
// twins) are compared on facts without sources, findings and outcomes.
#include <catch2/catch.hpp>

#include <simdjson.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "base/errors.hpp"
#include "read/record_mapping.hpp"
#include "read/record_reader.hpp"
#include "support/fhir_builder.hpp"
#include "support/fhir_ccda_convert.hpp"
#include "support/fhir_xml_convert.hpp"
#include "support/test_env.hpp"

using namespace ppmg::core;
using namespace ppmg::test;
namespace fs = std::filesystem;

namespace {

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

PatientRecord facts(const std::string& text, ppmg_input_format format, const std::string& name) {
    return mapRecord(readRecord(text, format, ReadLimits{}, name), "", content(), name);
}

// The fixture read as JSON and as the XML made from it: the same facts and the same outcomes.
void checkTwins(const std::string& name, const std::string& json, const std::string& xml, const std::string& asOf) {
    INFO(name);
    const PatientRecord j = facts(json, PPMG_INPUT_FHIR_JSON, name);
    const PatientRecord x = facts(xml, PPMG_INPUT_FHIR_XML, name);
    CHECK(describeFacts(j) == describeFacts(x));
    const Date d = *parseIsoDate(asOf);
    CHECK(outcomes(assess(content(), j, d)) == outcomes(assess(content(), x, d)));
}

std::vector<std::string> jsonFiles(const std::string& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().extension() == ".json") out.push_back(e.path().string());
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

TEST_CASE("Parity: every in-repo FHIR fixture gives the same facts in JSON and XML", "[parity]") {
    std::vector<std::string> files = {std::string(PPMG_SAMPLES_DIR) + "/sample-patient.json"};
    for (const auto& dir : {std::string(PPMG_TEST_DIR) + "/browser/vignettes", std::string(PPMG_TEST_DIR) + "/parity"})
        for (const auto& f : jsonFiles(dir)) files.push_back(f);
    REQUIRE(files.size() >= 6);
    for (const auto& f : files) {
        const std::string json = slurp(f);
        checkTwins(f, json, fhirJsonToXml(json), "2025-11-15");
    }
}

TEST_CASE("Parity: the shared examples and the published JSON/XML twins give the same facts", "[parity][shared]") {
    PPMG_REQUIRE_SHARED();
    for (const auto& f : jsonFiles(sharedDir() + "/examples")) {
        if (fs::path(f).filename() == "expected.json") continue;
        const std::string json = slurp(f);
        checkTwins(f, json, fhirJsonToXml(json), "2025-11-15");
    }
    // Published twins: the same Synthea patient and the FHIR specification's examples, each as
    // its publisher serialised it in JSON and in XML.
    const std::string data = sharedDir() + "/data/";
    const std::pair<const char*, const char*> twins[] = {
        {"synthea-pathling/Bennett146_Swaniawski813_704c9750-f6e6-473b-ee83-fbd48e07fe3f.json",
         "synthea-pathling/Bennett146_Swaniawski813_704c9750-f6e6-473b-ee83-fbd48e07fe3f.xml"},
        {"fhir-r4-examples/json/patient-example.json", "fhir-r4-examples/xml/patient-example.xml"},
        {"fhir-r4-examples/json/patient-example-mom.json", "fhir-r4-examples/xml/patient-example-mom(mom).xml"},
    };
    for (const auto& t : twins) checkTwins(t.first, slurp(data + t.first), slurp(data + t.second), "2025-06-01");
}

TEST_CASE("Parity: medication references in every shape servers write resolve alike in JSON and XML",
          "[parity][medication]") {
    const std::string json = slurp(std::string(PPMG_TEST_DIR) + "/parity/medication-references.json");
    for (ppmg_input_format format : {PPMG_INPUT_FHIR_JSON, PPMG_INPUT_FHIR_XML}) {
        const std::string text = format == PPMG_INPUT_FHIR_JSON ? json : fhirJsonToXml(json);
        const PatientRecord r = facts(text, format, "medication-references");
        INFO(describeFacts(r));
        REQUIRE(r.medications.size() == 7);
        auto code = [&](size_t i) {
            return r.medications[i].codes.empty() ? std::string() : std::string(r.medications[i].codes[0].code);
        };
        CHECK(code(0) == "67108");    // Medication/enox
        CHECK(code(1) == "67108");    // Medication/enox/_history/2
        CHECK(code(2) == "67108");    // https://.../Medication/enox
        CHECK(code(3) == "67108");    // https://.../Medication/enox/_history/2
        CHECK(code(4) == "1364430");  // urn:uuid: fullUrl
        CHECK(code(5) == "855332");   // #contained
        for (size_t i = 0; i < 6; ++i) CHECK_FALSE(r.medications[i].unresolved);
        CHECK(r.medications[6].unresolved);  // Medication/not-here
        // Subjects in every shape name the patient.
        for (const auto& m : r.medications) CHECK(m.whose == Whose::Patient);
        // Every resolved anticoagulant cites its own record in the precaution.
        const Assessment a = assess(content(), r, *parseIsoDate("2025-11-15"));
        size_t cited = 0;
        for (const auto& f : a.findings)
            if (f.outcome == Outcome::Modify)
                for (const auto& e : f.evidence)
                    cited += std::string_view(e.resourceType).substr(0, 10) == "Medication";
        CHECK(cited >= 6);
    }
}

// ---- HL7 v2 ------------------------------------------------------------------------------------

namespace {

std::vector<std::string> hl7v2Fixtures() {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(std::string(PPMG_TEST_DIR) + "/hl7v2"))
        if (e.path().extension() == ".hl7") out.push_back(e.path().string());
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

TEST_CASE("Parity: every HL7 v2 fixture gives the facts and outcomes of its FHIR twin", "[parity][hl7v2]") {
    const auto files = hl7v2Fixtures();
    REQUIRE(files.size() >= 3);
    for (const auto& f : files) {
        const std::string twin = f.substr(0, f.size() - 4) + ".json";
        INFO(f);
        REQUIRE(fs::exists(twin));
        const std::string v2 = slurp(f), json = slurp(twin);
        for (const std::string patient : {"", "BABY-1"}) {
            if (!patient.empty() && v2.find(patient) == std::string::npos) continue;
            INFO("patient " << (patient.empty() ? "(chosen)" : patient));
            const PatientRecord a = mapRecord(readRecord(v2, PPMG_INPUT_AUTO, ReadLimits{}, f), patient, content(), f);
            const PatientRecord b =
                mapRecord(readRecord(json, PPMG_INPUT_FHIR_JSON, ReadLimits{}, twin), patient, content(), twin);
            CHECK(describeFacts(a, false) == describeFacts(b, false));
            const Date d = *parseIsoDate("2025-11-15");
            CHECK(outcomes(assess(content(), a, d)) == outcomes(assess(content(), b, d)));
        }
    }
}

TEST_CASE("Parity: the rule vignettes have HL7 v2 twins that give the same findings", "[parity][hl7v2]") {
    // assessRecord checks every JSON vignette's v2 twin (tests/support/test_env.cpp); here, that the
    // twins exist for the vignettes' shapes and are checked.
    const size_t before = hl7v2TwinCount();
    Bundle b = Bundle::withBackground();
    b.procedure(kSct, "11466000", "2025-10-20T08:00:00Z").woundStatus("healing", "2025-11-14T08:00:00Z");
    b.bloodPressure(150, 100, "2025-11-13T08:00:00Z").quantity("8310-5", 38.4, "Cel", "2025-11-14T07:00:00+02:00");
    b.medicationRequest(kRxNorm, "67108", "on-hold").allergy(kSct, "300916003").encounter("169762003", "2025-11-01");
    b.condition(kIcd10cm, "O91.2", "active", "provisional").deliveryDate("2025-10-20");
    assessRecord(b.json(), "2025-11-15");
    Bundle plain = Bundle::withBackground();
    plain.procedure(kSct, "177184002", "2025-11-01").quantity("777-3", 95, "10*9/L", "2025-11-14");
    assessRecord(plain.json(), "2025-11-15");
    CHECK(hl7v2TwinCount() == before + 2);
}

// ---- C-CDA ----------------------------------------------------------------------------------------

namespace {

std::map<std::string, std::string> outcomesOf(simdjson::dom::object o) {
    std::map<std::string, std::string> out;
    for (auto field : o) out[std::string(field.key)] = std::string(std::string_view(field.value.get_string()));
    return out;
}

}  // namespace

TEST_CASE("Parity: each C-CDA rule fixture gives its FHIR twin's facts, findings and outcomes", "[parity][ccda]") {
    const std::string dir = std::string(PPMG_TEST_DIR) + "/ccda/";
    simdjson::dom::parser parser;
    simdjson::padded_string manifest(slurp(dir + "cases.json"));
    simdjson::dom::element root = parser.parse(manifest);
    const Date asOf = *parseIsoDate(std::string_view(root["asOf"].get_string()));
    std::set<std::string> rules;
    size_t cases = 0, handwritten = 0;
    for (simdjson::dom::element c : root["cases"].get_array()) {
        const std::string name(std::string_view(c["name"].get_string()));
        INFO(name);
        std::string fhirPatient, ccdaPatient;  // a record with several patients names the one to assess
        simdjson::dom::object patient;
        if (!c["patient"].get(patient)) {
            fhirPatient = std::string(std::string_view(patient["fhir"].get_string()));
            ccdaPatient = std::string(std::string_view(patient["ccda"].get_string()));
        }
        const PatientRecord fhir =
            mapRecord(readRecord(slurp(dir + "twins/" + name + ".json"), PPMG_INPUT_FHIR_JSON, ReadLimits{}, name),
                      fhirPatient, content(), name);
        const PatientRecord ccda = mapRecord(
            readRecord(slurp(dir + name + ".xml"), PPMG_INPUT_CCDA, ReadLimits{}, name), ccdaPatient, content(), name);
        CHECK(comparableFacts(ccda) == comparableFacts(fhir));
        const Assessment a = assess(content(), fhir, asOf), b = assess(content(), ccda, asOf);
        CHECK(assessmentSummary(b) == assessmentSummary(a));
        CHECK(outcomes(b) == outcomesOf(c["outcomes"].get_object()));
        std::set<std::string> fired, expected;
        for (const auto& f : b.findings) fired.insert(f.rule->id);
        for (simdjson::dom::element r : c["rules"].get_array())
            expected.insert(std::string(std::string_view(r.get_string())));
        CHECK(fired == expected);
        rules.insert(fired.begin(), fired.end());
        handwritten += std::string_view(c["made"].get_string()) == "handwritten";
        ++cases;
    }
    CHECK(cases >= 51);
    CHECK(handwritten >= 13);
    // A fixture for every rule of the content.
    for (const Rule& r : content().rules) {
        INFO(r.id);
        CHECK(rules.count(r.id) == 1);
    }
}

TEST_CASE("Parity: the benchmark bundles and their C-CDA twins give the same findings", "[parity][ccda][shared]") {
    PPMG_REQUIRE_SHARED();
    const Date asOf = *parseIsoDate("2025-06-01");
    for (const char* n : {"bundle_50_0", "bundle_50_7", "bundle_200_0", "bundle_1000_0"}) {
        INFO(n);
        const std::string json = slurp(sharedDir() + "/bench/data/" + n + ".json");
        const CcdaConversion twin = fhirJsonToCcda(json, oidOf);
        const PatientRecord fhir = facts(json, PPMG_INPUT_FHIR_JSON, n);
        const PatientRecord ccda = facts(twin.xml, PPMG_INPUT_CCDA, n);
        CHECK(ccda.observations.size() >= fhir.observations.size());  // a panel's components apart
        CHECK(ccda.conditions.size() == fhir.conditions.size());
        CHECK(ccda.medications.size() == fhir.medications.size());
        // The bundles' allergies have no clinical status; their concern's (active) is read instead.
        CHECK(assessmentSummary(assess(content(), ccda, asOf)) == assessmentSummary(assess(content(), fhir, asOf)));
    }
}
