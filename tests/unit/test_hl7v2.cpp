// The HL7 v2 parser (read/hl7v2_parser.hpp), the HL7 timestamp (base/hl7_datetime.hpp) and the
// MDM^T02 writer (write/mdm_writer.hpp).
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/errors.hpp"
#include "base/hl7_datetime.hpp"
#include "guidance_engine.hpp"
#include "read/hl7v2_parser.hpp"
#include "support/cda_schema.hpp"
#include "support/test_env.hpp"
#include "write/mdm_writer.hpp"

using namespace ppmg::core;
using namespace ppmg::test;
namespace fs = std::filesystem;

namespace {

const std::string kMsh = "MSH|^~\\&|A|B|C|D|20251115080000+0000||ORU^R01|C1|P|2.5.1\r";
const std::string kPid = "PID|1||P1^^^H^MR||Doe^Jane||19900101|F\r";

PatientRecord facts(const std::string& text, const std::string& patient = "") {
    return mapRecord(readRecord(text, PPMG_INPUT_AUTO, ReadLimits{}, "t.hl7"), patient, content(), "t.hl7");
}

Error refusal(const std::string& text) {
    try {
        facts(text);
    } catch (const Error& e) {
        return e;
    }
    FAIL("expected a refusal");
    return Error(PPMG_OK, "");
}

// A segment from its fields by number: seg("PRB", {{1, "AD"}, {13, "C"}}) == "PRB|AD|...|C\r".
std::string seg(const std::string& id, std::initializer_list<std::pair<size_t, std::string>> fields) {
    size_t last = 0;
    for (const auto& f : fields) last = std::max(last, f.first);
    std::vector<std::string> v(last + 1);
    for (const auto& f : fields) v[f.first] = f.second;
    std::string out = id;
    for (size_t i = 1; i <= last; ++i) out += "|" + v[i];
    return out + "\r";
}

std::string lines(std::string s) {  // for messages
    std::replace(s.begin(), s.end(), '\r', '\n');
    return s;
}

}  // namespace

TEST_CASE("HL7 timestamps (v2 DTM, CDA TS): precision, offset and partial dates", "[hl7v2][dates]") {
    auto t = parseHl7DateTime("20251101233000-0500");
    REQUIRE(t);
    CHECK(formatIsoDate(t->date) == "2025-11-01");  // the date in its own offset
    CHECK(t->instant == parseFhirDateTime("2025-11-01T23:30:00-05:00")->instant);
    CHECK(t->precision == Precision::Time);
    auto frac = parseHl7DateTime("20210817151943.4+0200");
    REQUIRE(frac);
    CHECK(frac->instant == parseFhirDateTime("2021-08-17T15:19:43+02:00")->instant);
    auto hour = parseHl7DateTime("2025110108");
    REQUIRE(hour);
    CHECK(hour->instant == parseFhirDateTime("2025-11-01T08:00:00Z")->instant);
    auto month = parseHl7DateTime("202502");
    REQUIRE(month);
    CHECK(month->precision == Precision::Month);
    CHECK(formatIsoDate(month->last) == "2025-02-28");
    auto year = parseHl7DateTime("2024");
    REQUIRE(year);
    CHECK(formatIsoDate(year->last) == "2024-12-31");
    auto day = parseHl7DateTime("20251101+0200");  // a date's offset says nothing: 00:00Z, as FHIR
    REQUIRE(day);
    CHECK(day->instant == parseFhirDateTime("2025-11-01")->instant);
    // CDA's TS has the same syntax: fractions up to four digits, an offset in its own right.
    CHECK(parseHl7DateTime("20251101233015.1234+0130")->instant ==
          parseFhirDateTime("2025-11-01T23:30:15+01:30")->instant);
    CHECK(parseHl7DateTime("202511012330")->instant == parseFhirDateTime("2025-11-01T23:30:00Z")->instant);
    const std::string_view text = "20251026083000+0000";
    CHECK(parseHl7DateTime(text)->text.data() == text.data());  // a view of what was parsed
    for (const char* bad : {"", "2025-11-01", "20251301", "20250230", "202511011", "20251101246000", "20251101+05",
                            "20251101120000.12345", "20251101T1200", "abcd", "202", "20251026083000+05:00",
                            "20251026083000.", "20251026 083000", "UNK"})
        CHECK_FALSE(parseHl7DateTime(bad).has_value());
}

TEST_CASE("HL7 v2: segments end with CR, LF or CRLF, alike", "[hl7v2][syntax]") {
    const std::string body = kMsh + kPid + "PR1|1||177184002^Normal delivery^SCT||20251101\r";
    std::string lf = body, crlf;
    std::replace(lf.begin(), lf.end(), '\r', '\n');
    for (char c : body) crlf += c == '\r' ? std::string("\r\n") : std::string(1, c);
    const std::string expected = describeFacts(facts(body));
    CHECK(describeFacts(facts(lf)) == expected);
    CHECK(describeFacts(facts(crlf)) == expected);
    CHECK(describeFacts(facts("\xEF\xBB\xBF" + body)) == expected);     // a byte order mark
    CHECK(describeFacts(facts("\x0b" + body + "\x1c\r")) == expected);  // saved with MLLP framing
    CHECK_THAT(expected, Catch::Contains("code={http://snomed.info/sct|177184002|Normal delivery}"));
}

TEST_CASE("HL7 v2: the encoding characters come from each MSH", "[hl7v2][syntax]") {
    const auto a = facts(kMsh + kPid +
                         "OBX|1|CWE|cs-wound-status^^2.25.318214975805081609918790724903688664766.1||healed^Healed^2."
                         "25.318214975805081609918790724903688664766.1~x^y^z||||||F\r");
    const auto b = facts(
        "MSH#*$!@#A#B#C#D#20251115080000+0000##ORU*R01#C1#P#2.5.1\rPID#1##P1***H*MR##Doe*Jane##19900101#F\r"
        "OBX#1#CWE#cs-wound-status**2.25.318214975805081609918790724903688664766.1##healed*Healed*2.25."
        "318214975805081609918790724903688664766.1$x*y*z######F\r");
    CHECK(describeFacts(a, false) == describeFacts(b, false));
    REQUIRE(a.observations.size() == 1);
    CHECK(a.observations[0].valueCodes.size() == 2);                                     // two repetitions
    CHECK(std::string(a.observations[0].valueCodes[0].system) == PPMG_CODE_SYSTEM_URI);  // named by its OID
    // A doubled escape character in MSH-2 ("^~\\&", as a source-code literal writes it) is "^~\&".
    const auto c = facts("MSH|^~\\\\&|A|B|C|D|20251115||ADT^A01|C2|P|2.6\r" + kPid);
    CHECK(std::string(c.patient.family) == "Doe");
    // Encoding characters that repeat a separator are refused, naming MSH-2.
    const Error e = refusal("MSH|^^\\&|A|B|C|D|20251115||ADT^A01|C2|P|2.6\r" + kPid);
    CHECK(e.status() == PPMG_E_PARSE);
    CHECK(e.where().fhirPath == "MSH[1]-2");
}

TEST_CASE("HL7 v2: escapes, components, subcomponents and explicit nulls", "[hl7v2][syntax]") {
    const auto r = facts(kMsh +
                         "PID|1||P1^^^Hosp&2.16.840.1.113883.19.5&ISO^MR~S2^^^SSA^SS||O\\T\\Brien\\F\\x^Ann\\S\\Marie^"
                         "\\XC3A9\\l\\E\\e||19900101|\"\"\r"
                         "OBX|1|ST|8689-2^Social^LN||line one\\.br\\line two~second||||||F\r"
                         "OBX|2|NM|8310-5^Temp^LN||\"\"|Cel^^UCUM|||||F\r"
                         "OBX|3|ST|8689-2^Social^LN||\"\"||||||F\r"
                         "OBX|4|ST|8689-2^Social^LN||\\H\\bold\\N\\ \\Zlocal\\x \\Q\\||||||F\r");
    INFO(describeFacts(r));
    CHECK(std::string(r.patient.family) == "O&Brien|x");
    REQUIRE(r.patient.given.size() == 2);
    CHECK(std::string(r.patient.given[0]) == "Ann^Marie");
    CHECK(std::string(r.patient.given[1]) == "\xC3\xA9l\\e");
    CHECK(std::string(r.patient.gender).empty());  // "" is a null, not a sex
    REQUIRE(r.patient.identifiers.size() == 2);
    CHECK(std::string(r.patient.identifiers[0].system) == "urn:oid:2.16.840.1.113883.19.5");
    CHECK(std::string(r.patient.identifiers[1].system) == "SSA");
    CHECK(std::string(r.patient.source.id) == "P1");
    REQUIRE(r.observations.size() == 4);
    CHECK(std::string(r.observations[0].valueText) == "line one\nline two\nsecond");
    CHECK_FALSE(r.observations[1].quantity.present);  // "" is no value, not a number
    CHECK(std::string(r.observations[2].valueText).empty());
    CHECK(std::string(r.observations[3].valueText) == "bold x \\Q\\");  // unknown escapes as written
    // An escape that decodes to a NUL, or to bytes that are not UTF-8, is refused.
    CHECK(refusal(kMsh + "PID|1||P1||Do\\X00\\e\r").status() == PPMG_E_ENCODING);
    CHECK(refusal(kMsh + "PID|1||P1||Do\\XC3\\e\r").status() == PPMG_E_ENCODING);
}

TEST_CASE("HL7 v2: versions 2.3 to 2.8 are read, others refused naming MSH-12", "[hl7v2][syntax]") {
    for (const char* v : {"2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8", "2.8.2"})
        CHECK_NOTHROW(facts("MSH|^~\\&|A|B|C|D|20251115||ADT^A01|V|P|" + std::string(v) + "\r" + kPid));
    for (const char* v : {"2.2", "2.9", "3.0", ""}) {
        const Error e = refusal("MSH|^~\\&|A|B|C|D|20251115||ADT^A01|V|P|" + std::string(v) + "\r" + kPid);
        CHECK(e.status() == PPMG_E_UNSUPPORTED);
        CHECK(e.where().fhirPath == "MSH[1]-12");
        CHECK(e.where().resourceId == "V");
    }
}

TEST_CASE("HL7 v2: bad content is refused in one line naming the segment and field", "[hl7v2][syntax]") {
    struct Case {
        std::string text;
        ppmg_status status;
        std::string at;
    } cases[] = {
        {kMsh + kPid + "OBX|1|NM|8310-5^T^LN||38.x|Cel|||||F\r", PPMG_E_NOT_FHIR, "OBX[1]-5"},
        {kMsh + kPid + "OBX|1|NM|8310-5^T^LN||38|Cel|||||F\rOBX|2|NM|8310-5^T^LN||38|Cel|||||F|||2025-11-14\r",
         PPMG_E_NOT_FHIR, "OBX[2]-14"},
        {kMsh + "PID|1||P1||Doe||19901301|F\r", PPMG_E_NOT_FHIR, "PID[1]-7"},
        {kMsh + kPid + "PR1|1||x^^SCT||yesterday\r", PPMG_E_NOT_FHIR, "PR1[1]-5"},
        {kMsh + kPid + "this is not a segment\r", PPMG_E_PARSE, ""},
        {"MSH|\r", PPMG_E_PARSE, "MSH[1]-1"},
    };
    for (const auto& c : cases) {
        INFO(lines(c.text));
        const Error e = refusal(c.text);
        CHECK(e.status() == c.status);
        CHECK(e.where().fhirPath == c.at);
        CHECK(std::string(e.what()).find('\n') == std::string::npos);
        CHECK(std::string(e.what()).find("line ") == 0);
    }
    // A segment before any MSH (read as v2: sniffing does not take it for v2).
    try {
        readHl7v2(kPid + kMsh, ReadLimits{}, "t");
        FAIL("expected a refusal");
    } catch (const Error& e) {
        CHECK(e.status() == PPMG_E_PARSE);
        CHECK(e.where().fhirPath == "PID[1]");
    }
    // Limits: a field over the string limit, and more facts than the resource limit.
    ReadLimits small;
    small.maxStringBytes = 8;
    CHECK_THROWS_AS(readHl7v2(kMsh + "PID|1||P1||A-very-long-name\r", small, "t"), Error);
    small = ReadLimits{};
    small.maxResources = 2;
    try {
        readHl7v2(kMsh + kPid + "AL1|1||a\rAL1|2||b\r", small, "t");
        FAIL("expected the limit");
    } catch (const Error& e) {
        CHECK(e.status() == PPMG_E_LIMIT);
    }
}

TEST_CASE("HL7 v2: batches, and one patient per PID-3 identifier set", "[hl7v2][patients]") {
    const std::string batch = "FHS|^~\\&|A\rBHS|^~\\&|A||||||||B-1\r" + kMsh + kPid +
                              "PR1|1||177184002^^SCT||20251101\r" + kMsh + kPid + "AL1|1||300916003^^SCT\r" +
                              "BTS|2\rFTS|1\r";
    const auto r = facts(batch);
    CHECK(r.patientCount == 1);
    CHECK(r.procedures.size() == 1);
    CHECK(r.allergies.size() == 1);
    // Two patients: the delivery's subject is chosen; --patient chooses by the first PID-3 id.
    const std::string two = kMsh + "PID|1||BABY^^^H^MR||Doe^Baby||20251101|F\rOBX|1|NM|8310-5^^LN||38.5|Cel|||||F\r" +
                            kMsh + kPid + "PR1|1||177184002^^SCT||20251101\r";
    const auto mother = facts(two);
    CHECK(mother.patientCount == 2);
    CHECK(std::string(mother.patient.source.id) == "P1");
    CHECK(mother.observations.empty());  // the baby's temperature is the baby's
    const auto baby = facts(two, "BABY");
    CHECK(baby.observations.size() == 1);
    CHECK(baby.procedures.empty());
    // Without a delivery to choose by, two patients are refused, naming them.
    const Error e = refusal(kMsh + "PID|1||A1\r" + kMsh + "PID|1||B1\r");
    CHECK(e.status() == PPMG_E_AMBIGUOUS_PATIENT);
    CHECK_THAT(std::string(e.what()), Catch::Contains("A1") && Catch::Contains("B1"));
    // No PID at all: no patient.
    CHECK(refusal(kMsh + "OBX|1|NM|8310-5^^LN||37|Cel|||||F\r").status() == PPMG_E_NO_PATIENT);
    // PID-3 empty: PID-2 (older senders) names the patient.
    CHECK(std::string(facts(kMsh + "PID|1|OLD-7|||Doe\r").patient.source.id) == "OLD-7");
}

TEST_CASE("HL7 v2: statuses in FHIR's codes, each translation", "[hl7v2][status]") {
    std::string obx;
    const char* codes[] = {"F", "C", "A", "U", "P", "R", "S", "I", "O", "X", "N", "D", "W", "Z", ""};
    const char* fhir[] = {"final",       "corrected",        "amended",          "final",      "preliminary",
                          "preliminary", "preliminary",      "registered",       "registered", "cancelled",
                          "cancelled",   "entered-in-error", "entered-in-error", "unknown",    ""};
    for (size_t i = 0; i < std::size(codes); ++i)
        obx += "OBX|" + std::to_string(i + 1) + "|NM|8310-5^^LN||37|Cel|||||" + codes[i] + "\r";
    const auto o = facts(kMsh + kPid + obx);
    REQUIRE(o.observations.size() == std::size(codes));
    for (size_t i = 0; i < std::size(codes); ++i) CHECK(std::string(o.observations[i].status) == fhir[i]);

    // Orders: ORC-5, else ORC-1; RXA without an ORC: RXA-20 / RXA-21.
    const auto m = facts(kMsh + kPid +
                         "ORC|NW|1|||IP\rRXE||67108^^RXNORM\r"
                         "ORC|NW|2|||HD\rRXE||67108^^RXNORM\r"
                         "ORC|NW|3|||DC\rRXE||67108^^RXNORM\r"
                         "ORC|NW|4|||CA\rRXE||67108^^RXNORM\r"
                         "ORC|NW|5|||ER\rRXE||67108^^RXNORM\r"
                         "ORC|NW|6|||CM\rRXO|67108^^RXNORM\r"
                         "ORC|NW|7|||RP\rRXE||67108^^RXNORM\r"
                         "ORC|NW|8\rRXE||67108^^RXNORM\r"
                         "ORC|OH|9\rRXE||67108^^RXNORM\r"
                         "ORC|OD|10\rRXE||67108^^RXNORM\r"
                         "ORC|NW|11|||IP||||20251101\rRXO|67108^^RXNORM\rRXE||0075-0624-40^^NDC\r" +
                         kMsh + kPid + seg("RXA", {{3, "20251101"}, {5, "11289^^RXNORM"}, {20, "CP"}}) +
                         seg("RXA", {{3, "20251101"}, {5, "11289^^RXNORM"}, {20, "RE"}}) +
                         seg("RXA", {{3, "20251101"}, {5, "11289^^RXNORM"}, {20, "CP"}, {21, "D"}}) + kMsh + kPid +
                         "ORC|SC|12|||IP\rRXA|0|1|20251101||11289^^RXNORM|1\r");
    INFO(describeFacts(m));
    const char* statuses[] = {"active",    "on-hold",   "stopped",   "cancelled",        "entered-in-error",
                              "completed", "unknown",   "active",    "on-hold",          "stopped",
                              "active",    "completed", "not-taken", "entered-in-error", "active"};
    REQUIRE(m.medications.size() == std::size(statuses));
    for (size_t i = 0; i < std::size(statuses); ++i) CHECK(std::string(m.medications[i].status) == statuses[i]);
    CHECK(m.medications[10].codes.size() == 2);                          // RXO and RXE of one order: one request
    CHECK(formatIsoDate(m.medications[10].when->date) == "2025-11-01");  // ORC-9
    CHECK(std::string(m.medications[11].source.resourceType) == "MedicationStatement");

    // Problems: PRB-13/14 in FHIR's codes or table 0393; DG1-6; deletions.
    const std::string ver = "http://terminology.hl7.org/CodeSystem/condition-ver-status";
    const std::string cli = "http://terminology.hl7.org/CodeSystem/condition-clinical";
    const auto c = facts(kMsh + kPid + seg("PRB", {{1, "AD"}, {3, "1^^SCT"}, {13, "C"}, {14, "active"}}) +
                         seg("PRB", {{1, "AD"}, {3, "2^^SCT"}, {13, "refuted^^" + ver}, {14, "resolved^^" + cli}}) +
                         seg("PRB", {{1, "AD"}, {3, "3^^SCT"}, {13, "R"}, {14, "Active"}}) +
                         seg("PRB", {{1, "DE"}, {3, "4^^SCT"}, {13, "C"}}) +
                         seg("DG1", {{1, "1"}, {3, "5^^SCT"}, {5, "20251101"}, {6, "W"}}) +
                         seg("DG1", {{1, "1"}, {3, "6^^SCT"}, {5, "20251101"}, {6, "F"}, {21, "D"}}) +
                         seg("DG1", {{1, "1"}, {3, "^Chest pain"}, {5, "20251101"}, {6, "F"}}));
    INFO(describeFacts(c));
    REQUIRE(c.conditions.size() == 7);
    auto st = [](const StatusReading& s) {
        return s.state == StatusReading::State::Read     ? std::string(s.code)
               : s.state == StatusReading::State::Absent ? std::string("absent")
                                                         : std::string("unreadable");
    };
    CHECK(st(c.conditions[0].verificationStatus) == "confirmed");
    CHECK(st(c.conditions[0].clinicalStatus) == "active");
    CHECK(st(c.conditions[1].verificationStatus) == "refuted");
    CHECK(st(c.conditions[1].clinicalStatus) == "resolved");
    CHECK(st(c.conditions[2].verificationStatus) == "unreadable");  // "rule out": not read as refuted
    CHECK(st(c.conditions[2].clinicalStatus) == "unreadable");      // "Active" is not FHIR's code
    CHECK(st(c.conditions[3].verificationStatus) == "entered-in-error");
    CHECK(st(c.conditions[4].verificationStatus) == "provisional");
    CHECK(st(c.conditions[5].verificationStatus) == "entered-in-error");
    CHECK(c.conditions[6].codes.empty());
    CHECK(std::string(c.conditions[6].codeText) == "Chest pain");  // text only: an uncoded problem

    // Allergies: IAM-17, IAM-6; AL1 has no status.
    const auto a = facts(kMsh + kPid + seg("IAM", {{3, "a^^SCT"}, {6, "A"}, {17, "E"}}) +
                         seg("IAM", {{3, "b^^SCT"}, {6, "D"}}) + seg("IAM", {{3, "c^^SCT"}, {17, "U"}}) +
                         seg("IAM", {{3, "d^^SCT"}, {17, "I"}}) + seg("AL1", {{3, "e^^SCT"}}));
    REQUIRE(a.allergies.size() == 5);
    CHECK(st(a.allergies[0].verificationStatus) == "entered-in-error");
    CHECK(st(a.allergies[1].verificationStatus) == "entered-in-error");
    CHECK(st(a.allergies[2].verificationStatus) == "unconfirmed");
    CHECK(st(a.allergies[3].clinicalStatus) == "inactive");
    CHECK(st(a.allergies[4].clinicalStatus) == "absent");
    // PR1 carries no status; PR1-20 D is a deletion.
    const auto p = facts(kMsh + kPid + seg("PR1", {{3, "x^^SCT"}, {5, "20251101"}}) +
                         seg("PR1", {{3, "y^^SCT"}, {5, "20251101"}, {20, "D"}}));
    CHECK(std::string(p.procedures[0].status).empty());
    CHECK(std::string(p.procedures[1].status) == "entered-in-error");
}

TEST_CASE("HL7 v2: code systems as real feeds name them", "[hl7v2][codes]") {
    const auto r = facts(kMsh + kPid +
                         "DG1|1||O91.12^Abscess^I10C^O91.1^Abscess^I10\r"
                         "DG1|2||11466000^CS^SNOMED-CT\r"
                         "DG1|3||11466000^CS^2.16.840.1.113883.6.96\r"
                         "RXA|0|1|20251101||B01AB05^enoxaparin^WC|1\r"
                         "DG1|4||x^^^^^^^^^y^z^ICD10CM\r");
    INFO(describeFacts(r));
    CHECK(std::string(r.conditions[0].codes[0].system) == "http://hl7.org/fhir/sid/icd-10-cm");
    CHECK(std::string(r.conditions[0].codes[1].system) == "http://hl7.org/fhir/sid/icd-10");
    CHECK(std::string(r.conditions[1].codes[0].system) == "http://snomed.info/sct");
    CHECK(std::string(r.conditions[2].codes[0].system) == "http://snomed.info/sct");
    CHECK(std::string(r.medications[0].codes[0].system) == "http://www.whocc.no/atc");
    REQUIRE(r.conditions[3].codes.size() == 2);  // the third triplet (CWE-10..12, v2.7)
    CHECK(std::string(r.conditions[3].codes[1].code) == "y");
}

TEST_CASE("HL7 v2: every published message in ../shared/data/hl7v2-* is read, or refused in one line",
          "[hl7v2][real-data][shared]") {
    PPMG_REQUIRE_SHARED();
    size_t read = 0;
    for (const auto& dir : fs::directory_iterator(sharedDir() + "/data")) {
        if (dir.path().filename().string().rfind("hl7v2-", 0) != 0) continue;
        for (const auto& f : fs::directory_iterator(dir.path())) {
            const std::string text = readText(f.path().string());
            INFO(f.path());
            try {
                const auto r = facts(text);
                CHECK_FALSE(std::string(r.patient.source.id).empty());
                ++read;
            } catch (const Error& e) {
                CHECK(std::string(e.what()).find('\n') == std::string::npos);
                CHECK(e.status() != PPMG_E_INTERNAL);
            }
        }
    }
    CHECK(read >= 15);
    // What the published messages carry, read as they say.
    const auto rde = facts(readText(sharedDir() + "/data/hl7v2-fhir-converter/RDE-O11-01.hl7"));
    REQUIRE(rde.medications.size() == 1);
    CHECK(std::string(rde.medications[0].status) == "active");  // ORC-1 NW, ORC-5 empty
    CHECK(rde.medications[0].codes.size() == 2);                // RXE's NDC and RXO's NDC
    const auto lab = facts(readText(sharedDir() + "/data/hl7v2-fhir-converter/LAB-ORU-1.hl7"));
    REQUIRE(lab.observations.size() == 10);
    CHECK(std::string(lab.observations[4].codes[0].code) == "11125-2");
    CHECK(lab.observations[4].quantity.value == 221);
    const auto sn = facts(readText(sharedDir() + "/data/hl7v2-fhir-converter/ORU-R01-RMGEAD.hl7"));
    REQUIRE(sn.observations.size() == 1);
    CHECK(sn.observations[0].quantity.value == 182);                      // SN "^182"
    CHECK(formatIsoDate(sn.observations[0].when->date) == "2002-02-15");  // OBR-7
}

// ---- MDM^T02 --------------------------------------------------------------------------------

namespace {

std::string decodeBase64(std::string_view s) {
    static const std::string kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    uint32_t acc = 0;
    int bits = 0;
    for (char c : s) {
        if (c == '=') break;
        const size_t v = kAlphabet.find(c);
        REQUIRE(v != std::string::npos);
        acc = (acc << 6) | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xFF);
        }
    }
    return out;
}

std::vector<std::string> splitOn(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::stringstream in(s);
    for (std::string part; std::getline(in, part, sep);) out.push_back(part);
    if (!s.empty() && s.back() == sep) out.push_back("");
    return out;
}

}  // namespace

TEST_CASE("Base64 as RFC 4648 writes it", "[hl7v2][mdm]") {
    const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                           {"f", "Zg=="},
                                                           {"fo", "Zm8="},
                                                           {"foo", "Zm9v"},
                                                           {"foob", "Zm9vYg=="},
                                                           {"fooba", "Zm9vYmE="},
                                                           {"foobar", "Zm9vYmFy"}};
    for (const auto& v : vectors) {
        std::string out;
        appendBase64(out, v.first);
        CHECK(out == v.second);
        CHECK(decodeBase64(out) == v.first);
    }
}

TEST_CASE("MDM^T02: every field, and the CDA in OBX-5 decodes and validates", "[hl7v2][mdm]") {
    static GuidanceEngine engine{EngineConfig{}};
    const std::string v2 = readText(std::string(PPMG_TEST_DIR) + "/hl7v2/caesarean-day20.hl7");
    RequestSpec req;
    req.data = v2;
    req.asOf = "2025-11-15";
    req.outputFormat = PPMG_OUTPUT_MDM;
    const std::string mdm = engine.render(req);
    INFO(lines(mdm.substr(0, 2000)));
    CHECK(mdm.back() == '\r');
    std::vector<std::string> segments = splitOn(mdm.substr(0, mdm.size() - 1), '\r');
    REQUIRE(segments.size() == 6);
    auto fields = [&](size_t i) { return splitOn(segments[i], '|'); };
    const auto msh = fields(0);
    CHECK(msh[0] == "MSH");
    CHECK(msh[1] == "^~\\&");
    CHECK(msh[2] == "PPMG");     // MSH-3
    CHECK(msh[3] == "ppmg");     // MSH-4: the custodian
    CHECK(msh[6].size() == 19);  // MSH-7: YYYYMMDDHHMMSS+0000
    CHECK(parseHl7DateTime(std::string_view(msh[6])).has_value());
    CHECK(msh[8] == "MDM^T02^MDM_T02");
    CHECK(msh[9].size() == 20);  // MSH-10
    CHECK(msh[10] == "P");
    CHECK(msh[11] == "2.5.1");
    CHECK(msh[17] == "UNICODE UTF-8");  // MSH-18
    const auto evn = fields(1);
    CHECK(evn[0] == "EVN");
    CHECK(evn[1] == "T02");
    CHECK(evn[2] == msh[6]);
    const auto pid = fields(2);
    CHECK(pid[0] == "PID");
    CHECK(pid[3] == "MRN-5521^^^&2.16.840.1.113883.19.5&ISO^MR~NHS-943 476 5919^^^NHS^NH");
    CHECK(pid[5] == "Okafor^Adaeze^N");
    CHECK(pid[7] == "19910314");
    CHECK(pid[8] == "F");
    CHECK(segments[3] == "PV1|1|U");
    const auto txa = fields(4);
    CHECK(txa[0] == "TXA");
    CHECK(txa[1] == "1");
    CHECK(txa[2] == "34895-3");
    CHECK(txa[3] == "AP");
    CHECK(txa[4] == msh[6]);
    CHECK(txa[6] == msh[6]);
    const std::string docId = txa[12].substr(0, txa[12].find('^'));
    CHECK(docId.size() == 36);
    CHECK(txa[12] == docId + "^PPMG");
    CHECK(txa[17] == "DO");
    CHECK(txa[19] == "AV");
    std::string hex;
    for (char ch : docId)
        if (ch != '-') hex += ch;
    CHECK(msh[9] == hex.substr(0, 20));
    const auto obx = fields(5);
    CHECK(obx[0] == "OBX");
    CHECK(obx[1] == "1");
    CHECK(obx[2] == "ED");
    CHECK(obx[3] == "34895-3^Education note^LN");
    const auto ed = splitOn(obx[5], '^');
    REQUIRE(ed.size() == 5);
    CHECK(ed[1] == "TEXT");
    CHECK(ed[2] == "XML");
    CHECK(ed[3] == "Base64");
    CHECK(obx[11] == "F");
    CHECK(obx[14] == msh[6]);
    const std::string cda = decodeBase64(ed[4]);
    CHECK_THAT(cda, Catch::Contains("<ClinicalDocument"));
    CHECK_THAT(cda, Catch::Contains("root=\"" + docId + "\""));
    CHECK_THAT(cda, Catch::Contains("extension=\"MRN-5521\""));
    if (!sharedDir().empty()) {
        const std::string xsd = sharedDir() + "/schemas/cda/schema/extensions/SDTC/infrastructure/cda/CDA_SDTC.xsd";
        CHECK(validateCda(cda, xsd).empty());
    } else {
        WARN("SKIPPED: ../shared is absent; the CDA in the MDM is not schema-validated");
    }
    // The MDM reads back as HL7 v2 (its own parser), and its CDA carries the outcomes of a render.
    req.outputFormat = PPMG_OUTPUT_CDA;
    const std::string direct = engine.render(req);
    CHECK(normaliseDocument(direct) == normaliseDocument(cda));
    // Patient text with ER7's separators is escaped.
    const std::string odd =
        "MSH|^~\\&|A|B|C|D|20251115||ADT^A01|C9|P|2.5.1\rPID|1||X\\F\\1||A\\S\\B^C\\T\\D||19900101|O\r";
    req.data = odd;
    req.outputFormat = PPMG_OUTPUT_MDM;
    const std::string m2 = engine.render(req);
    CHECK_THAT(m2, Catch::Contains("PID|1||X\\F\\1||A\\S\\B^C\\T\\D||19900101|O\r"));
}

TEST_CASE("MDM output is for render only, assess refuses it", "[hl7v2][mdm]") {
    static GuidanceEngine engine{EngineConfig{}};
    const std::string v2 = readText(std::string(PPMG_TEST_DIR) + "/hl7v2/caesarean-day20.hl7");
    RequestSpec req;
    req.data = v2;
    req.outputFormat = PPMG_OUTPUT_MDM;
    try {
        engine.assess(req);
        FAIL("expected a refusal");
    } catch (const Error& e) {
        CHECK(e.status() == PPMG_E_UNSUPPORTED);
    }
    const auto both = engine.assessAndRender(req);
    CHECK(both.document.rfind("MSH|", 0) == 0);
    CHECK(both.assessment.front() == '{');
}
