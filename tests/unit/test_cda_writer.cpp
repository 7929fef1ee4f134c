// The CDA writer: schema validity, the outcome entries, escaping of hostile patient text, the
// escalate / defer / not-applicable documents, provenance, narrative-entry links, threads.
#include <catch2/catch.hpp>

#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/errors.hpp"
#include "content/content.hpp"
#include "support/cda_schema.hpp"
#include "write/cda_writer.hpp"

using namespace ppmg::core;

namespace {

constexpr const char* kLocalSystem = "2.25.318214975805081609918790724903688664766.1";

Date day(int y, unsigned m, unsigned d) { return Date{daysFromCivil(y, m, d)}; }

bool fileExists(const std::string& path) { return std::ifstream(path).good(); }

// ---- a small content, built by hand -------------------------------------------------------

Rule rule(const std::string& id, Outcome outcome, std::vector<size_t> types, const std::string& reason,
          const std::string& action, std::vector<std::string> references) {
    Rule r;
    r.id = id;
    r.title = id;
    r.outcome = outcome;
    r.types = std::move(types);
    r.reason = reason;
    r.action = action;
    r.references = std::move(references);
    return r;
}

MassageType massageType(const std::string& code, const std::string& display, const std::string& bodySite) {
    MassageType t;
    t.code = code;
    t.display = display;
    t.bodySiteCode = bodySite;
    t.bodySiteDisplay = display + " structure";
    t.timing = display + " may start when no rule says otherwise.";
    t.technique = {display + " step one: warm the hands", display + " step two: slow strokes"};
    t.precautions = {"Stop if pain increases"};
    t.benefits = {{"Relaxation", "Low", {"R1"}}};
    t.notSupported = {{"Prevents haemorrhage", "Very low", {"R2"}}};
    t.references = {"R1"};
    return t;
}

// Rules, by index: 0 defer, 1 modify, 2 review, 3 block, 4 escalate, 5 not-applicable, 6 data gap.
std::shared_ptr<Content> smallContent() {
    auto c = std::make_shared<Content>();
    c->version = "2025.11-test";
    c->sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    c->title = "ppmg test content";
    c->signOff = "Signed off for tests only";
    c->draft = false;  // signed: the draft notice has its own test
    c->codeSystems.push_back({"loinc", "http://loinc.org", "2.16.840.1.113883.6.1", "LOINC", false, {}, ""});
    c->codeSystems.push_back({"sct", "http://snomed.info/sct", "2.16.840.1.113883.6.96", "SNOMED CT", false, {}, ""});
    c->massageTypes = {massageType("abdominal", "Abdominal massage", "818983003"),
                       massageType("low-back", "Low-back massage", "37822005"),
                       massageType("breast", "Breast massage", "76752008")};
    c->rules = {
        rule("PPM-TIME-01", Outcome::Defer, {0}, "Vaginal birth less than 14 days ago.", "", {"R1"}),
        rule("PPM-POS-01", Outcome::Modify, {1}, "Caesarean birth less than 42 days ago.",
             "Side-lying or seated, no prone lying.", {"R2"}),
        rule("PPM-REV-01", Outcome::Review, {0, 1, 2}, "Blood pressure 150/100 or above.",
             "Recheck the blood pressure before any massage.", {"R1", "R2"}),
        rule("PPM-BLK-01", Outcome::Block, {0, 1, 2}, "Fever.", "No massage until the fever settles.", {"R2"}),
        rule("PPM-ESC-01", Outcome::Escalate, {0, 1, 2}, "Severe hypertension.", "", {"R1"}),
        rule("PPM-APP-01", Outcome::NotApplicable, {0, 1, 2}, "No delivery on record and the patient is male.", "", {}),
        rule("PPM-REV-09", Outcome::Review, {0, 1, 2}, "Problem list not provided.", "Ask for the problem list.", {}),
    };
    c->rules[6].gap = "No Condition resource in the input";
    c->references = {{"R1", "Author A. A trial of postpartum massage. J Test. 2020;1:1-2.", "https://example.org/r1"},
                     {"R2", "Author B. A review. J Test. 2021;2:3-4.", "https://example.org/r2?a=1&b=2"},
                     {"R3", "Author C. Never cited.", "https://example.org/r3"}};
    c->warningSigns = {
        {"bleeding", "Heavy bleeding"}, {"fever", "Fever or shivering"}, {"calf", "Calf pain or swelling"}};
    c->warningSignsIntro = "Confirm none of these before any massage:";
    c->urgentText = "seek urgent clinical assessment";
    c->outcomeTexts[outcomeRank(Outcome::Escalate)] = {"Urgent", "Do not massage: seek urgent clinical assessment."};
    c->outcomeTexts[outcomeRank(Outcome::Block)] = {"Not recommended", "Not recommended for this patient."};
    c->outcomeTexts[outcomeRank(Outcome::Defer)] = {"Not yet", "Not yet: it may start on the earliest date."};
    c->outcomeTexts[outcomeRank(Outcome::Review)] = {"Clinician review", "A clinician should review first."};
    c->outcomeTexts[outcomeRank(Outcome::Modify)] = {"Allowed with changes", "Allowed with the changes below."};
    c->outcomeTexts[outcomeRank(Outcome::NoFlag)] = {
        "No contraindication found", "No contraindication found in the available record (data as of {asOf})."};
    c->outcomeTexts[outcomeRank(Outcome::NotApplicable)] = {"Not applicable", "Out of scope for this guidance."};
    return c;
}

// Literals: an Evidence's Text fields view their storage.
Evidence evidence(const char* type, const char* id, const char* code, const char* display, const std::string& value,
                  const char* date, const char* system = "http://loinc.org") {
    Evidence e;
    e.resourceType = type;
    e.id = id;
    e.path = "Bundle.entry[0].resource";
    e.code = code;
    e.codeSystem = system;
    e.display = display;
    e.value = value;
    e.date = date;
    return e;
}

Patient patient() {
    Patient p;
    p.source = {"Patient", "pat-1", "Bundle.entry[0].resource"};
    p.identifiers = {{"urn:oid:2.16.840.1.113883.19.5", "MRN-0001", "MR"},
                     {"http://hospital.example/mrn", "12345", ""}};
    p.family = "Doe";
    p.given = {"Jane", "Q"};
    p.gender = "female";
    p.birthDate = day(1990, 3, 14);
    return p;
}

// Abdominal deferred, low-back modified, breast with no flag; a vaginal birth 5 days ago.
Assessment mixedAssessment(const Content& c) {
    Assessment a;
    a.asOf = day(2025, 11, 15);
    DeliveryEpisode episode;
    episode.date = day(2025, 11, 10);
    episode.mode = DeliveryMode::Vaginal;
    episode.records = {evidence("Procedure", "proc-1", "177184002", "Normal delivery procedure", "completed",
                                "2025-11-10", "http://snomed.info/sct")};
    episode.heuristics = {"delivery found by a delivery procedure code"};
    a.episode = episode;
    a.postpartumDay = 5;
    a.patient = patient();
    Finding defer;
    defer.rule = &c.rules[0];
    defer.outcome = Outcome::Defer;
    defer.types = {0};
    defer.earliestDate = day(2025, 11, 24);
    defer.evidence = episode.records;
    Finding modify;
    modify.rule = &c.rules[1];
    modify.outcome = Outcome::Modify;
    modify.types = {1};
    modify.evidence = {
        evidence("Observation", "bp-1", "85354-9", "Blood pressure panel", "142/91 mm[Hg]", "2025-11-14")};
    a.findings = {defer, modify};
    a.massages.resize(3);
    a.massages[0] = {Outcome::Defer, day(2025, 11, 24), {0}};
    a.massages[1] = {Outcome::Modify, std::nullopt, {1}};
    a.massages[2] = {Outcome::NoFlag, std::nullopt, {}};
    a.dataGaps = {{"gap-lactation", "Lactation status not recorded"}};
    a.earliestDataDate = day(2025, 11, 1);
    a.latestDataDate = day(2025, 11, 14);
    return a;
}

Assessment escalatedAssessment(const Content& c) {
    Assessment a = mixedAssessment(c);
    Finding esc;
    esc.rule = &c.rules[4];
    esc.outcome = Outcome::Escalate;
    esc.types = {0, 1, 2};
    esc.evidence = {evidence("Observation", "bp-2", "85354-9", "Blood pressure panel", "172/114 mm[Hg]", "2025-11-14")};
    a.findings.push_back(esc);
    for (auto& m : a.massages) {
        m.outcome = Outcome::Escalate;
        m.earliestDate.reset();
        m.findings.push_back(a.findings.size() - 1);
    }
    return a;
}

RenderContext renderContext() {
    RenderContext ctx;
    ctx.pluginVersion = "9.8.7";
    ctx.custodianName = "Test Hospital";
    ctx.custodianOid = "2.16.840.1.113883.19.5";
    ctx.documentId = "7f3c2a1e-5b4d-4c3a-9e8f-0a1b2c3d4e5f";
    ctx.effectiveTime = "20251115123000+0000";
    return ctx;
}

// ---- reading the document back -----------------------------------------------------------

class CdaDoc {
public:
    explicit CdaDoc(const std::string& xml)
        : doc_(xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "cda.xml", nullptr, XML_PARSE_NONET),
               xmlFreeDoc),
          xpath_(nullptr, xmlXPathFreeContext) {
        REQUIRE(doc_ != nullptr);
        xpath_.reset(xmlXPathNewContext(doc_.get()));
        xmlXPathRegisterNs(xpath_.get(), BAD_CAST "cda", BAD_CAST "urn:hl7-org:v3");
        xmlXPathRegisterNs(xpath_.get(), BAD_CAST "xsi", BAD_CAST "http://www.w3.org/2001/XMLSchema-instance");
    }

    // The string value of every node the expression selects.
    std::vector<std::string> all(const std::string& expr) const {
        std::vector<std::string> out;
        std::unique_ptr<xmlXPathObject, void (*)(xmlXPathObjectPtr)> result(
            xmlXPathEvalExpression(BAD_CAST expr.c_str(), xpath_.get()), xmlXPathFreeObject);
        INFO(expr);
        REQUIRE(result != nullptr);
        if (result->type != XPATH_NODESET || result->nodesetval == nullptr) return out;
        for (int i = 0; i < result->nodesetval->nodeNr; ++i) {
            xmlChar* s = xmlNodeGetContent(result->nodesetval->nodeTab[i]);
            out.emplace_back(s != nullptr ? reinterpret_cast<const char*>(s) : "");
            xmlFree(s);
        }
        return out;
    }
    std::string one(const std::string& expr) const {
        auto values = all(expr);
        INFO(expr);
        REQUIRE(values.size() == 1);
        return values[0];
    }
    size_t count(const std::string& expr) const { return all(expr).size(); }

private:
    std::unique_ptr<xmlDoc, void (*)(xmlDocPtr)> doc_;
    std::unique_ptr<xmlXPathContext, void (*)(xmlXPathContextPtr)> xpath_;
};

const std::string kSections = "/cda:ClinicalDocument/cda:component/cda:structuredBody/cda:component/cda:section";
const std::string kInstructions = kSections + "[cda:code/@code='69730-0']";
const std::string kMassageSections = kInstructions + "/cda:component/cda:section";

std::string sectionText(const CdaDoc& doc, const std::string& code) {
    return doc.one(kSections + "[cda:code/@code='" + code + "']/cda:text");
}

std::string cdaSchema() {
#ifdef PPMG_SHARED_DIR
    const std::string path =
        std::string(PPMG_SHARED_DIR) + "/schemas/cda/schema/extensions/SDTC/infrastructure/cda/CDA_SDTC.xsd";
    if (fileExists(path)) return path;
#endif
    return "";
}

void checkSchemaValid(const std::string& xml) {
    const std::string xsd = cdaSchema();
    if (xsd.empty()) {
        WARN("SKIPPED: the HL7 CDA schema (PPMG_SHARED_DIR) is not available; schema validation not run");
        return;
    }
    const std::string errors = ppmg::test::validateCda(xml, xsd);
    INFO(errors);
    CHECK(errors.empty());
}

// Every massage-outcome observation carries the assessed outcome, in content order.
void checkOutcomeEntries(const CdaDoc& doc, const Assessment& a, const Content& c) {
    auto codes = doc.all(kMassageSections + "/cda:code/@code");
    auto values =
        doc.all(kMassageSections + "/cda:entry/cda:observation[cda:code/@code='massage-outcome']/cda:value/@code");
    REQUIRE(codes.size() == c.massageTypes.size());
    REQUIRE(values.size() == a.massages.size());
    for (size_t i = 0; i < a.massages.size(); ++i) {
        CHECK(codes[i] == c.massageTypes[i].code);
        CHECK(values[i] == outcomeCode(a.massages[i].outcome));
    }
    CHECK(doc.count(kMassageSections + "/cda:entry/cda:observation/cda:value[@xsi:type='CD'][@codeSystem='" +
                    kLocalSystem + "']") == a.massages.size());
}

// Narrative IDs are unique, and every text/reference and internal link points at one of them.
void checkNarrativeLinks(const CdaDoc& doc) {
    auto ids = doc.all("//@ID");
    std::set<std::string> unique(ids.begin(), ids.end());
    CHECK(unique.size() == ids.size());
    for (const std::string& ref : doc.all("//cda:text/cda:reference/@value")) {
        REQUIRE(ref.size() > 1);
        CHECK(ref[0] == '#');
        CHECK(unique.count(ref.substr(1)) == 1);
    }
    for (const std::string& href : doc.all("//cda:linkHtml/@href")) {
        if (href[0] == '#') CHECK(unique.count(href.substr(1)) == 1);
    }
}

}  // namespace

TEST_CASE("CDA: a mixed assessment is schema-valid and carries each outcome", "[cda]") {
    auto c = smallContent();
    Assessment a = mixedAssessment(*c);
    const std::string xml = writeCda(a, *c, renderContext());

    REQUIRE(xml.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", 0) == 0);
    checkSchemaValid(xml);
    CdaDoc doc(xml);
    checkOutcomeEntries(doc, a, *c);
    checkNarrativeLinks(doc);

    SECTION("header") {
        CHECK(doc.one("/cda:ClinicalDocument/cda:realmCode/@code") == "US");
        CHECK(doc.one("/cda:ClinicalDocument/cda:templateId/@root") ==
              "2.25.318214975805081609918790724903688664766.2.1");
        CHECK(doc.one("/cda:ClinicalDocument/cda:id/@root") == renderContext().documentId);
        CHECK(doc.one("/cda:ClinicalDocument/cda:code/@code") == "34895-3");
        CHECK(doc.one("/cda:ClinicalDocument/cda:title") == "Postpartum massage guidance");
        CHECK(doc.one("/cda:ClinicalDocument/cda:effectiveTime/@value") == "20251115123000+0000");
        CHECK(doc.one("/cda:ClinicalDocument/cda:author/cda:time/@value") == "20251115123000+0000");
        CHECK(doc.one("//cda:representedCustodianOrganization/cda:id/@root") == "2.16.840.1.113883.19.5");
        CHECK(doc.one("//cda:representedCustodianOrganization/cda:name") == "Test Hospital");
        CHECK(doc.one("/cda:ClinicalDocument/cda:documentationOf/cda:serviceEvent/cda:effectiveTime/@value") ==
              "20251115");
    }
    SECTION("patient") {
        const std::string role = "/cda:ClinicalDocument/cda:recordTarget/cda:patientRole";
        CHECK(doc.one(role + "/cda:id[@root='2.16.840.1.113883.19.5']/@extension") == "MRN-0001");
        CHECK(doc.one(role + "/cda:id[@root='2.25.318214975805081609918790724903688664766.3']/@extension") ==
              "http://hospital.example/mrn|12345");
        CHECK(doc.one(role + "/cda:id[@root='2.25.318214975805081609918790724903688664766.4']/@extension") == "pat-1");
        CHECK(doc.all(role + "/cda:patient/cda:name/cda:given") == std::vector<std::string>{"Jane", "Q"});
        CHECK(doc.one(role + "/cda:patient/cda:name/cda:family") == "Doe");
        CHECK(doc.one(role + "/cda:patient/cda:administrativeGenderCode/@code") == "F");
        CHECK(doc.one(role + "/cda:patient/cda:birthTime/@value") == "19900314");
    }
    SECTION("sections in order") {
        CHECK(doc.all(kSections + "/cda:code/@code") ==
              std::vector<std::string>{"warning-signs", "69730-0", "findings", "references", "provenance"});
        CHECK(doc.count(kInstructions + "/cda:templateId[@root='2.16.840.1.113883.10.20.22.2.45']") == 2);
    }
    SECTION("warning signs are always listed, no urgent message when nothing escalates") {
        const std::string text = sectionText(doc, "warning-signs");
        CHECK_THAT(text, Catch::Contains("Confirm none of these") && Catch::Contains("Calf pain or swelling"));
        CHECK_THAT(text, !Catch::Contains("URGENT"));
    }
    SECTION("technique only for no-flag and modify; modifications and evidence-graded benefits") {
        auto texts = doc.all(kMassageSections + "/cda:text");
        CHECK_THAT(texts[0], !Catch::Contains("step one"));  // defer
        CHECK_THAT(texts[1], Catch::Contains("Low-back massage step one") &&
                                 Catch::Contains("Side-lying or seated, no prone lying."));
        CHECK_THAT(texts[2], Catch::Contains("Breast massage step one"));
        CHECK_THAT(texts[2],
                   Catch::Contains("No contraindication found in the available record (data as of 2025-11-15)."));
        CHECK_THAT(texts[2], Catch::Contains("Relaxation (evidence: Low)") &&
                                 Catch::Contains("Not supported by evidence") &&
                                 Catch::Contains("Prevents haemorrhage (evidence: Very low)"));
        // One line of why (the finding's title, linked); the finding itself once, in the findings section.
        CHECK_THAT(texts[1], Catch::Contains("Why: PPM-POS-01") && !Catch::Contains("142/91"));
        CHECK_THAT(sectionText(doc, "findings"), Catch::Contains("142/91 mm[Hg]"));
    }
    SECTION("findings once, data gaps, and the details table") {
        const std::string text = kSections + "[cda:code/@code='findings']/cda:text";
        CHECK(doc.count(text + "/cda:list[cda:caption='Findings']/cda:item[@ID]") == a.findings.size());
        const std::string table = text + "/cda:table";
        CHECK(doc.count(table + "/cda:tbody/cda:tr") == a.findings.size());
        CHECK(doc.all(table + "/cda:tbody/cda:tr/cda:td[2]") == std::vector<std::string>{"PPM-TIME-01", "PPM-POS-01"});
        CHECK_THAT(sectionText(doc, "findings"), Catch::Contains("Lactation status not recorded"));
    }
    SECTION("references: every cited reference once, uncited ones left out") {
        auto items = doc.all(kSections + "[cda:code/@code='references']/cda:text/cda:list/cda:item");
        REQUIRE(items.size() == 2);
        CHECK_THAT(items[0], Catch::StartsWith("R1") && Catch::Contains("https://example.org/r1"));
        CHECK_THAT(items[1], Catch::StartsWith("R2"));
        // The address as text: HL7's CDA stylesheet flags an href holding ':'.
        CHECK_THAT(items[1], Catch::Contains("https://example.org/r2?a=1&b=2"));
        CHECK(doc.count(kSections + "[cda:code/@code='references']//cda:linkHtml") == 0);
    }
}

TEST_CASE("CDA: defer shows the earliest date in the narrative and in the entry", "[cda]") {
    auto c = smallContent();
    Assessment a = mixedAssessment(*c);
    CdaDoc doc(writeCda(a, *c, renderContext()));

    const std::string abdominal = kMassageSections + "[cda:code/@code='abdominal']";
    CHECK_THAT(doc.one(abdominal + "/cda:text"), Catch::Contains("Earliest date: 2025-11-24"));
    const std::string earliest = abdominal + "/cda:entry/cda:observation/cda:entryRelationship/cda:observation";
    CHECK(doc.one(earliest + "/cda:code/@code") == "earliest-date");
    CHECK(doc.one(earliest + "/cda:value[@xsi:type='TS']/@value") == "20251124");
    const std::string ref = doc.one(earliest + "/cda:text/cda:reference/@value");
    CHECK(doc.one("//*[@ID='" + ref.substr(1) + "']") == "2025-11-24");
    // Only the deferred type has an earliest date.
    CHECK(doc.count("//cda:observation[cda:code/@code='earliest-date']") == 1);
}

TEST_CASE("CDA: escalate shows the urgent message and the triggering data, and no technique", "[cda]") {
    auto c = smallContent();
    Assessment a = escalatedAssessment(*c);
    const std::string xml = writeCda(a, *c, renderContext());
    checkSchemaValid(xml);
    CdaDoc doc(xml);
    checkOutcomeEntries(doc, a, *c);

    const std::string warning = sectionText(doc, "warning-signs");
    CHECK_THAT(warning, Catch::StartsWith("URGENT: seek urgent clinical assessment"));
    CHECK_THAT(warning, Catch::Contains("PPM-ESC-01") && Catch::Contains("172/114 mm[Hg]"));
    CHECK(doc.one(kSections + "[cda:code/@code='warning-signs']/cda:text/cda:paragraph[1]/cda:content/@styleCode") ==
          "Bold");
    for (const std::string& text : doc.all(kMassageSections + "/cda:text")) {
        CHECK_THAT(text,
                   Catch::Contains("URGENT: seek urgent clinical assessment") && Catch::Contains("Why: PPM-ESC-01"));
        CHECK_THAT(text,
                   !Catch::Contains("Technique") && !Catch::Contains("Modifications") && !Catch::Contains("Benefits"));
    }
    for (const MassageType& t : c->massageTypes)
        for (const std::string& step : t.technique) CHECK(xml.find(step) == std::string::npos);
}

TEST_CASE("CDA: content that already says URGENT is not prefixed twice", "[cda]") {
    auto c = smallContent();
    c->urgentText = "URGENT: seek urgent clinical assessment now";
    CdaDoc doc(writeCda(escalatedAssessment(*c), *c, renderContext()));
    CHECK_THAT(sectionText(doc, "warning-signs"),
               Catch::StartsWith("URGENT: seek urgent clinical assessment now") && !Catch::Contains("URGENT: URGENT"));
}

TEST_CASE("CDA: every outcome renders a valid document", "[cda]") {
    auto c = smallContent();
    const auto fragments = prepareCdaFragments(*c);
    const std::vector<std::pair<Outcome, size_t>> cases = {{Outcome::Block, 3},  {Outcome::Review, 2},
                                                           {Outcome::Review, 6}, {Outcome::Modify, 1},
                                                           {Outcome::Defer, 0},  {Outcome::NotApplicable, 5}};
    for (const auto& [outcome, ruleIndex] : cases) {
        DYNAMIC_SECTION(outcomeCode(outcome) << " from " << c->rules[ruleIndex].id) {
            Assessment a = mixedAssessment(*c);
            a.applicable = outcome != Outcome::NotApplicable;
            Finding f;
            f.rule = &c->rules[ruleIndex];
            f.outcome = outcome;
            f.types = {0, 1, 2};
            if (ruleIndex != 6)
                f.evidence = {evidence("Observation", "obs-9", "8310-5", "Body temperature", "38.9 Cel", "2025-11-14")};
            a.findings = {f};
            for (auto& m : a.massages) m = {outcome, std::nullopt, {0}};
            if (outcome == Outcome::Defer) a.massages[0].earliestDate = day(2025, 11, 24);
            const std::string xml = writeCda(a, *c, renderContext());
            CHECK(writeCda(a, *c, renderContext(), fragments.get()) == xml);  // prepared parts: same bytes
            checkSchemaValid(xml);
            CdaDoc doc(xml);
            checkOutcomeEntries(doc, a, *c);
            checkNarrativeLinks(doc);
            auto texts = doc.all(kMassageSections + "/cda:text");
            CHECK_THAT(texts[0],
                       Catch::Contains("Why: " + (outcome == Outcome::NotApplicable ? c->rules[ruleIndex].reason
                                                                                    : c->rules[ruleIndex].title)));
            CHECK_THAT(sectionText(doc, "findings"), Catch::Contains(c->rules[ruleIndex].reason));
            if (outcome == Outcome::Review)
                CHECK_THAT(texts[0], Catch::Contains("What to check") && Catch::Contains(c->rules[ruleIndex].action));
            if (ruleIndex == 6)
                CHECK_THAT(sectionText(doc, "findings"),
                           Catch::Contains("Missing: No Condition resource in the input"));
            if (outcome == Outcome::NotApplicable)
                CHECK_THAT(texts[0], !Catch::Contains("step one") && !Catch::Contains("Benefits"));
        }
    }
}

TEST_CASE("CDA: hostile patient text is escaped and round-trips intact", "[cda]") {
    const std::string hostile =
        "<script>alert(\"x\")</script> ]]> 'single' \"double\" & &amp; "
        "\xE2\x80\xAE\xD8\xB9\xD8\xB1\xD8\xA8\xD9\x8A\xE2\x80\xAC "  // RLO, Arabic, PDF
        "\xF0\x9F\xA4\xB1\xF0\x9F\x8F\xBD";                          // U+1F931 U+1F3FD, outside the BMP
    auto c = smallContent();
    Assessment a = mixedAssessment(*c);
    const std::string_view view = hostile;  // the patient's strings are views: hostile outlives them
    a.patient.family = view;
    a.patient.given = {view};
    a.patient.source.id = view;
    a.patient.identifiers.push_back({"http://evil.example/\"><x>", view, ""});
    a.findings[1].evidence[0].value = hostile;
    a.findings[1].evidence[0].id = view;
    a.dataGaps[0].text = hostile;
    const std::string xml = writeCda(a, *c, renderContext());

    CHECK(xml.find("<script>") == std::string::npos);
    CHECK(xml.find("<x>") == std::string::npos);
    checkSchemaValid(xml);
    CdaDoc doc(xml);
    const std::string role = "/cda:ClinicalDocument/cda:recordTarget/cda:patientRole";
    CHECK(doc.one(role + "/cda:patient/cda:name/cda:family") == hostile);
    CHECK(doc.one(role + "/cda:patient/cda:name/cda:given") == hostile);
    CHECK(doc.one(role + "/cda:id[@root='2.25.318214975805081609918790724903688664766.4']/@extension") == hostile);
    CHECK(doc.one(role + "/cda:id[starts-with(@extension, 'http://evil')]/@extension") ==
          "http://evil.example/\"><x>|" + hostile);
    CHECK_THAT(sectionText(doc, "findings"),
               Catch::Contains("Observation/" + hostile) && Catch::Contains("= " + hostile + ", 2025-11-14"));
    CHECK_THAT(sectionText(doc, "findings"), Catch::Contains(hostile));
}

TEST_CASE("CDA: text that XML cannot carry is replaced, never written raw", "[cda]") {
    auto c = smallContent();
    Assessment a = mixedAssessment(*c);
    const std::string family = std::string(
                                   "Do\x01"
                                   "e\xFF\xC0\xAF",
                                   7) +
                               std::string(1, '\0') + "x\xED\xA0\x80";
    a.patient.family = std::string_view(family);
    const std::string xml = writeCda(a, *c, renderContext());
    checkSchemaValid(xml);
    CdaDoc doc(xml);
    const std::string r = "\xEF\xBF\xBD";
    CHECK(doc.one("//cda:patient/cda:name/cda:family") == "Do" + r + "e" + r + r + r + r + "x" + r + r + r);
}

TEST_CASE("CDA: absent patient data becomes null flavors", "[cda]") {
    auto c = smallContent();
    Assessment a = mixedAssessment(*c);
    a.patient = Patient{};
    a.episode.reset();
    a.postpartumDay.reset();
    a.earliestDataDate.reset();
    a.latestDataDate.reset();
    const std::string xml = writeCda(a, *c, renderContext());
    checkSchemaValid(xml);
    CdaDoc doc(xml);
    const std::string role = "/cda:ClinicalDocument/cda:recordTarget/cda:patientRole";
    CHECK(doc.one(role + "/cda:id/@nullFlavor") == "UNK");
    CHECK(doc.one(role + "/cda:addr/@nullFlavor") == "UNK");
    CHECK(doc.one(role + "/cda:telecom/@nullFlavor") == "UNK");
    CHECK(doc.one(role + "/cda:patient/cda:name/@nullFlavor") == "UNK");
    CHECK(doc.one(role + "/cda:patient/cda:administrativeGenderCode/@nullFlavor") == "UNK");
    CHECK(doc.one(role + "/cda:patient/cda:birthTime/@nullFlavor") == "UNK");
    CHECK_THAT(sectionText(doc, "provenance"), Catch::Contains("Postpartum day: not known") &&
                                                   Catch::Contains("none on record") &&
                                                   Catch::Contains("no dated data"));

    SECTION("a name given only as text, gender other, identifier as an OID URI") {
        a.patient.nameText = "Jane Doe";
        a.patient.gender = "other";
        a.patient.identifiers = {{"urn:ietf:rfc:3986", "urn:oid:1.2.3.4", ""}, {"", "no-system", ""}};
        CdaDoc doc2(writeCda(a, *c, renderContext()));
        CHECK(doc2.one(role + "/cda:patient/cda:name") == "Jane Doe");
        CHECK(doc2.one(role + "/cda:patient/cda:administrativeGenderCode/@code") == "UN");
        CHECK(doc2.count(role + "/cda:id[@root='1.2.3.4'][not(@extension)]") == 1);
        CHECK(doc2.one(role + "/cda:id[@root='2.25.318214975805081609918790724903688664766.3']/@extension") ==
              "|no-system");
    }
}

TEST_CASE("CDA: provenance names the content, its hash, the plugin, the as-of date and the data dates", "[cda]") {
    auto c = smallContent();
    Assessment a = mixedAssessment(*c);
    CdaDoc doc(writeCda(a, *c, renderContext()));

    const std::string text = sectionText(doc, "provenance");
    CHECK_THAT(text, Catch::Contains("2025.11-test") && Catch::Contains(c->sha256) && Catch::Contains("9.8.7") &&
                         Catch::Contains("As-of date: 2025-11-15") && Catch::Contains("Postpartum day: 5") &&
                         Catch::Contains("2025-11-10") && Catch::Contains("vaginal") && Catch::Contains("proc-1") &&
                         Catch::Contains("delivery found by a delivery procedure code") &&
                         Catch::Contains("2025-11-01 to 2025-11-14"));
    const std::string obs = kSections + "[cda:code/@code='provenance']/cda:entry/cda:observation";
    CHECK(doc.one(obs + "[cda:code/@code='content-version']/cda:value") == "2025.11-test");
    CHECK(doc.one(obs + "[cda:code/@code='content-sha256']/cda:value") == c->sha256);
    CHECK(doc.one(obs + "[cda:code/@code='plugin-version']/cda:value") == "9.8.7");
    CHECK(doc.one(obs + "[cda:code/@code='postpartum-day']/cda:value/@value") == "5");
    CHECK(doc.one(obs + "[cda:code/@code='delivery-date']/cda:value/@value") == "20251110");
    CHECK(doc.one(obs + "[cda:code/@code='delivery-mode']/cda:value/@code") == "vaginal");
    CHECK(doc.one(obs + "[cda:code/@code='data-period']/cda:value/cda:low/@value") == "20251101");
    CHECK(doc.one(obs + "[cda:code/@code='data-period']/cda:value/cda:high/@value") == "20251114");
    CHECK(doc.one("//cda:assignedAuthoringDevice/cda:manufacturerModelName") == "ppmg 9.8.7");
    CHECK(doc.one("//cda:assignedAuthoringDevice/cda:softwareName") ==
          "ppmg postpartum massage guidance 9.8.7, content 2025.11-test");
    for (const std::string& asOf :
         doc.all("//cda:observation[cda:code/@code='massage-outcome']/cda:effectiveTime/@value"))
        CHECK(asOf == "20251115");
}

TEST_CASE("CDA: prepared content parts are refused for another content", "[cda]") {
    auto c = smallContent(), other = smallContent();
    const auto fragments = prepareCdaFragments(*other);
    CHECK_THROWS_AS(writeCda(mixedAssessment(*c), *c, renderContext(), fragments.get()), Error);
    CHECK(writeCda(mixedAssessment(*c), *c, renderContext(), prepareCdaFragments(*c).get()) ==
          writeCda(mixedAssessment(*c), *c, renderContext()));
}

TEST_CASE("CDA: many threads render the same document", "[cda][threads]") {
    auto c = smallContent();
    const Assessment a = mixedAssessment(*c);
    const RenderContext ctx = renderContext();
    const std::string expected = writeCda(a, *c, ctx);
    std::vector<int> mismatches(8, 0);
    std::vector<std::thread> threads;
    for (size_t t = 0; t < mismatches.size(); ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 50; ++i)
                if (writeCda(a, *c, ctx) != expected) ++mismatches[t];
        });
    }
    for (auto& th : threads) th.join();
    for (int m : mismatches) CHECK(m == 0);
}

TEST_CASE("CDA schema helper: reports invalid documents, validates from many threads", "[cda][threads]") {
    const std::string xsd = cdaSchema();
    if (xsd.empty()) {
        WARN("SKIPPED: the HL7 CDA schema (PPMG_SHARED_DIR) is not available");
        return;
    }
    auto c = smallContent();
    const std::string xml = writeCda(mixedAssessment(*c), *c, renderContext());

    std::string misplaced = xml;
    misplaced.replace(misplaced.find("<title>Postpartum"), 0, "<languageCode code=\"en\"/>");
    CHECK_THAT(ppmg::test::validateCda(misplaced, xsd), Catch::Contains("languageCode"));
    CHECK_THAT(ppmg::test::validateCda("<ClinicalDocument>", xsd), Catch::StartsWith("not well-formed"));
    CHECK_THAT(ppmg::test::validateCda(xml, xsd + ".missing"), Catch::Contains("schema"));

    std::vector<std::string> results(6);
    std::vector<std::thread> threads;
    for (size_t t = 0; t < results.size(); ++t)
        threads.emplace_back([&, t] { results[t] = ppmg::test::validateCda(t % 2 ? xml : misplaced, xsd); });
    for (auto& th : threads) th.join();
    for (size_t t = 0; t < results.size(); ++t) CHECK(results[t].empty() == (t % 2 == 1));
}

TEST_CASE("CDA: the real content renders valid documents for every outcome", "[cda][content]") {
    const std::string dir = PPMG_SOURCE_CONTENT_DIR;
    if (!fileExists(dir + "/ppmg-content.xml")) {
        WARN("SKIPPED: " << dir << "/ppmg-content.xml is not there yet");
        return;
    }
    std::shared_ptr<const Content> content = loadContent(dir);
    const Content& c = *content;
    REQUIRE(!c.massageTypes.empty());
    REQUIRE(!c.rules.empty());
    const auto fragments = prepareCdaFragments(c);

    for (Outcome outcome : {Outcome::Escalate, Outcome::Block, Outcome::Defer, Outcome::Review, Outcome::Modify,
                            Outcome::NoFlag, Outcome::NotApplicable}) {
        DYNAMIC_SECTION("outcome " << outcomeCode(outcome)) {
            Assessment a;
            a.asOf = day(2025, 11, 15);
            a.applicable = outcome != Outcome::NotApplicable;
            a.patient = patient();
            a.massages.resize(c.massageTypes.size());
            // A finding from the first rule of that outcome (or any rule), on every type.
            const Rule* chosen = &c.rules[0];
            for (const Rule& r : c.rules)
                if (r.outcome == outcome) {
                    chosen = &r;
                    break;
                }
            if (outcome != Outcome::NoFlag) {
                Finding f;
                f.rule = chosen;
                f.outcome = outcome;
                for (size_t t = 0; t < c.massageTypes.size(); ++t) f.types.push_back(t);
                f.evidence = {evidence("Observation", "obs-1", "8310-5", "Body temperature", "38.9 Cel", "2025-11-14")};
                a.findings.push_back(f);
            }
            for (auto& m : a.massages) {
                m.outcome = outcome;
                if (!a.findings.empty()) m.findings = {0};
                if (outcome == Outcome::Defer) m.earliestDate = day(2025, 11, 24);
            }
            const std::string xml = writeCda(a, c, renderContext());
            CHECK(writeCda(a, c, renderContext(), fragments.get()) == xml);  // prepared parts: same bytes
            checkSchemaValid(xml);
            CdaDoc doc(xml);
            checkOutcomeEntries(doc, a, c);
            checkNarrativeLinks(doc);
            CHECK_THAT(sectionText(doc, "provenance"), Catch::Contains(c.version) && Catch::Contains(c.sha256));
            if (outcome == Outcome::Escalate) {
                CHECK_THAT(sectionText(doc, "warning-signs"), Catch::Contains("URGENT"));
                for (const MassageType& t : c.massageTypes)
                    for (const std::string& step : t.technique) CHECK(xml.find(step) == std::string::npos);
            }
        }
    }
}

TEST_CASE("CDA: every rule's prewritten text gives the bytes written from the content", "[cda][content]") {
    std::shared_ptr<const Content> content = loadContent(PPMG_SOURCE_CONTENT_DIR);
    const Content& c = *content;
    const auto fragments = prepareCdaFragments(c);
    REQUIRE(fragments->rules.size() == c.rules.size());
    for (const Rule& rule : c.rules) {
        // The rule's own outcome (prewritten), and another outcome (written from the content).
        for (Outcome outcome : {rule.outcome, rule.outcome == Outcome::Review ? Outcome::Modify : Outcome::Review}) {
            Assessment a;
            a.asOf = day(2025, 11, 15);
            a.patient = patient();
            a.massages.resize(c.massageTypes.size());
            Finding f;
            f.rule = &rule;
            f.outcome = outcome;
            f.types = {0};
            f.evidence = {evidence("Observation", "obs-1", "8310-5", "Body temperature", "38.9 Cel", "2025-11-14")};
            a.findings.push_back(f);
            a.applicable = outcome != Outcome::NotApplicable;
            for (auto& m : a.massages) m.outcome = outcome == Outcome::NotApplicable ? outcome : Outcome::NoFlag;
            a.massages[0].outcome = outcome;
            a.massages[0].findings = {0};
            const std::string xml = writeCda(a, c, renderContext());
            INFO(rule.id << " as " << outcomeCode(outcome));
            REQUIRE(writeCda(a, c, renderContext(), fragments.get()) == xml);
            CHECK(xml.find(rule.reason.substr(0, 20)) != std::string::npos);
        }
    }
}
