// Every file under ../shared/data (real public records nobody here wrote): a FHIR R4 record
// with a Patient, or a C-CDA document with a recordTarget, is assessed and rendered to
// schema-valid CDA; anything else (C-CDA fragments among it) is refused with a specific status and
// a message, never a crash or a document.
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <simdjson.h>

#include <filesystem>

#include "base/errors.hpp"
#include "guidance_engine.hpp"
#include "support/cda_schema.hpp"
#include "support/test_env.hpp"

using namespace ppmg::core;
using namespace ppmg::test;
namespace fs = std::filesystem;

namespace {

// An independent look at the file: does it hold a FHIR R4 Patient (alone or in a Bundle)?
// Counts the FHIR R4 Patients in the file (alone or in a Bundle); 0 when it is not FHIR.
size_t jsonPatients(const std::string& text) {
    simdjson::dom::parser parser;
    simdjson::padded_string padded(text);
    simdjson::dom::element root;
    if (parser.parse(padded).get(root)) return 0;
    std::string_view type;
    if (root["resourceType"].get(type)) return 0;
    if (type == "Patient") return 1;
    if (type != "Bundle") return 0;
    simdjson::dom::array entries;
    if (root["entry"].get(entries)) return 0;
    size_t n = 0;
    for (auto e : entries) {
        std::string_view t;
        if (!e["resource"]["resourceType"].get(t) && t == "Patient") ++n;
    }
    return n;
}

size_t xmlPatients(const std::string& text) {
    xmlDocPtr doc = xmlReadMemory(text.data(), static_cast<int>(text.size()), "x", nullptr,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc) return 0;
    size_t found = 0;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    auto fhir = [](xmlNodePtr n) {
        return n && n->type == XML_ELEMENT_NODE && n->ns && xmlStrEqual(n->ns->href, BAD_CAST "http://hl7.org/fhir");
    };
    const bool cda = root && root->ns && xmlStrEqual(root->ns->href, BAD_CAST "urn:hl7-org:v3") &&
                     xmlStrEqual(root->name, BAD_CAST "ClinicalDocument");
    if (cda)
        for (xmlNodePtr t = root->children; t; t = t->next)
            if (t->type == XML_ELEMENT_NODE && xmlStrEqual(t->name, BAD_CAST "recordTarget")) ++found;
    if (fhir(root)) {
        if (xmlStrEqual(root->name, BAD_CAST "Patient")) found = 1;
        for (xmlNodePtr e = root->children; e; e = e->next)
            for (xmlNodePtr r = e->children; r; r = r->next)
                if (fhir(r) && xmlStrEqual(r->name, BAD_CAST "resource"))
                    for (xmlNodePtr res = r->children; res; res = res->next)
                        if (fhir(res) && xmlStrEqual(res->name, BAD_CAST "Patient")) ++found;
    }
    xmlFreeDoc(doc);
    return found;
}

// HL7 v2: the messages' PID segments (each file here is about one patient).
size_t hl7v2Patients(const std::string& text) {
    size_t n = text.rfind("PID|", 0) == 0 ? 1 : 0;
    for (const char* sep : {"\rPID|", "\nPID|"})
        for (size_t at = text.find(sep); at != std::string::npos; at = text.find(sep, at + 1)) ++n;
    return n ? 1 : 0;
}

}  // namespace

TEST_CASE(
    "Real records: FHIR records, C-CDA documents and HL7 v2 messages with a patient render valid CDA, "
    "everything else is refused",
    "[real-data][shared]") {
    PPMG_REQUIRE_SHARED();
    const std::string xsd = sharedDir() + "/schemas/cda/schema/extensions/SDTC/infrastructure/cda/CDA_SDTC.xsd";
    static GuidanceEngine engine{EngineConfig{}};
    size_t rendered = 0, refused = 0;
    for (const auto& entry : fs::recursive_directory_iterator(sharedDir() + "/data")) {
        if (!entry.is_regular_file() || entry.path().filename() == "README.md") continue;
        const std::string path = entry.path().string();
        const std::string text = readText(path);
        std::string ext = entry.path().extension().string();
        for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));  // CCD.XML
        const size_t patients = ext == ".json"  ? jsonPatients(text)
                                : ext == ".xml" ? xmlPatients(text)
                                : ext == ".hl7" ? hl7v2Patients(text)
                                                : 0;
        INFO(path);
        RequestSpec req;
        req.data = text;
        req.sourceName = path;
        req.asOf = "2025-06-01";
        if (patients > 1) {
            // Several patients: either the delivery names one, or the refusal names them all and
            // the first candidate it names can then be chosen.
            try {
                engine.assess(req);
            } catch (const Error& e) {
                REQUIRE(e.status() == PPMG_E_AMBIGUOUS_PATIENT);
                std::string msg = e.what();
                size_t start = msg.find(": ", msg.find("name the patient to assess")) + 2;
                req.patientId = msg.substr(start, msg.find(' ', start) - start);
                INFO("choosing " << req.patientId);
            }
        }
        if (patients > 0) {
            std::string json, cda;
            REQUIRE_NOTHROW(json = engine.assess(req));
            CHECK_THAT(json, Catch::Contains("\"massages\""));
            REQUIRE_NOTHROW(cda = engine.render(req));
            CHECK(validateCda(cda, xsd).empty());
            ++rendered;
        } else {
            try {
                engine.render(req);
                FAIL("expected a refusal");
            } catch (const Error& e) {
                CHECK(e.status() != PPMG_E_INTERNAL);
                CHECK(e.where().file == path);
                CHECK(std::string(e.what()).size() > 10);
            }
            ++refused;
        }
    }
    INFO("rendered " << rendered << ", refused " << refused);
    CHECK(rendered >= 29);  // 9 of them C-CDA documents
    CHECK(refused >= 50);
}

TEST_CASE("Real records: the birth record assesses the mother and her caesarean", "[real-data][shared]") {
    PPMG_REQUIRE_SHARED();
    for (const char* file :
         {"/data/maternal-bfdr/BirthRecordBabyGQuinn.json", "/data/maternal-bfdr/BasicBirthRecord.xml"}) {
        INFO(file);
        Assessment a = assessRecord(readText(sharedDir() + file), "2019-03-04");
        CHECK(a.patient.source.id == "patient-mother-jada-ann-quinn");
        REQUIRE(a.episode.has_value());
        CHECK(a.episode->mode == DeliveryMode::Caesarean);
        CHECK(*a.postpartumDay == 20);
        CHECK(outcomes(a)["abdominal"] == "defer");  // a caesarean 20 days ago is never cleared
        CHECK(earliest(a, "abdominal") == "2019-03-12");
    }
}

TEST_CASE("Real records: older Synthea births are found, and a man is out of scope", "[real-data][shared]") {
    PPMG_REQUIRE_SHARED();
    const std::string dir = sharedDir() + "/data/";
    // Caesarean in 2019-12-27, a later obstetric admission in 2021 without a postnatal visit.
    Assessment ruthie = assessRecord(
        readText(dir + "synthea-smart-r4/Ruthie_Willms_3f59a802-9486-4fdd-a5f7-295fb92e89cf.json"), "2020-01-16");
    REQUIRE(ruthie.episode.has_value());
    CHECK(ruthie.episode->mode == DeliveryMode::Caesarean);
    CHECK(outcomes(ruthie)["abdominal"] != "no-flag");
    CHECK(outcomes(ruthie)["abdominal"] != "modify");
    // Episiotomy only: a vaginal birth.
    Assessment hyacinth = assessRecord(
        readText(dir + "synthea-smart-r4/Hyacinth_Bins_665c7335-79e2-4bf1-aa23-101930c6c70a.json"), "2018-03-10");
    REQUIRE(hyacinth.episode.has_value());
    CHECK(hyacinth.episode->mode == DeliveryMode::Vaginal);
    CHECK(earliest(hyacinth, "abdominal") == "2018-03-16");
    // Obstetric admission + postnatal visit only.
    Assessment melinda = assessRecord(
        readText(dir + "synthea-pathling/Melinda114_Thiel172_d1376fd1-810a-3a17-b510-3a1b4cd399b2.json"), "2016-02-10");
    REQUIRE(melinda.episode.has_value());
    CHECK(formatIsoDate(melinda.episode->date) == "2015-12-19");
    // A man, no delivery.
    Assessment luigi = assessRecord(
        readText(dir + "synthea-smart-r4/Luigi_Wiegand_e27d88b0-c5e5-4042-ad49-184f6a900ee3.json"), "2025-06-01");
    CHECK_FALSE(luigi.applicable);
    // A delivery years ago.
    Assessment catherine = assessRecord(
        readText(dir + "synthea-smart-r4/Catherine_Turner_fa4fbf0c-f581-41f2-889b-f3769e57681d.json"), "2025-06-01");
    CHECK_FALSE(catherine.applicable);
}
