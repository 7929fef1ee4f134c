// The C-CDA reader (read/ccda_parser.cpp): what it reads from where, in FHIR's words, and what it
// refuses; HL7 timestamps; the fast XML scanner against libxml2. The parity with FHIR twins is in
// test_parity.cpp, and every rule vignette is also read as C-CDA (support/test_env.cpp).
#include <catch2/catch.hpp>

#include <deque>
#include <filesystem>
#include <random>

#include "base/errors.hpp"
#include "read/xml_tree.hpp"
#include "support/fhir_ccda_convert.hpp"
#include "support/test_env.hpp"
#include "write/assessment_writers.hpp"

using namespace ppmg::core;
using namespace ppmg::test;
namespace fs = std::filesystem;

namespace {

const std::string kRecordTarget =
    R"(<recordTarget><patientRole><id root="2.16.840.1.113883.19.5.1" extension="MRN-1"/>
<patient><name use="L"><given>Ada</given><given>May</given><family>Lovelace</family></name>
<administrativeGenderCode code="F" codeSystem="2.16.840.1.113883.5.1"/><birthTime value="19920401"/></patient>
</patientRole></recordTarget>)";

// A C-CDA document with one patient and the given sections.
std::string document(const std::string& sections, const std::string& recordTargets = kRecordTarget) {
    return R"(<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<templateId root="2.16.840.1.113883.10.20.22.1.1"/><templateId root="2.16.840.1.113883.10.20.22.1.1" extension="2015-08-01"/>
<id root="1.2.3"/><code code="34133-9" codeSystem="2.16.840.1.113883.6.1"/>)" +
           recordTargets + "<component><structuredBody>" + sections +
           "</structuredBody></component></ClinicalDocument>";
}

std::string section(const std::string& templateRoot, const std::string& entries, const std::string& title = "S") {
    return R"(<component><section><templateId root=")" + templateRoot + R"("/><title>)" + title +
           "</title><text>narrative</text>" + entries + "</section></component>";
}

const std::string kProblems = "2.16.840.1.113883.10.20.22.2.5.1";
const std::string kMedications = "2.16.840.1.113883.10.20.22.2.1.1";
const std::string kProcedures = "2.16.840.1.113883.10.20.22.2.7.1";
const std::string kResults = "2.16.840.1.113883.10.20.22.2.3.1";
const std::string kAllergies = "2.16.840.1.113883.10.20.22.2.6.1";
const std::string kEncounters = "2.16.840.1.113883.10.20.22.2.22.1";

RawRecord read(const std::string& xml) { return readRecord(xml, PPMG_INPUT_AUTO, ReadLimits{}, "test.xml"); }
PatientRecord facts(const std::string& xml, const std::string& patient = "") {
    return mapRecord(read(xml), patient, content(), "test.xml");
}

Error refusal(const std::string& xml, ppmg_input_format format = PPMG_INPUT_AUTO) {
    try {
        readRecord(xml, format, ReadLimits{}, "test.xml");
    } catch (const Error& e) {
        return e;
    }
    FAIL("the input was accepted");
    return Error(PPMG_OK, "");
}

// A problem concern act holding one problem observation.
std::string problem(const std::string& value, const std::string& concernStatus = "active",
                    const std::string& statusObservation = "", const std::string& time = "<low value=\"20251110\"/>",
                    const std::string& negation = "") {
    std::string status;
    if (!statusObservation.empty())
        status = R"(<entryRelationship typeCode="REFR"><observation classCode="OBS" moodCode="EVN">
<templateId root="2.16.840.1.113883.10.20.22.4.6"/><code code="33999-4" codeSystem="2.16.840.1.113883.6.1"/>
<value xsi:type="CD" code=")" +
                 statusObservation + R"(" codeSystem="2.16.840.1.113883.6.96"/></observation></entryRelationship>)";
    return R"(<entry><act classCode="ACT" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.3"/>
<id root="9.9" extension="concern"/><code code="CONC" codeSystem="2.16.840.1.113883.5.6"/><statusCode code=")" +
           concernStatus + R"("/>
<entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN")" +
           negation + R"(><templateId root="2.16.840.1.113883.10.20.22.4.4"/>
<templateId root="2.16.840.1.113883.10.20.22.4.4" extension="2015-08-01"/><id root="1.2.3.4" extension="p1"/>
<code code="55607006" codeSystem="2.16.840.1.113883.6.96"/><effectiveTime>)" +
           time + "</effectiveTime>" + value + status + "</observation></entryRelationship></act></entry>";
}

const std::string kDvt = R"(<value xsi:type="CD" code="128053003" codeSystem="2.16.840.1.113883.6.96"/>)";

std::string medication(const std::string& mood, const std::string& status, const std::string& code = "67108",
                       const std::string& extra = "",
                       const std::string& templateRoot = "2.16.840.1.113883.10.20.22.4.16") {
    return R"(<entry><substanceAdministration classCode="SBADM" moodCode=")" + mood + "\"" + extra + R"(>
<templateId root=")" +
           templateRoot + R"("/><id root="5.5" extension="m1"/>)" + status + R"(
<effectiveTime xsi:type="IVL_TS"><low value="20251101"/></effectiveTime>
<consumable><manufacturedProduct><manufacturedMaterial><code code=")" +
           code + R"(" codeSystem="2.16.840.1.113883.6.88" displayName="drug">
<translation code="B01AB05" codeSystem="2.16.840.1.113883.6.73"/></code></manufacturedMaterial></manufacturedProduct>
</consumable><author><time value="20251102080000+0100"/></author></substanceAdministration></entry>)";
}

std::string procedure(const std::string& attrs, const std::string& status, const std::string& templateRoot,
                      const std::string& element = "procedure") {
    return "<entry><" + element + " classCode=\"PROC\" " + attrs + "><templateId root=\"" + templateRoot +
           R"("/><id root="7.7" extension="x1"/><code code="11466000" codeSystem="2.16.840.1.113883.6.96"/>)" + status +
           R"(<effectiveTime value="20251026083000-0500"/></)" + element + "></entry>";
}

}  // namespace

// Dates: CDA TS is read by the HL7 timestamp parser (base/hl7_datetime.hpp), tested in test_hl7v2.cpp.

// ---- The patient ---------------------------------------------------------------------------------

TEST_CASE("C-CDA: the patient from recordTarget: ids, name, gender, birth time", "[ccda]") {
    const std::string targets = R"(<recordTarget><patientRole>
<id root="2.16.840.1.113883.19.5.1" extension="MRN-1"/><id root="2.16.840.1.113883.4.1" extension="999-12-3456"/>
<id root="2.16.840.1.113883.19.5.2"/><id root="A1B2C3D4-0000-4000-8000-000000000001"/><id nullFlavor="UNK"/>
<patient><name use="P"><given>Nick</given></name><name use="L"><given>Ada</given><family>Lovelace</family></name>
<administrativeGenderCode code="F" codeSystem="2.16.840.1.113883.5.1"/><birthTime value="199204"/></patient>
</patientRole></recordTarget>)";
    const PatientRecord r = facts(document("", targets));
    const Patient& p = r.patient;
    CHECK(std::string(p.source.id) == "MRN-1");  // the first id's extension: what --patient names
    CHECK(std::string(p.source.resourceType) == "Patient");
    REQUIRE(p.identifiers.size() == 4);
    CHECK(std::string(p.identifiers[0].system) == "urn:oid:2.16.840.1.113883.19.5.1");
    CHECK(std::string(p.identifiers[0].value) == "MRN-1");
    CHECK(std::string(p.identifiers[2].system) == "urn:ietf:rfc:3986");
    CHECK(std::string(p.identifiers[2].value) == "urn:oid:2.16.840.1.113883.19.5.2");
    CHECK(std::string(p.identifiers[3].value) == "urn:uuid:A1B2C3D4-0000-4000-8000-000000000001");
    CHECK(std::string(p.family) == "Lovelace");  // the legal name
    REQUIRE(p.given.size() == 1);
    CHECK(std::string(p.gender) == "female");
    CHECK(formatIsoDate(*p.birthDate) == "1992-04-01");  // a partial birth time: its first day
    CHECK(facts(document("", targets), "MRN-1").patientCount == 1);

    auto gender = [&](const std::string& g) {
        std::string t = targets;
        t.replace(t.find("<administrativeGenderCode"), t.find("<birthTime") - t.find("<administrativeGenderCode"), g);
        return std::string(facts(document("", t)).patient.gender);
    };
    CHECK(gender(R"(<administrativeGenderCode code="M" codeSystem="2.16.840.1.113883.5.1"/>)") == "male");
    CHECK(gender(R"(<administrativeGenderCode code="UN" codeSystem="2.16.840.1.113883.5.1"/>)") == "unknown");
    CHECK(gender(R"(<administrativeGenderCode nullFlavor="UNK"/>)").empty());
    CHECK(gender("").empty());
}

TEST_CASE("C-CDA: not about one patient is refused with one line", "[ccda]") {
    SECTION("no recordTarget") {
        Error e = refusal(R"(<ClinicalDocument xmlns="urn:hl7-org:v3"><id root="1.2.3"/></ClinicalDocument>)");
        CHECK(e.status() == PPMG_E_NO_PATIENT);
    }
    SECTION("two recordTargets: the mapping cannot choose, and names them") {
        const std::string two =
            kRecordTarget + std::string(kRecordTarget).replace(kRecordTarget.find("MRN-1"), 5, "MRN-2");
        try {
            facts(document(section(kProblems, problem(kDvt)), two));
            FAIL("accepted");
        } catch (const Error& e) {
            CHECK(e.status() == PPMG_E_AMBIGUOUS_PATIENT);
            CHECK(std::string(e.what()).find("MRN-1") != std::string::npos);
            CHECK(std::string(e.what()).find('\n') == std::string::npos);
        }
        // Asked for one, its facts are of no known subject (C-CDA cannot say whose they are).
        const PatientRecord r = facts(document(section(kProblems, problem(kDvt)), two), "MRN-2");
        REQUIRE(r.conditions.size() == 1);
        CHECK(r.conditions[0].whose == Whose::Unknown);
    }
    SECTION("a fragment, not a document") {
        Error e = refusal(R"(<section><templateId root="2.16.840.1.113883.10.20.22.2.5.1"/></section>)");
        CHECK(e.status() == PPMG_E_NO_PATIENT);
        CHECK(std::string(e.what()).find("fragment") != std::string::npos);
    }
    SECTION("a ClinicalDocument outside the CDA namespace") {
        Error e = refusal(R"(<ClinicalDocument xmlns="urn:other">)" + kRecordTarget + "</ClinicalDocument>");
        CHECK(e.status() == PPMG_E_NOT_FHIR);
        CHECK(std::string(e.what()).find("urn:hl7-org:v3") != std::string::npos);
    }
    SECTION("as PPMG_INPUT_CCDA, FHIR is not C-CDA") {
        CHECK(refusal(R"(<Patient xmlns="http://hl7.org/fhir"><id value="p"/></Patient>)", PPMG_INPUT_CCDA).status() ==
              PPMG_E_NOT_FHIR);
    }
}

// ---- Recognition ---------------------------------------------------------------------------------

TEST_CASE("C-CDA is recognised by its content: ClinicalDocument in urn:hl7-org:v3", "[ccda]") {
    CHECK(isCcda(R"(<ClinicalDocument xmlns="urn:hl7-org:v3">)"));
    CHECK(
        isCcda("<?xml version=\"1.0\"?>\n<?xml-stylesheet type=\"text/xsl\" href=\"CDA.xsl\"?>\n<!-- a comment -->\n"
               "<ClinicalDocument xmlns=\"urn:hl7-org:v3\">"));
    CHECK(isCcda(R"(<cda:ClinicalDocument xmlns:cda="urn:hl7-org:v3">)"));
    CHECK(isCcda("<!DOCTYPE ClinicalDocument [<!ENTITY x \"y\">]><ClinicalDocument/>"));  // refused by the C-CDA reader
    CHECK(isCcda(R"(<section><templateId root="2.16.840.1.113883.10.20.22.2.5.1"/></section>)"));
    CHECK(isCcda(R"(<entry xmlns="urn:hl7-org:v3"/>)"));
    CHECK_FALSE(isCcda(R"(<entry xmlns="http://hl7.org/fhir"/>)"));  // FHIR's
    CHECK_FALSE(isCcda(R"(<Bundle xmlns="http://hl7.org/fhir"/>)"));
    CHECK_FALSE(isCcda(R"(<Patient xmlns="urn:hl7-org:v3"/>)"));
    CHECK_FALSE(isCcda("<!DOCTYPE Patient><Patient/>"));
    CHECK_FALSE(isCcda("<html><body/></html>"));
    // Through readRecord under AUTO, the same bytes go to the C-CDA reader.
    CHECK(read(document("")).bundleType == Text("document"));
}

// ---- Problems ------------------------------------------------------------------------------------

TEST_CASE("C-CDA problems: status observation, concern status, negation, onset and abatement", "[ccda]") {
    using namespace status_system;
    // A fact's texts view its record's arena: the records are kept while the test reads them.
    std::deque<PatientRecord> kept;
    auto condition = [&](const std::string& entry) {
        const PatientRecord& r = kept.emplace_back(facts(document(section(kProblems, entry))));
        REQUIRE(r.conditions.size() == 1);
        return r.conditions[0];
    };
    SECTION("the Problem Status observation, in the HL7 system") {
        for (auto s : {std::make_pair("55561003", "active"), std::make_pair("73425007", "inactive"),
                       std::make_pair("413322009", "resolved"), std::make_pair("246455001", "recurrence"),
                       std::make_pair("263855007", "relapse"), std::make_pair("277022003", "remission")}) {
            const Condition c = condition(problem(kDvt, "active", s.first));
            REQUIRE(c.clinicalStatusCodings.size() == 1);
            CHECK(std::string(c.clinicalStatusCodings[0].system) == kConditionClinical);
            CHECK(c.clinicalStatus.state == StatusReading::State::Read);
            CHECK(std::string(c.clinicalStatus.code) == s.second);
        }
        // A status the map does not know stays SNOMED CT: unreadable (counts, and is listed).
        CHECK(condition(problem(kDvt, "active", "12345")).clinicalStatus.state == StatusReading::State::Unreadable);
    }
    SECTION("without one, the concern's statusCode") {
        CHECK(std::string(condition(problem(kDvt, "active")).clinicalStatus.code) == "active");
        CHECK(std::string(condition(problem(kDvt, "completed")).clinicalStatus.code) == "inactive");
        CHECK(std::string(condition(problem(kDvt, "suspended")).clinicalStatus.code) == "inactive");
        CHECK(std::string(condition(problem(kDvt, "aborted")).clinicalStatus.code) == "inactive");
        const Condition odd = condition(problem(kDvt, "new"));  // no FHIR counterpart: kept in its own system
        CHECK(std::string(odd.clinicalStatusCodings[0].system) == "http://terminology.hl7.org/CodeSystem/v3-ActStatus");
        CHECK(odd.clinicalStatus.state == StatusReading::State::Unreadable);
    }
    SECTION("negationInd: refuted") {
        const Condition c =
            condition(problem(kDvt, "active", "55561003", "<low value=\"20251110\"/>", R"( negationInd="true")"));
        CHECK(std::string(c.verificationStatus.code) == "refuted");
        CHECK(std::string(c.verificationStatusCodings[0].system) == kConditionVerification);
        CHECK(condition(problem(kDvt)).verificationStatus.state == StatusReading::State::Absent);
    }
    SECTION("effectiveTime low is the onset, high the abatement; nullFlavor is missing") {
        const Condition c =
            condition(problem(kDvt, "active", "", R"(<low value="20251110083000+0200"/><high value="202511"/>)"));
        CHECK(std::string(c.onset->text) == "20251110083000+0200");
        CHECK(c.abatement->precision == Precision::Month);
        const Condition unk =
            condition(problem(kDvt, "active", "", R"(<low nullFlavor="UNK"/><high nullFlavor="UNK"/>)"));
        CHECK_FALSE(unk.onset);
        CHECK_FALSE(unk.abatement);
        const Condition garbled = condition(problem(kDvt, "active", "", R"(<low value="2025-11-10"/>)"));
        CHECK_FALSE(garbled.onset);  // not an HL7 timestamp: missing, as a nullFlavor is
    }
    SECTION("the value's code and translations are codings; OIDs become the systems the content knows") {
        const Condition c = condition(problem(R"(<value xsi:type="CD" nullFlavor="OTH">
<originalText>DVT, left leg</originalText>
<translation code="128053003" codeSystem="2.16.840.1.113883.6.96" displayName="DVT"/>
<translation code="I82.402" codeSystem="2.16.840.1.113883.6.90"/><translation nullFlavor="NI"/>
<translation code="X1" codeSystem="1.2.3.4.5"/></value>)"));
        REQUIRE(c.codes.size() == 3);
        CHECK(std::string(c.codes[0].system) == "http://snomed.info/sct");
        CHECK(std::string(c.codes[0].display) == "DVT");
        CHECK(std::string(c.codes[1].system) == "http://hl7.org/fhir/sid/icd-10-cm");
        CHECK(std::string(c.codes[2].system) == "1.2.3.4.5");  // an OID the content does not know: as written
        CHECK(std::string(c.codeText) == "DVT, left leg");
    }
    SECTION("an uncoded problem quotes its narrative") {
        const std::string entry = problem(R"(<value xsi:type="CD" nullFlavor="UNK"/>)");
        std::string withText = entry;
        withText.insert(withText.find("<effectiveTime>"), R"(<text><reference value="#p1"/></text>)");
        const PatientRecord r = facts(document(
            R"(<component><section><templateId root="2.16.840.1.113883.10.20.22.2.5.1"/><title>Problems</title>
<text><table><tr><td ID="p1">Clot in the <content>left</content> calf</td></tr></table></text>)" +
            withText + "</section></component>"));
        REQUIRE(r.conditions.size() == 1);
        CHECK(r.conditions[0].codes.empty());
        CHECK(std::string(r.conditions[0].codeText) == "Clot in the left calf");
    }
    SECTION("a Problem Observation outside a concern: an encounter diagnosis; an indication is not one") {
        const std::string observation =
            R"(<observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.4"/>
<id root="1.1"/><code code="282291009" codeSystem="2.16.840.1.113883.6.96"/>)" +
            kDvt + "</observation>";
        const std::string encounter =
            R"(<entry><encounter classCode="ENC" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.49"/>
<code code="4525004" codeSystem="2.16.840.1.113883.6.96"/><effectiveTime><low value="20251112"/></effectiveTime>
<entryRelationship typeCode="COMP"><act classCode="ACT" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.80"/>
<entryRelationship typeCode="SUBJ">)" +
            observation + "</entryRelationship></act></entryRelationship></encounter></entry>";
        std::string withReason = medication("INT", R"(<statusCode code="active"/>)");
        withReason.insert(withReason.find("</substanceAdministration>"),
                          R"(<entryRelationship typeCode="RSON">)" + observation + "</entryRelationship>");
        const PatientRecord r = facts(document(section(kEncounters, encounter) + section(kMedications, withReason)));
        CHECK(r.conditions.size() == 1);  // the encounter's diagnosis; the medication's reason is not read
        CHECK(r.encounters.size() == 1);
        CHECK(r.medications.size() == 1);
    }
}

// ---- Medications ---------------------------------------------------------------------------------

TEST_CASE("C-CDA medications: moodCode, statusCode, negation, codes", "[ccda]") {
    std::deque<PatientRecord> kept;  // a fact's texts view its record's arena
    auto med = [&](const std::string& entry) {
        const PatientRecord& r = kept.emplace_back(facts(document(section(kMedications, entry))));
        REQUIRE(r.medications.size() == 1);
        return r.medications[0];
    };
    SECTION("INT is a MedicationRequest dated by its author; EVN a MedicationStatement dated by its start") {
        const Medication request = med(medication("INT", R"(<statusCode code="active"/>)"));
        CHECK(std::string(request.source.resourceType) == "MedicationRequest");
        CHECK(std::string(request.status) == "active");
        CHECK(std::string(request.when->text) == "20251102080000+0100");
        REQUIRE(request.codes.size() == 2);  // RxNorm and its ATC translation
        CHECK(std::string(request.codes[0].system) == "http://www.nlm.nih.gov/research/umls/rxnorm");
        CHECK(std::string(request.codes[1].system) == "http://www.whocc.no/atc");
        const Medication statement = med(medication("EVN", R"(<statusCode code="active"/>)"));
        CHECK(std::string(statement.source.resourceType) == "MedicationStatement");
        CHECK(std::string(statement.when->text) == "20251101");
    }
    SECTION("statusCode in FHIR's words") {
        for (auto s :
             {std::make_tuple("INT", "suspended", "on-hold"), std::make_tuple("INT", "aborted", "stopped"),
              std::make_tuple("INT", "completed", "completed"), std::make_tuple("INT", "nullified", "entered-in-error"),
              std::make_tuple("INT", "cancelled", "cancelled"), std::make_tuple("INT", "new", "draft"),
              std::make_tuple("EVN", "suspended", "on-hold"), std::make_tuple("EVN", "new", "intended"),
              std::make_tuple("EVN", "cancelled", "not-taken"), std::make_tuple("EVN", "obsolete", "obsolete")}) {
            INFO(std::get<0>(s) << " " << std::get<1>(s));
            CHECK(std::string(
                      med(medication(std::get<0>(s), std::string("<statusCode code=\"") + std::get<1>(s) + "\"/>"))
                          .status) == std::get<2>(s));
        }
        CHECK(std::string(med(medication("INT", R"(<statusCode nullFlavor="UNK"/>)")).status) == "unknown");
        CHECK(med(medication("INT", R"(<statusCode nullFlavor="NI"/>)")).status.empty());
    }
    SECTION("negated: a MedicationStatement not-taken") {
        const Medication none =
            med(medication("EVN", R"(<statusCode code="active"/>)", "67108", R"( negationInd="true")"));
        CHECK(std::string(none.source.resourceType) == "MedicationStatement");
        CHECK(std::string(none.status) == "not-taken");
    }
    SECTION("no code: an unknown medication") {
        std::string entry = medication("INT", R"(<statusCode code="active"/>)");
        entry.replace(entry.find("<code code=\"67108\""),
                      entry.find("</code>") + 7 - entry.find("<code code=\"67108\""),
                      R"(<code nullFlavor="UNK"><originalText>a blood thinner</originalText></code>)");
        CHECK(med(entry).unresolved);
    }
    SECTION("plans are not medications: a planned medication activity, or another mood") {
        const PatientRecord r =
            facts(document(section(kMedications, medication("INT", R"(<statusCode code="active"/>)", "5224", "",
                                                            "2.16.840.1.113883.10.20.22.4.42") +
                                                     medication("RQO", R"(<statusCode code="active"/>)"))));
        CHECK(r.medications.empty());
    }
}

// ---- Procedures, observations, allergies, encounters -----------------------------------------------

TEST_CASE("C-CDA procedures: the three Procedure Activity templates, statuses, negation, plans", "[ccda]") {
    const PatientRecord r = facts(document(section(
        kProcedures,
        procedure(R"(moodCode="EVN")", R"(<statusCode code="completed"/>)", "2.16.840.1.113883.10.20.22.4.14") +
            procedure(R"(moodCode="EVN")", R"(<statusCode code="active"/>)", "2.16.840.1.113883.10.20.22.4.12", "act") +
            procedure(R"(moodCode="EVN")", R"(<statusCode code="aborted"/>)", "2.16.840.1.113883.10.20.22.4.13",
                      "observation") +
            procedure(R"(moodCode="EVN" negationInd="true")", R"(<statusCode code="completed"/>)",
                      "2.16.840.1.113883.10.20.22.4.14") +
            procedure(R"(moodCode="EVN")", R"(<statusCode nullFlavor="NI"/>)", "2.16.840.1.113883.10.20.22.4.14") +
            procedure(R"(moodCode="INT")", R"(<statusCode code="active"/>)", "2.16.840.1.113883.10.20.22.4.14") +
            procedure(R"(moodCode="RQO")", R"(<statusCode code="active"/>)", "2.16.840.1.113883.10.20.22.4.41"))));
    REQUIRE(r.procedures.size() == 5);
    CHECK(std::string(r.procedures[0].status) == "completed");
    CHECK(std::string(r.procedures[1].status) == "in-progress");
    CHECK(std::string(r.procedures[2].status) == "stopped");
    CHECK(std::string(r.procedures[3].status) == "not-done");
    CHECK(r.procedures[4].status.empty());  // nullFlavor: missing
    CHECK(formatIsoDate(r.procedures[0].when->date) == "2025-10-26");
    CHECK(std::string(r.procedures[0].codes[0].system) == "http://snomed.info/sct");
}

TEST_CASE("C-CDA observations: organizers, values, the organizer's time, negation", "[ccda]") {
    auto component = [](const std::string& code, const std::string& value, const std::string& extra = "") {
        return R"(<component><observation classCode="OBS" moodCode="EVN")" + extra +
               R"(><templateId root="2.16.840.1.113883.10.20.22.4.2"/><id root="3.3"/>
<code code=")" +
               code + R"(" codeSystem="2.16.840.1.113883.6.1"/><statusCode code="completed"/>)" + value +
               "</observation></component>";
    };
    const std::string organizer =
        R"(<entry><organizer classCode="BATTERY" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.1"/>
<id root="3.3"/><statusCode code="completed"/><effectiveTime value="20251112080000+0000"/>)" +
        component("777-3", R"(<value xsi:type="PQ" value="42" unit="10*3/uL"/>)") +
        component("73771-8", R"(<value xsi:type="CD" code="11466000" codeSystem="2.16.840.1.113883.6.96"/>)") +
        component("93857-1", R"(<effectiveTime value="20251026"/><value xsi:type="TS" value="20251026"/>)") +
        component("8310-5", R"(<value xsi:type="PQ" value="high" unit="Cel"/>)") +
        component("8867-4", R"(<value xsi:type="PQ" value="80" unit="/min"/>)", R"( negationInd="true")") +
        component("1234-5", R"(<value xsi:type="ST">free text</value>)") + "</organizer></entry>";
    const PatientRecord r = facts(document(section(kResults, organizer)));
    REQUIRE(r.observations.size() == 5);  // the negated one is not read
    const Observation& platelets = r.observations[0];
    CHECK(platelets.quantity.present);
    CHECK(platelets.quantity.value == 42);
    CHECK(std::string(platelets.quantity.unit) == "10*3/uL");
    CHECK(std::string(platelets.status) == "final");
    CHECK(std::string(platelets.when->text) == "20251112080000+0000");  // the organizer's time
    CHECK(std::string(r.observations[1].valueCodes[0].code) == "11466000");
    CHECK(formatIsoDate(r.observations[2].valueDateTime->date) == "2025-10-26");
    CHECK(std::string(r.observations[2].when->text) == "20251026");  // its own time first
    CHECK_FALSE(r.observations[3].quantity.present);                 // not a number: shown, never used as one
    CHECK(std::string(r.observations[3].valueText) == "high");
    CHECK(std::string(r.observations[4].valueText) == "free text");
}

TEST_CASE("C-CDA allergies: the substance, else the value, status, negation", "[ccda]") {
    auto allergy = [](const std::string& negation, const std::string& substance, const std::string& status) {
        return R"(<entry><act classCode="ACT" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.30"/>
<statusCode code="active"/><entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN")" +
               negation + R"(><templateId root="2.16.840.1.113883.10.20.22.4.7"/><id root="4.4"/>
<value xsi:type="CD" code="300916003" codeSystem="2.16.840.1.113883.6.96"/>
<participant typeCode="CSM"><participantRole><playingEntity>)" +
               substance + "</playingEntity></participantRole></participant>" + status +
               "</observation></entryRelationship></act></entry>";
    };
    const std::string inactive =
        R"(<entryRelationship typeCode="SUBJ" inversionInd="true"><observation classCode="OBS" moodCode="EVN">
<templateId root="2.16.840.1.113883.10.20.22.4.28"/><value xsi:type="CE" code="73425007" codeSystem="2.16.840.1.113883.6.96"/>
</observation></entryRelationship>)";
    const PatientRecord r = facts(document(
        section(kAllergies, allergy("", R"(<code code="111088007" codeSystem="2.16.840.1.113883.6.96"/>)", inactive) +
                                allergy("", R"(<code nullFlavor="UNK"/>)", "") +
                                allergy(R"( negationInd="true")", R"(<code nullFlavor="NA"/>)", ""))));
    REQUIRE(r.allergies.size() == 3);
    CHECK(std::string(r.allergies[0].codes[0].code) == "111088007");  // the substance
    CHECK(std::string(r.allergies[0].clinicalStatus.code) == "inactive");
    CHECK(std::string(r.allergies[1].codes[0].code) == "300916003");     // no substance: the value
    CHECK(std::string(r.allergies[1].clinicalStatus.code) == "active");  // the concern's
    CHECK(std::string(r.allergies[2].verificationStatus.code) == "refuted");
}

TEST_CASE("C-CDA: what is not read: family history, plans, nested statements of no known template", "[ccda]") {
    const std::string family = R"(<component><section><templateId root="2.16.840.1.113883.10.20.22.2.15"/>
<entry><organizer classCode="CLUSTER" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.45"/>
<subject><relatedSubject classCode="PRS"><code code="MTH" codeSystem="2.16.840.1.113883.5.111"/></relatedSubject></subject>
<component><observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.46"/>
<code code="64572001" codeSystem="2.16.840.1.113883.6.96"/>)" +
                               kDvt + R"(</observation></component></organizer></entry>
</section></component>)";
    const std::string nested =
        R"(<entry><procedure classCode="PROC" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.14"/>
<code code="11466000" codeSystem="2.16.840.1.113883.6.96"/><statusCode code="completed"/>
<entryRelationship typeCode="REFR"><observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.143"/>
<code code="225773000" codeSystem="2.16.840.1.113883.6.96"/></observation></entryRelationship></procedure></entry>)";
    const std::string unknownTop =
        R"(<entry><observation classCode="OBS" moodCode="EVN"><code code="8310-5" codeSystem="2.16.840.1.113883.6.1"/>
<value xsi:type="PQ" value="38.5" unit="Cel"/></observation></entry>)";
    const PatientRecord r = facts(document(family + section(kProcedures, nested) + section("1.2.3", unknownTop)));
    CHECK(r.conditions.empty());  // the mother's DVT in the family history is hers, not the patient's
    CHECK(r.procedures.size() == 1);
    REQUIRE(r.observations.size() == 1);  // the top-level observation of no template; not the nested preference
    CHECK(std::string(r.observations[0].codes[0].code) == "8310-5");
}

TEST_CASE("C-CDA: an entry about someone else names no patient of the record", "[ccda]") {
    std::string entry = problem(kDvt);
    entry.insert(
        entry.find("<templateId root=\"2.16.840.1.113883.10.20.22.4.4\"/>"),
        R"(<subject><relatedSubject classCode="PRS"><code code="NCHILD" codeSystem="2.16.840.1.113883.5.111"/></relatedSubject></subject>)");
    const PatientRecord r = facts(document(section(kProblems, entry)));
    REQUIRE(r.conditions.size() == 1);
    CHECK(r.conditions[0].whose == Whose::Unknown);  // rule 20 decides what it means
}

TEST_CASE("C-CDA: ids are not keys: entries that share an id are all read", "[ccda]") {
    std::string entries;
    for (int i = 0; i < 3; ++i) entries += problem(kDvt);  // one id, three times
    const PatientRecord r =
        facts(document(section(kProblems, entries) + section("2.16.840.1.113883.10.20.22.2.5", problem(kDvt))));
    CHECK(r.conditions.size() == 4);
}

TEST_CASE("C-CDA: a narrative-only document gives data gaps, never silence or an error", "[ccda]") {
    const std::string xml = document(section(kProblems, "") + section(kMedications, "") + section(kProcedures, ""));
    const PatientRecord r = facts(xml);
    CHECK(r.conditions.empty());
    CHECK(r.medications.empty());
    const Assessment a = assess(content(), r, *parseIsoDate("2025-11-15"));
    CHECK(outcomes(a)["abdominal"] == "review");
    CHECK(hasFinding(a, "PPM-APP-02"));   // no delivery
    CHECK(hasFinding(a, "PPM-REV-05"));   // no Condition at all
    CHECK(hasFinding(a, "PPM-PREC-02"));  // no medication at all
}

// ---- Evidence ------------------------------------------------------------------------------------

TEST_CASE("C-CDA evidence names the entry: id, section, template, and its path", "[ccda]") {
    const std::string xml = document(
        section(kProcedures,
                procedure(R"(moodCode="EVN")", R"(<statusCode code="completed"/>)", "2.16.840.1.113883.10.20.22.4.14"),
                "Surgical procedures") +
        section(kProblems, problem(kDvt, "active", "55561003")));
    const PatientRecord r = facts(xml);
    const Source& s = r.conditions.at(0).source;
    CHECK(std::string(s.resourceType) == "Condition");
    CHECK(std::string(s.id) == "p1");
    CHECK(std::string(s.path) ==
          "/ClinicalDocument/component/structuredBody/component[2]/section/entry[1]/act/entryRelationship[1]/"
          "observation");
    REQUIRE(s.document != nullptr);
    CHECK(std::string(s.document->idRoot) == "1.2.3.4");
    CHECK(std::string(s.document->idExtension) == "p1");
    CHECK(std::string(s.document->sectionTemplateId) == kProblems);
    CHECK(std::string(s.document->templateId) == "2.16.840.1.113883.10.20.22.4.4:2015-08-01");
    CHECK(std::string(r.procedures.at(0).source.document->sectionTitle) == "Surgical procedures");

    const Assessment a = assess(content(), r, *parseIsoDate("2025-11-15"));
    bool cited = false;
    for (const auto& f : a.findings)
        for (const auto& e : f.evidence)
            if (e.document && std::string(e.document->idExtension) == "p1") cited = true;
    CHECK(cited);
    const std::string json = writeAssessmentJson(a, content(), "test");
    CHECK(json.find(R"("templateId":"2.16.840.1.113883.10.20.22.4.4:2015-08-01")") != std::string::npos);
    CHECK(json.find(R"("idExtension":"p1")") != std::string::npos);
    const std::string text = writeAssessmentText(a, content(), "test");
    CHECK(text.find("C-CDA entry id 1.2.3.4 extension p1; section S (2.16.840.1.113883.10.20.22.2.5.1)") !=
          std::string::npos);
}

// ---- R1.1 and R2.1 --------------------------------------------------------------------------------

TEST_CASE("C-CDA R1.1 and R2.1 renderings of one record give the same facts", "[ccda]") {
    std::vector<std::string> files = {std::string(PPMG_SAMPLES_DIR) + "/sample-patient.json"};
    for (const auto& e : fs::directory_iterator(std::string(PPMG_TEST_DIR) + "/ccda/twins"))
        files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    REQUIRE(files.size() > 40);
    for (const auto& f : files) {
        INFO(f);
        const std::string json = readText(f);
        CcdaStyle r11;
        r11.r11 = true;
        r11.narrative = false;
        CcdaConversion r21, old;
        try {
            r21 = fhirJsonToCcda(json, oidOf);
            old = fhirJsonToCcda(json, oidOf, r11);
        } catch (const NotExpressible&) {
            continue;  // two patients: a document about one cannot carry it
        }
        CHECK(describeFacts(facts(r21.xml), false) == describeFacts(facts(old.xml), false));
    }
}

// ---- The HL7 examples ----------------------------------------------------------------------------

TEST_CASE("C-CDA: every HL7 example document is read, every fragment refused with one line", "[ccda][shared]") {
    PPMG_REQUIRE_SHARED();
    size_t documents = 0, fragments = 0;
    for (const auto& e : fs::recursive_directory_iterator(sharedDir() + "/data/ccda-hl7-examples")) {
        if (!e.is_regular_file()) continue;
        const std::string path = e.path().string();
        INFO(path);
        const std::string xml = readText(path);
        if (xml.find("<ClinicalDocument") != std::string::npos) {
            PatientRecord r;
            REQUIRE_NOTHROW(r = facts(xml));
            CHECK(r.patientCount == 1);
            ++documents;
        } else {
            const Error err = refusal(xml);
            CHECK(err.status() == PPMG_E_NO_PATIENT);
            CHECK(std::string(err.what()).find('\n') == std::string::npos);
            ++fragments;
        }
    }
    CHECK(documents == 9);
    CHECK(fragments == 15);
}

TEST_CASE("C-CDA: the HL7 example entries, placed in a document, read as their authors meant", "[ccda][shared]") {
    PPMG_REQUIRE_SHARED();
    const std::string dir = sharedDir() + "/data/ccda-hl7-examples/";
    // A section fragment (it declares no namespace) inside a document.
    auto wrapped = [&](const std::string& file) {
        std::string xml = readText(dir + file);
        if (xml.compare(0, 5, "<?xml") == 0) xml = xml.substr(xml.find("?>") + 2);
        if (xml.find("<component") > xml.find("<section")) xml = "<component>" + xml + "</component>";
        return facts(document(xml));
    };
    SECTION("Not Pregnant: a negated pregnancy observation is not read") {
        CHECK(wrapped("Social History/Not Pregnant/Not Pregnant (C-CDAR2.1).xml").observations.empty());
    }
    SECTION("Unknown if Pregnant: an observation that is nullFlavor UNK is missing") {
        CHECK(wrapped("Social History/Unknown if Pregnant/Unknown if Pregnant.xml").observations.empty());
    }
    SECTION("the Pregnancy Observation") {
        const PatientRecord r =
            wrapped("Problems/Pregnancy with Week Gestation/Pregnancy with Week Gestation(C-CDA2.1).xml");
        bool pregnant = false;
        for (const auto& c : r.conditions)
            for (const auto& k : c.codes) pregnant |= std::string(k.code) == "77386006";
        for (const auto& o : r.observations)
            for (const auto& k : o.valueCodes) pregnant |= std::string(k.code) == "77386006";
        CHECK(pregnant);
    }
    SECTION("Procedure Refused: not done") {
        const PatientRecord r =
            wrapped("Procedures/Procedure Refused/Procedures Section Procedure Procedure Refused(C-CDA2.1).xml");
        REQUIRE_FALSE(r.procedures.empty());
        CHECK(std::string(r.procedures[0].status) == "not-done");
    }
    SECTION("No Medications: a statement that she takes none") {
        const PatientRecord r = wrapped("Medications/No Medications/No Medications(C-CDA2.1).xml");
        REQUIRE(r.medications.size() == 1);
        CHECK(std::string(r.medications[0].status) == "not-taken");
        CHECK(std::string(r.medications[0].codes[0].code) == "410942007");  // the translation
    }
    SECTION("Active and resolved problems") {
        const PatientRecord active = wrapped("Problems/Active Problem/Active Problem(C-CDA2.1).xml");
        REQUIRE(active.conditions.size() == 1);
        CHECK(std::string(active.conditions[0].clinicalStatus.code) == "active");
        // Resolved: its concern completed (no status observation), its effectiveTime with a high.
        const PatientRecord resolved = wrapped("Problems/Complete or Resolved Problem/Resolved Problem(C-CDA2.1).xml");
        REQUIRE(resolved.conditions.size() == 1);
        CHECK(std::string(resolved.conditions[0].clinicalStatus.code) == "inactive");
        CHECK(resolved.conditions[0].abatement.has_value());
    }
    SECTION("Vital signs in mixed units keep their UCUM units") {
        const PatientRecord r = wrapped(
            "Vital Signs/Panel of Vital Signs in Mixed Metric-Imperial Units/Panel of Vital Signs in Mixed "
            "Metric-Imperial Units(C-CDA2.1).xml");
        bool fahrenheit = false;
        for (const auto& o : r.observations) fahrenheit |= std::string(o.quantity.unit) == "[degF]";
        CHECK(fahrenheit);
    }
    SECTION("A penicillin allergy") {
        const PatientRecord r =
            wrapped("Allergies/Allergy to specific drug Penicillin/Allergy to specific drug Penicillin(C-CDA2.1).xml");
        REQUIRE(r.allergies.size() == 1);
        CHECK(std::string(r.allergies[0].codes[0].system) == "http://www.nlm.nih.gov/research/umls/rxnorm");
    }
    SECTION("CCD 1: its planned heparin is a plan, not an anticoagulant") {
        const PatientRecord r = facts(readText(dir + "Documents/CCD/CCD 1/CCD.XML"));
        for (const auto& m : r.medications)
            for (const auto& c : m.codes) CHECK(std::string(c.display).find("Heparin") == std::string::npos);
        CHECK(r.medications.size() == 2);
    }
}

// ---- The fast XML scanner and libxml2 -------------------------------------------------------------

namespace {

// Whatever the fast path accepts, libxml2 accepts as the same tree.
void sameReading(const std::string& xml) {
    INFO(xml.substr(0, 300));
    xml::Tree fast;
    if (!xml::parseFast(xml, ReadLimits{}, fast)) return;
    xml::Tree slow;
    REQUIRE_NOTHROW(slow = xml::parseWithLibxml(xml, ReadLimits{}, "t.xml", "C-CDA", true));
    CHECK(xml::describeTree(fast) == xml::describeTree(slow));
}

}  // namespace

TEST_CASE("XML tree: the fast path reads what libxml2 reads, and leaves the rest to it", "[ccda][xml_tree]") {
    const std::string ok[] = {
        R"(<?xml version="1.0" encoding="UTF-8" standalone="yes"?><a xmlns="urn:x" xmlns:p="urn:p" p:b="1" c='2'>t&amp;&lt;&gt;&quot;&apos;&#65;&#x42;&#x1F600;<p:d/><!-- c --><?pi data?>u</a>)",
        "<a b=\"x\ty\r\nz\">line\r\nbreak\rCR</a>",
        "<a>  <b/>  \n  <c>  x  </c></a>",
        "<a xmlns=\"urn:x\"><b xmlns=\"\"><c/></b></a>",
        "<a xml:lang=\"en\" b=\"&#10;\"/>",
    };
    for (const auto& x : ok) {
        xml::Tree t;
        CHECK(xml::parseFast(x, ReadLimits{}, t));
        sameReading(x);
    }
    const std::string giveUp[] = {
        "<!DOCTYPE a><a/>",
        "<a>&nbsp;</a>",
        "<a><![CDATA[x]]></a>",
        "<a b='1' b='2'/>",
        "<a p:b='1'/>",
        "<é/>",
        "<a>\x01</a>",
        "<a>]]></a>",
        "<a b='<'/>",
        "<a></b>",
        "<a>",
        "<a/><b/>",
        "<a>\xEF\xBF\xBF</a>",
        "<?xml version='1.1'?><a/>",
        " <?xml version='1.0'?><a/>",
        "<a><!-- -- --></a>",
        "<a xmlns:p='urn:p' xmlns:q='urn:p' p:b='1' q:b='2'/>",
        "<a>&#0;</a>",
        "<a b=1/>",
        "<a:b:c/>",
        "",
        "<?xml-stylesheet?>",
        "<a b='x'c='y'/>",
        "<a xmlns:p=''/>",
        "<xmlns:a/>",
    };
    for (const auto& x : giveUp) {
        INFO(x);
        xml::Tree t;
        CHECK_FALSE(xml::parseFast(x, ReadLimits{}, t));
    }
    // A deep document is left to libxml2, which refuses it with the limit's message.
    std::string deep;
    for (int i = 0; i < 70; ++i) deep += "<a>";
    for (int i = 0; i < 70; ++i) deep += "</a>";
    xml::Tree t;
    CHECK_FALSE(xml::parseFast(deep, ReadLimits{}, t));
}

TEST_CASE("XML tree: mutated C-CDA documents: whatever the fast path accepts, libxml2 reads alike",
          "[ccda][xml_tree]") {
    const std::string base = readText(std::string(PPMG_TEST_DIR) + "/ccda/ccda-r11-dvt-concern-status.xml");
    const std::string alphabet = "<>/=\"'&;#x!?-:[] \t\r\nab01\xEF\xBF";
    std::mt19937 random(20251115);  // deterministic
    size_t accepted = 0;
    for (int i = 0; i < 1500; ++i) {
        std::string x = base;
        const int edits = 1 + static_cast<int>(random() % 3);
        for (int k = 0; k < edits; ++k) {
            const size_t at = random() % x.size();
            switch (random() % 3) {
                case 0: x[at] = alphabet[random() % alphabet.size()]; break;
                case 1: x.erase(at, 1 + random() % 4); break;
                default: x.insert(at, 1, alphabet[random() % alphabet.size()]);
            }
        }
        xml::Tree t;
        if (xml::parseFast(x, ReadLimits{}, t)) ++accepted;
        sameReading(x);
    }
    CHECK(accepted > 100);  // the comparison had something to compare
}
