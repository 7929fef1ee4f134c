// The FHIR R4 XML reader: fields, paths, medication references, refusals, limits, and the
// JSON/XML twins in ../shared/data.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/errors.hpp"
#include "read/record_mapping.hpp"
#include "read/record_reader.hpp"
#include "support/test_env.hpp"

using namespace ppmg::core;

namespace {

RawRecord readXml(const std::string& xml, const ReadLimits& limits = ReadLimits{}) {
    return readFhirXml(xml, limits, "test.xml");
}

// Reads and returns the refusal; fails the test when the input is accepted.
Error refusal(const std::string& xml, const ReadLimits& limits = ReadLimits{}) {
    try {
        readFhirXml(xml, limits, "test.xml");
    } catch (const Error& e) {
        return e;
    }
    FAIL("the input was accepted");
    return Error(PPMG_OK, "");
}

std::string bundle(const std::string& entries, const std::string& type = "collection") {
    return "<Bundle xmlns=\"http://hl7.org/fhir\"><type value=\"" + type + "\"/>" + entries + "</Bundle>";
}

std::string entry(const std::string& fullUrl, const std::string& resource) {
    return "<entry><fullUrl value=\"" + fullUrl + "\"/><resource>" + resource + "</resource></entry>";
}

const std::string kPatient =
    "<Patient><id value=\"p1\"/><name><family value=\"Doe\"/><given value=\"Jane\"/></name>"
    "<gender value=\"female\"/><birthDate value=\"1990-02-03\"/></Patient>";

bool readFile(const std::string& path, std::string& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    std::ostringstream ss;
    ss << in.rdbuf();
    out = ss.str();
    return true;
}

}  // namespace

TEST_CASE("XML: a bare Patient", "[fhir_xml]") {
    const std::string xml = R"(<?xml version="1.0" encoding="UTF-8"?>
<Patient xmlns="http://hl7.org/fhir">
  <id value="example"/>
  <text><status value="generated"/><div xmlns="http://www.w3.org/1999/xhtml"><p>Narrative</p></div></text>
  <identifier><use value="usual"/><system value="urn:oid:1.2.36.146.595.217.0.1"/><value value="12345"/></identifier>
  <identifier><system value="http://ns.example/mrn"/><value value="MRN-9"/></identifier>
  <identifier><system value="http://ns.example/empty"/></identifier>
  <name><use value="usual"/><given value="Jim"/></name>
  <name><use value="official"/><family value="Chalmers"/><given value="Peter"/><given value="James"/><text value="Peter James Chalmers"/></name>
  <gender value="female"/>
  <birthDate value="1974-12-25"/>
</Patient>)";
    RawRecord r = readXml(xml);
    REQUIRE(r.patients.size() == 1);
    const Patient& p = r.patients[0];
    CHECK(p.source.resourceType == "Patient");
    CHECK(p.source.id == "example");
    CHECK(p.source.path == "Patient");
    CHECK(p.fullUrl.empty());
    CHECK(p.family == "Chalmers");
    CHECK(p.given == std::vector<Text>{"Peter", "James"});
    CHECK(p.nameText == "Peter James Chalmers");
    CHECK(p.gender == "female");
    REQUIRE(p.birthDate);
    CHECK(formatIsoDate(*p.birthDate) == "1974-12-25");
    REQUIRE(p.identifiers.size() == 2);
    CHECK(p.identifiers[0].system == "urn:oid:1.2.36.146.595.217.0.1");
    CHECK(p.identifiers[0].value == "12345");
    CHECK(p.identifiers[1].value == "MRN-9");
    CHECK(r.bundleType.empty());
    CHECK(r.resourceCount == 1);
}

TEST_CASE("XML: a Patient with a partial birth date and no name", "[fhir_xml]") {
    RawRecord r = readXml(R"(<Patient xmlns="http://hl7.org/fhir"><birthDate value="1973-05"/></Patient>)");
    REQUIRE(r.patients.size() == 1);
    CHECK(r.patients[0].source.id.empty());
    CHECK(r.patients[0].family.empty());
    CHECK(r.patients[0].given.empty());
    REQUIRE(r.patients[0].birthDate);
    CHECK(formatIsoDate(*r.patients[0].birthDate) == "1973-05-01");
}

TEST_CASE("XML: a bundle with every resource kind", "[fhir_xml]") {
    const std::string xml =
        bundle(entry("urn:uuid:p1", kPatient) +
               entry("urn:uuid:o1",
                     R"(<Observation><id value="o1"/><status value="final"/>
                 <code><coding><system value="http://loinc.org"/><code value="8310-5"/><display value="Body temperature"/></coding>
                       <coding><system value="http://snomed.info/sct"/><code value="386725007"/></coding><text value="Temp"/></code>
                 <subject><reference value="urn:uuid:p1"/></subject>
                 <effectivePeriod><start value="2025-11-10T08:30:00+10:00"/><end value="2025-11-10T09:00:00+10:00"/></effectivePeriod>
                 <issued value="2025-11-11T00:00:00Z"/>
                 <valueQuantity><value value="38.5"/><unit value="degrees C"/><system value="http://unitsofmeasure.org"/><code value="Cel"/></valueQuantity>
               </Observation>)") +
               entry("urn:uuid:o2",
                     R"(<Observation><status value="amended"/>
                 <code><coding><system value="http://loinc.org"/><code value="11636-8"/></coding></code>
                 <subject><reference value="Patient/p1"/></subject>
                 <issued value="2025-11-12T10:00:00Z"/>
                 <valueCodeableConcept><coding><system value="http://snomed.info/sct"/><code value="373066001"/><display value="Yes"/></coding></valueCodeableConcept>
               </Observation>)") +
               entry("urn:uuid:o3",
                     R"(<Observation><id value="o3"/><status value="final"/>
                 <code><coding><system value="http://loinc.org"/><code value="8665-2"/></coding></code>
                 <effectiveInstant value="2025-11-13T10:00:00.123Z"/>
                 <valueDateTime value="2025-01-20"/>
               </Observation>)") +
               entry("urn:uuid:o4",
                     R"(<Observation><id value="o4"/><status value="final"/>
                 <code><coding><system value="http://loinc.org"/><code value="72166-2"/></coding></code>
                 <effectiveDateTime value="2025-11-14"/>
                 <valueString value="Never smoker"/>
               </Observation>)") +
               entry("urn:uuid:c1",
                     R"(<Condition><id value="c1"/>
                 <clinicalStatus><coding><system value="http://terminology.hl7.org/CodeSystem/condition-clinical"/><code value="active"/></coding></clinicalStatus>
                 <verificationStatus><coding><system value="http://terminology.hl7.org/CodeSystem/condition-ver-status"/><code value="confirmed"/></coding></verificationStatus>
                 <code><coding><system value="http://snomed.info/sct"/><code value="386661006"/><display value="Fever"/></coding></code>
                 <subject><reference value="urn:uuid:p1"/></subject>
                 <onsetPeriod><start value="2025-11-09"/></onsetPeriod>
                 <recordedDate value="2025-11-10T12:00:00-05:00"/>
               </Condition>)") +
               entry("urn:uuid:c2",
                     R"(<Condition><id value="c2"/>
                 <code><text value="Asthma"/></code>
                 <subject><reference value="urn:uuid:p1"/></subject>
                 <onsetDateTime value="2012-11"/>
               </Condition>)") +
               entry("urn:uuid:pr1",
                     R"(<Procedure><id value="pr1"/><status value="completed"/>
                 <code><coding><system value="http://snomed.info/sct"/><code value="11466000"/><display value="Cesarean section"/></coding></code>
                 <subject><reference value="urn:uuid:p1"/></subject>
                 <performedDateTime value="2025-11-01T22:15:00+10:00"/>
               </Procedure>)") +
               entry("urn:uuid:pr2",
                     R"(<Procedure><id value="pr2"/><status value="completed"/>
                 <code><coding><system value="http://snomed.info/sct"/><code value="85548006"/></coding></code>
                 <performedPeriod><start value="2025-10-01T01:00:00Z"/></performedPeriod>
               </Procedure>)") +
               entry("urn:uuid:mr1",
                     R"(<MedicationRequest><id value="mr1"/><status value="active"/><intent value="order"/>
                 <medicationCodeableConcept><coding><system value="http://www.nlm.nih.gov/research/umls/rxnorm"/><code value="855332"/><display value="Warfarin"/></coding></medicationCodeableConcept>
                 <subject><reference value="urn:uuid:p1"/></subject>
                 <authoredOn value="2025-10-30"/>
               </MedicationRequest>)") +
               entry("urn:uuid:ms1",
                     R"(<MedicationStatement><id value="ms1"/><status value="active"/>
                 <medicationCodeableConcept><coding><system value="http://www.nlm.nih.gov/research/umls/rxnorm"/><code value="1191"/></coding></medicationCodeableConcept>
                 <subject><reference value="urn:uuid:p1"/></subject>
                 <effectivePeriod><start value="2025-10-02"/></effectivePeriod>
                 <dateAsserted value="2025-10-05"/>
               </MedicationStatement>)") +
               entry("urn:uuid:ms2",
                     R"(<MedicationStatement><id value="ms2"/><status value="completed"/>
                 <medicationCodeableConcept><text value="aspirin"/></medicationCodeableConcept>
                 <dateAsserted value="2025-10-06"/>
               </MedicationStatement>)") +
               entry("urn:uuid:a1",
                     R"(<AllergyIntolerance><id value="a1"/>
                 <clinicalStatus><coding><code value="active"/></coding></clinicalStatus>
                 <verificationStatus><coding><code value="unconfirmed"/></coding></verificationStatus>
                 <code><coding><system value="http://snomed.info/sct"/><code value="227493005"/><display value="Cashew nuts"/></coding></code>
                 <patient><reference value="urn:uuid:p1"/></patient>
                 <recordedDate value="2014-10-09T14:58:00+11:00"/>
               </AllergyIntolerance>)") +
               entry("urn:uuid:e1",
                     R"(<Encounter><id value="e1"/><status value="finished"/>
                 <type><coding><system value="http://snomed.info/sct"/><code value="183460006"/></coding></type>
                 <type><coding><system value="http://snomed.info/sct"/><code value="169762003"/><display value="Postnatal visit"/></coding></type>
                 <subject><reference value="urn:uuid:p1"/></subject>
                 <period><start value="2025-11-01T20:00:00+10:00"/><end value="2025-11-03T10:00:00+10:00"/></period>
               </Encounter>)") +
               entry("urn:uuid:claim1", R"(<Claim><id value="claim1"/><status value="active"/></Claim>)") +
               "<entry><request><method value=\"DELETE\"/><url value=\"Patient/gone\"/></request></entry>" +
               entry("urn:uuid:org1", R"(<Organization><id value="org1"/></Organization>)"));

    RawRecord r = readXml(xml);
    CHECK(r.bundleType == "collection");
    CHECK(r.resourceCount == 16);
    REQUIRE(r.patients.size() == 1);
    CHECK(r.patients[0].fullUrl == "urn:uuid:p1");
    CHECK(r.patients[0].source.path == "Bundle.entry[0].resource");

    REQUIRE(r.observations.size() == 4);
    {
        const Observation& o = r.observations[0];
        CHECK(o.source.resourceType == "Observation");
        CHECK(o.source.id == "o1");
        CHECK(o.source.path == "Bundle.entry[1].resource");
        CHECK(o.status == "final");
        CHECK(o.subject == "urn:uuid:p1");
        REQUIRE(o.codes.size() == 2);
        CHECK(o.codes[0].system == "http://loinc.org");
        CHECK(o.codes[0].code == "8310-5");
        CHECK(o.codes[0].display == "Body temperature");
        CHECK(o.codes[1].code == "386725007");
        CHECK(o.codes[1].display.empty());
        REQUIRE(o.effective);
        CHECK(o.effective->text == "2025-11-10T08:30:00+10:00");
        CHECK(formatIsoDate(o.effective->date) == "2025-11-10");  // its own offset's date
        CHECK(o.quantity.present);
        CHECK(o.quantity.value == Approx(38.5));
        CHECK(o.quantity.unit == "Cel");  // the UCUM code wins over the unit text
        CHECK(o.valueCodes.empty());
        CHECK(!o.valueDateTime);
        CHECK(o.components.empty());
    }
    {
        const Observation& o = r.observations[1];
        CHECK(o.source.id == "urn:uuid:o2");  // no id: the fullUrl
        CHECK(o.source.path == "Bundle.entry[2].resource");
        CHECK(o.status == "amended");
        CHECK(o.subject == "Patient/p1");
        CHECK(!o.effective);
        REQUIRE(o.issued);
        CHECK(o.issued->text == "2025-11-12T10:00:00Z");  // the mapping dates it by issued
        CHECK(!o.quantity.present);
        REQUIRE(o.valueCodes.size() == 1);
        CHECK(o.valueCodes[0].code == "373066001");
        CHECK(o.valueCodes[0].display == "Yes");
    }
    {
        const Observation& o = r.observations[2];
        REQUIRE(o.effective);
        CHECK(o.effective->text == "2025-11-13T10:00:00.123Z");
        REQUIRE(o.valueDateTime);
        CHECK(formatIsoDate(o.valueDateTime->date) == "2025-01-20");
        CHECK(o.subject.empty());
    }
    {
        const Observation& o = r.observations[3];
        REQUIRE(o.effective);
        CHECK(o.effective->text == "2025-11-14");
        CHECK(o.valueText == "Never smoker");
    }

    REQUIRE(r.conditions.size() == 2);
    CHECK(r.conditions[0].clinicalStatusCodings.at(0).code == "active");
    CHECK(r.conditions[0].verificationStatusCodings.at(0).code == "confirmed");
    REQUIRE(r.conditions[0].codes.size() == 1);
    CHECK(r.conditions[0].codes[0].code == "386661006");
    REQUIRE(r.conditions[0].onset);
    CHECK(r.conditions[0].onset->text == "2025-11-09");
    REQUIRE(r.conditions[0].recorded);
    CHECK(formatIsoDate(r.conditions[0].recorded->date) == "2025-11-10");
    CHECK(r.conditions[0].source.path == "Bundle.entry[5].resource");
    CHECK(r.conditions[1].codes.empty());  // text only
    CHECK(r.conditions[1].clinicalStatusCodings.empty());
    REQUIRE(r.conditions[1].onset);
    CHECK(formatIsoDate(r.conditions[1].onset->date) == "2012-11-01");

    REQUIRE(r.procedures.size() == 2);
    CHECK(r.procedures[0].status == "completed");
    CHECK(r.procedures[0].codes.at(0).code == "11466000");
    CHECK(r.procedures[0].subject == "urn:uuid:p1");
    REQUIRE(r.procedures[0].performed);
    CHECK(r.procedures[0].performed->text == "2025-11-01T22:15:00+10:00");
    REQUIRE(r.procedures[1].performed);
    CHECK(r.procedures[1].performed->text == "2025-10-01T01:00:00Z");

    REQUIRE(r.medications.size() == 3);
    CHECK(r.medications[0].source.resourceType == "MedicationRequest");
    CHECK(r.medications[0].status == "active");
    CHECK(r.medications[0].codes.at(0).code == "855332");
    CHECK(r.medications[0].medicationReference.empty());
    REQUIRE(r.medications[0].authoredOn);
    CHECK(r.medications[0].authoredOn->text == "2025-10-30");
    CHECK(r.medications[1].source.resourceType == "MedicationStatement");
    REQUIRE(r.medications[1].effective);
    CHECK(r.medications[1].effective->text == "2025-10-02");  // effectivePeriod.start; the mapping prefers it
    REQUIRE(r.medications[2].dateAsserted);
    CHECK(r.medications[2].dateAsserted->text == "2025-10-06");
    CHECK(r.medications[2].codes.empty());
    CHECK(r.medications[2].status == "completed");

    REQUIRE(r.allergies.size() == 1);
    CHECK(r.allergies[0].subject == "urn:uuid:p1");
    CHECK(r.allergies[0].clinicalStatusCodings.at(0).code == "active");
    CHECK(r.allergies[0].verificationStatusCodings.at(0).code == "unconfirmed");
    CHECK(r.allergies[0].codes.at(0).code == "227493005");
    REQUIRE(r.allergies[0].recorded);
    CHECK(r.allergies[0].recorded->text == "2014-10-09T14:58:00+11:00");

    REQUIRE(r.encounters.size() == 1);
    REQUIRE(r.encounters[0].types.size() == 2);
    CHECK(r.encounters[0].types[0].code == "183460006");
    CHECK(r.encounters[0].types[1].display == "Postnatal visit");
    REQUIRE(r.encounters[0].start);
    CHECK(r.encounters[0].start->text == "2025-11-01T20:00:00+10:00");
    CHECK(r.encounters[0].subject == "urn:uuid:p1");
}

TEST_CASE("XML: entry indexes count entries without a resource", "[fhir_xml]") {
    const std::string xml = bundle("<entry><fullUrl value=\"urn:uuid:x\"/></entry>" + entry("urn:uuid:p1", kPatient) +
                                       entry("urn:uuid:pr", "<Procedure><status value=\"completed\"/></Procedure>"),
                                   "transaction");
    RawRecord r = readXml(xml);
    CHECK(r.bundleType == "transaction");
    CHECK(r.resourceCount == 2);
    REQUIRE(r.patients.size() == 1);
    CHECK(r.patients[0].source.path == "Bundle.entry[1].resource");
    CHECK(r.patients[0].source.id == "p1");
    REQUIRE(r.procedures.size() == 1);
    CHECK(r.procedures[0].source.path == "Bundle.entry[2].resource");
    CHECK(r.procedures[0].source.id == "urn:uuid:pr");
}

TEST_CASE("XML: blood pressure panel components", "[fhir_xml]") {
    const std::string xml =
        bundle(entry("urn:uuid:p1", kPatient) + entry("urn:uuid:bp",
                                                      R"(<Observation><id value="bp"/><status value="final"/>
                 <code><coding><system value="http://loinc.org"/><code value="85354-9"/></coding></code>
                 <subject><reference value="urn:uuid:p1"/></subject>
                 <effectiveDateTime value="2025-11-10T09:00:00Z"/>
                 <component>
                   <code><coding><system value="http://loinc.org"/><code value="8480-6"/><display value="Systolic"/></coding></code>
                   <valueQuantity><value value="152"/><unit value="mmHg"/><system value="http://unitsofmeasure.org"/><code value="mm[Hg]"/></valueQuantity>
                   <interpretation><coding><code value="H"/></coding></interpretation>
                 </component>
                 <component>
                   <code><coding><system value="http://loinc.org"/><code value="8462-4"/></coding></code>
                   <valueQuantity><value value="96.5"/><unit value="mmHg"/></valueQuantity>
                 </component>
                 <component>
                   <code><coding><system value="http://loinc.org"/><code value="8867-4"/></coding></code>
                   <dataAbsentReason><coding><code value="not-performed"/></coding></dataAbsentReason>
                 </component>
               </Observation>)"));
    RawRecord r = readXml(xml);
    REQUIRE(r.observations.size() == 1);
    const Observation& o = r.observations[0];
    CHECK(!o.quantity.present);
    REQUIRE(o.components.size() == 3);
    CHECK(o.components[0].codes.at(0).code == "8480-6");
    CHECK(o.components[0].quantity.present);
    CHECK(o.components[0].quantity.value == Approx(152));
    CHECK(o.components[0].quantity.unit == "mm[Hg]");
    CHECK(o.components[1].codes.at(0).code == "8462-4");
    CHECK(o.components[1].quantity.value == Approx(96.5));
    CHECK(o.components[1].quantity.unit == "mmHg");  // no code: the unit text
    CHECK(!o.components[2].quantity.present);
}

TEST_CASE("XML: medicationReference resolution", "[fhir_xml]") {
    const std::string med =
        R"(<Medication><id value="m1"/><code><coding><system value="http://www.nlm.nih.gov/research/umls/rxnorm"/><code value="11289"/><display value="Warfarin"/></coding></code></Medication>)";
    const std::string medNoId =
        R"(<Medication><code><coding><system value="http://www.nlm.nih.gov/research/umls/rxnorm"/><code value="5640"/></coding></code></Medication>)";
    auto request = [](const std::string& id, const std::string& ref, const std::string& contained = "") {
        return "<MedicationRequest><id value=\"" + id + "\"/>" + contained +
               "<status value=\"active\"/><intent value=\"order\"/><medicationReference><reference value=\"" + ref +
               "\"/></medicationReference><subject><reference value=\"urn:uuid:p1\"/></subject>"
               "<authoredOn value=\"2025-11-01\"/></MedicationRequest>";
    };
    const std::string contained =
        R"(<contained><Medication><id value="med0350"/><code><coding><system value="http://www.nlm.nih.gov/research/umls/rxnorm"/><code value="114194"/></coding></code></Medication></contained>)";
    const std::string xml = bundle(
        entry("urn:uuid:p1", kPatient) + entry("http://example.org/fhir/Medication/m1", med) +
        entry("urn:uuid:med-2", medNoId) + entry("urn:uuid:r1", request("r1", "Medication/m1")) +
        entry("urn:uuid:r2", request("r2", "urn:uuid:med-2")) +
        entry("urn:uuid:r3", request("r3", "#med0350", contained)) +
        entry("urn:uuid:r4", request("r4", "http://example.org/fhir/Medication/m1")) +
        entry("urn:uuid:r5", request("r5", "Medication/unknown")) + entry("urn:uuid:r6", request("r6", "#med0350")) +
        entry(
            "urn:uuid:s1",
            R"(<MedicationStatement><id value="s1"/><status value="active"/><medicationReference><reference value="Medication/m1"/></medicationReference><effectiveDateTime value="2025-11-02"/></MedicationStatement>)"));
    RawRecord raw = readXml(xml);
    CHECK(raw.resourceCount == 10);
    REQUIRE(raw.medicationDefinitions.size() == 3);  // the contained Medication is kept with its container
    CHECK(raw.medicationDefinitions[0].id == "m1");
    CHECK(raw.medicationDefinitions[0].fullUrl == "http://example.org/fhir/Medication/m1");
    CHECK(raw.medicationDefinitions[1].id.empty());
    CHECK(raw.medicationDefinitions[1].fullUrl == "urn:uuid:med-2");
    // The mapping resolves the references.
    PatientRecord r = mapRecord(std::move(raw), "", ppmg::test::content(), "meds.xml");
    REQUIRE(r.medications.size() == 7);
    auto codeOf = [&](size_t i) {
        return r.medications[i].codes.empty() ? std::string() : std::string(r.medications[i].codes[0].code);
    };
    CHECK(codeOf(0) == "11289");  // "Medication/id"
    CHECK(r.medications[0].medicationReference == "Medication/m1");
    CHECK(codeOf(1) == "5640");    // by fullUrl
    CHECK(codeOf(2) == "114194");  // contained "#id"
    CHECK(codeOf(3) == "11289");   // absolute URL = fullUrl
    CHECK(codeOf(4).empty());      // unresolvable: no codes, the reference kept, an unknown medication
    CHECK(r.medications[4].medicationReference == "Medication/unknown");
    CHECK(r.medications[4].unresolved);
    CHECK(codeOf(5).empty());  // "#id" contained in another resource does not count
    CHECK(r.medications[5].unresolved);
    CHECK_FALSE(r.medications[0].unresolved);
    CHECK(codeOf(6) == "11289");  // MedicationStatement
    REQUIRE(r.medications[6].when);
    CHECK(r.medications[6].when->text == "2025-11-02");
}

TEST_CASE("XML: the contained Medication of the FHIR example", "[fhir_xml]") {
    // As in the spec's medicationrequest0331 example, but with a Patient to make a record.
    const std::string xml = bundle(entry("urn:uuid:p1", kPatient) + entry("urn:uuid:rx",
                                                                          R"(<MedicationRequest><id value="medrx0331"/>
                 <contained><Medication><id value="med0350"/><code><coding><system value="http://www.nlm.nih.gov/research/umls/rxnorm"/><code value="114194"/><display value="Warfarin Sodium"/></coding></code></Medication></contained>
                 <status value="active"/><intent value="order"/>
                 <medicationReference><reference value="#med0350"/></medicationReference>
                 <subject><!-- a comment --><reference value="Patient/pat1"/><display value="Donald Duck"/></subject>
                 <authoredOn value="2015-01-15"/></MedicationRequest>)"));
    RawRecord raw = readXml(xml);
    REQUIRE(raw.medications.size() == 1);
    CHECK(raw.medications[0].subject == "Patient/pat1");
    PatientRecord r = mapRecord(std::move(raw), "", ppmg::test::content(), "rx.xml");
    REQUIRE(r.medications[0].codes.size() == 1);
    CHECK(r.medications[0].codes[0].display == "Warfarin Sodium");
}

TEST_CASE("XML: not well-formed input is PPMG_E_PARSE", "[fhir_xml]") {
    SECTION("truncated") {
        Error e = refusal("<Bundle xmlns=\"http://hl7.org/fhir\">\n  <type value=\"collection\"/>\n  <entry>");
        CHECK(e.status() == PPMG_E_PARSE);
        CHECK(e.where().file == "test.xml");
        CHECK(e.where().line > 0);
    }
    SECTION("mismatched tags") {
        Error e = refusal("<Patient xmlns=\"http://hl7.org/fhir\">\n<id value=\"x\"></Patient>");
        CHECK(e.status() == PPMG_E_PARSE);
        CHECK(e.where().line == 2);
    }
    SECTION("unquoted attribute") {
        CHECK(refusal("<Patient xmlns=\"http://hl7.org/fhir\"><id value=x/></Patient>").status() == PPMG_E_PARSE);
    }
    SECTION("empty") { CHECK(refusal("").status() == PPMG_E_PARSE); }
    SECTION("blank") { CHECK(refusal("  \n ").status() == PPMG_E_PARSE); }
    SECTION("not XML") { CHECK(refusal("hello").status() == PPMG_E_PARSE); }
    SECTION("undeclared entity") {
        CHECK(refusal("<Patient xmlns=\"http://hl7.org/fhir\"><id value=\"&ent;\"/></Patient>").status() ==
              PPMG_E_PARSE);
    }
    SECTION("two roots") {
        CHECK(refusal("<Patient xmlns=\"http://hl7.org/fhir\"/><Patient xmlns=\"http://hl7.org/fhir\"/>").status() ==
              PPMG_E_PARSE);
    }
}

TEST_CASE("XML: predefined and character entities are fine", "[fhir_xml]") {
    RawRecord r = readXml(
        "<Patient xmlns=\"http://hl7.org/fhir\"><name><family value=\"O&apos;Brien &amp; Co "
        "&#233;\"/></name></Patient>");
    REQUIRE(r.patients.size() == 1);
    CHECK(r.patients[0].family == "O'Brien & Co \xC3\xA9");
}

TEST_CASE("XML: DTDs and entities are refused without expansion", "[fhir_xml]") {
    SECTION("external entity (XXE)") {
        const std::string xml = R"(<?xml version="1.0"?>
<!DOCTYPE Patient [<!ENTITY e SYSTEM "file:///etc/passwd">]>
<Patient xmlns="http://hl7.org/fhir"><id value="x"/><name><family value="&e;"/></name></Patient>)";
        Error e = refusal(xml);
        CHECK(e.status() == PPMG_E_NOT_FHIR);
        CHECK(std::string(e.what()).find("DTDs and entities are not allowed") != std::string::npos);
        CHECK(std::string(e.what()).find("root:") == std::string::npos);
    }
    SECTION("billion laughs") {
        std::string xml = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n";
        xml += "<!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n";
        for (int i = 2; i <= 9; ++i) {
            std::string prev = "&lol" + std::to_string(i - 1) + ";";
            xml += "<!ENTITY lol" + std::to_string(i) + " \"";
            for (int k = 0; k < 10; ++k) xml += prev;
            xml += "\">\n";
        }
        xml += "]>\n<Patient xmlns=\"http://hl7.org/fhir\"><name><family value=\"&lol9;\"/></name>&lol9;</Patient>";
        auto start = std::chrono::steady_clock::now();
        Error e = refusal(xml);
        auto elapsed = std::chrono::steady_clock::now() - start;
        CHECK(e.status() == PPMG_E_NOT_FHIR);
        CHECK(std::string(e.what()).find("DTDs and entities are not allowed") != std::string::npos);
        CHECK(elapsed < std::chrono::milliseconds(500));
    }
    SECTION("external DTD only") {
        const std::string xml =
            "<!DOCTYPE Patient SYSTEM \"http://example.org/evil.dtd\">\n<Patient xmlns=\"http://hl7.org/fhir\"/>";
        CHECK(refusal(xml).status() == PPMG_E_NOT_FHIR);
    }
    SECTION("empty internal subset") {
        CHECK(refusal("<!DOCTYPE Patient []><Patient xmlns=\"http://hl7.org/fhir\"/>").status() == PPMG_E_NOT_FHIR);
    }
}

TEST_CASE("XML: what is not FHIR", "[fhir_xml]") {
    SECTION("another namespace") {
        // As FHIR XML, a C-CDA document is not FHIR; recognised by its content, it is read as C-CDA
        // (and this one, without a recordTarget, names no patient).
        const std::string cda = R"(<ClinicalDocument xmlns="urn:hl7-org:v3"><id root="1.2.3"/></ClinicalDocument>)";
        Error e = refusal(cda);
        CHECK(e.status() == PPMG_E_NOT_FHIR);
        CHECK(std::string(e.what()).find("urn:hl7-org:v3") != std::string::npos);
        try {
            readRecord(cda, PPMG_INPUT_AUTO, ReadLimits{}, "test.xml");
            FAIL("accepted");
        } catch (const Error& auto_) {
            CHECK(auto_.status() == PPMG_E_NO_PATIENT);
        }
    }
    SECTION("no namespace") { CHECK(refusal(R"(<Patient><id value="x"/></Patient>)").status() == PPMG_E_NOT_FHIR); }
    SECTION("a lowercase root") {
        CHECK(refusal(R"(<entry xmlns="http://hl7.org/fhir"/>)").status() == PPMG_E_NOT_FHIR);
    }
    SECTION("an entry resource outside the namespace") {
        Error e = refusal(bundle(entry("urn:uuid:p1", kPatient) +
                                 "<entry><resource><Observation xmlns=\"urn:other\"/></resource></entry>"));
        CHECK(e.status() == PPMG_E_NOT_FHIR);
        CHECK(e.where().fhirPath == "Bundle.entry[1].resource");
    }
    SECTION("a quantity that is not a decimal") {
        Error e = refusal(bundle(entry("urn:uuid:p1", kPatient) +
                                 entry("urn:uuid:o1",
                                       "<Observation><id value=\"o1\"/><status value=\"final\"/>\n"
                                       "<valueQuantity><value value=\"high\"/></valueQuantity></Observation>")));
        CHECK(e.status() == PPMG_E_NOT_FHIR);
        CHECK(e.where().fhirPath == "Bundle.entry[1].resource.valueQuantity.value");
        CHECK(e.where().resourceId == "o1");
        CHECK(e.where().line == 2);
    }
    SECTION("a date that is not a date") {
        Error e =
            refusal(bundle(entry("urn:uuid:p1", kPatient) +
                           entry("urn:uuid:pr", "<Procedure><performedDateTime value=\"yesterday\"/></Procedure>")));
        CHECK(e.status() == PPMG_E_NOT_FHIR);
        CHECK(e.where().fhirPath == "Bundle.entry[1].resource.performedDateTime");
        CHECK(e.where().resourceId == "urn:uuid:pr");
    }
}

TEST_CASE("XML: records without a Patient", "[fhir_xml]") {
    SECTION("a single Observation") {
        Error e =
            refusal(R"(<Observation xmlns="http://hl7.org/fhir"><id value="o"/><status value="final"/></Observation>)");
        CHECK(e.status() == PPMG_E_NO_PATIENT);
        CHECK(std::string(e.what()).find("single Observation") != std::string::npos);
        CHECK(e.where().file == "test.xml");
    }
    SECTION("a Bundle of other resources") {
        Error e = refusal(bundle(entry("urn:uuid:o", "<Observation><status value=\"final\"/></Observation>")));
        CHECK(e.status() == PPMG_E_NO_PATIENT);
    }
    SECTION("an empty Bundle") { CHECK(refusal(bundle("")).status() == PPMG_E_NO_PATIENT); }
}

TEST_CASE("XML: limits", "[fhir_xml]") {
    SECTION("depth") {
        std::string deep = "<Patient xmlns=\"http://hl7.org/fhir\"><extension url=\"x\">";
        for (int i = 0; i < 80; ++i) deep += "<extension url=\"y\">";
        for (int i = 0; i < 80; ++i) deep += "</extension>";
        deep += "</extension></Patient>";
        Error e = refusal(deep);
        CHECK(e.status() == PPMG_E_LIMIT);
        ReadLimits roomy;
        roomy.maxDepth = 100;
        CHECK(readXml(deep, roomy).patients.size() == 1);
    }
    SECTION("depth past libxml2's own cap is a limit too") {
        std::string deep = "<Patient xmlns=\"http://hl7.org/fhir\">";
        for (int i = 0; i < 300; ++i) deep += "<extension>";
        for (int i = 0; i < 300; ++i) deep += "</extension>";
        deep += "</Patient>";
        ReadLimits huge;
        huge.maxDepth = 1000;
        CHECK(refusal(deep, huge).status() == PPMG_E_LIMIT);
        CHECK(refusal(deep).status() == PPMG_E_LIMIT);
    }
    SECTION("string length") {
        ReadLimits small;
        small.maxStringBytes = 16;
        const std::string xml = "<Patient xmlns=\"http://hl7.org/fhir\"><name><family value=\"" + std::string(17, 'a') +
                                "\"/></name></Patient>";
        CHECK(refusal(xml, small).status() == PPMG_E_LIMIT);
        const std::string narrative =
            "<Patient xmlns=\"http://hl7.org/fhir\"><text><div xmlns=\"http://www.w3.org/1999/xhtml\">" +
            std::string(17, 'b') + "</div></text></Patient>";
        CHECK(refusal(narrative, small).status() == PPMG_E_LIMIT);
        small.maxStringBytes = 17;
        CHECK(readXml(xml, small).patients.at(0).family == std::string(17, 'a'));
    }
    SECTION("resources") {
        ReadLimits few;
        few.maxResources = 2;
        std::string entries = entry("urn:uuid:p1", kPatient);
        CHECK(readXml(bundle(entries + entry("urn:uuid:o", "<Observation/>")), few).resourceCount == 2);
        Error e = refusal(
            bundle(entries + entry("urn:uuid:o", "<Observation/>") + entry("urn:uuid:o2", "<Observation/>")), few);
        CHECK(e.status() == PPMG_E_LIMIT);
    }
    SECTION("input size") {
        ReadLimits tiny;
        tiny.maxInputBytes = 10;
        CHECK(refusal("<Patient xmlns=\"http://hl7.org/fhir\"/>", tiny).status() == PPMG_E_LIMIT);
    }
}

TEST_CASE("XML: parsing on many threads at once", "[fhir_xml]") {
    const std::string good = bundle(entry("urn:uuid:p1", kPatient) +
                                    entry("urn:uuid:o", "<Observation><status value=\"final\"/></Observation>"));
    const std::string bad = "<Patient xmlns=\"http://hl7.org/fhir\"><id value=\"x\"></Patient>";
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 100; ++i) {
                try {
                    if ((i + t) % 3 == 0) {
                        try {
                            readFhirXml(bad, ReadLimits{}, "bad.xml");
                            ++failures;
                        } catch (const Error& e) {
                            if (e.status() != PPMG_E_PARSE || e.where().file != "bad.xml") ++failures;
                        }
                    } else {
                        RawRecord r = readFhirXml(good, ReadLimits{}, "good.xml");
                        if (r.patients.size() != 1 || r.observations.size() != 1) ++failures;
                    }
                } catch (...) {
                    ++failures;
                }
            }
        });
    }
    for (auto& th : threads) th.join();
    CHECK(failures == 0);
}

// ---------------------------------------------------------------------------------------------
// Real files in ../shared

namespace {

bool sharedDir(std::string& dir) {
#ifdef PPMG_SHARED_DIR
    dir = PPMG_SHARED_DIR;
    std::ifstream probe(dir + "/data/README.md");
    if (probe) return true;
#endif
    return false;
}

void checkSameCodes(const Codings& a, const Codings& b) {
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        CHECK(a[i].system == b[i].system);
        CHECK(a[i].code == b[i].code);
        CHECK(a[i].display == b[i].display);
    }
}

void checkSameDate(const std::optional<DateTime>& a, const std::optional<DateTime>& b) {
    REQUIRE(a.has_value() == b.has_value());
    if (a) {
        CHECK(a->text == b->text);
        CHECK(a->instant == b->instant);
        CHECK(a->date == b->date);
    }
}

void checkSameSource(const Source& a, const Source& b) {
    CHECK(a.resourceType == b.resourceType);
    CHECK(a.id == b.id);
    CHECK(a.pathText() == b.pathText());
}

void checkSameQuantity(const Quantity& a, const Quantity& b) {
    CHECK(a.present == b.present);
    CHECK(a.value == Approx(b.value));
    CHECK(a.unit == b.unit);
}

// The JSON and XML twins must give the same RawRecord.
void checkSameRecord(const RawRecord& j, const RawRecord& x) {
    CHECK(j.bundleType == x.bundleType);
    CHECK(j.resourceCount == x.resourceCount);
    REQUIRE(j.patients.size() == x.patients.size());
    for (size_t i = 0; i < j.patients.size(); ++i) {
        const Patient &a = j.patients[i], &b = x.patients[i];
        checkSameSource(a.source, b.source);
        CHECK(a.fullUrl == b.fullUrl);
        CHECK(a.family == b.family);
        CHECK(a.given == b.given);
        CHECK(a.nameText == b.nameText);
        CHECK(a.gender == b.gender);
        CHECK(a.birthDate == b.birthDate);
        REQUIRE(a.identifiers.size() == b.identifiers.size());
        for (size_t k = 0; k < a.identifiers.size(); ++k) {
            CHECK(a.identifiers[k].system == b.identifiers[k].system);
            CHECK(a.identifiers[k].value == b.identifiers[k].value);
        }
    }
    REQUIRE(j.observations.size() == x.observations.size());
    for (size_t i = 0; i < j.observations.size(); ++i) {
        const Observation &a = j.observations[i], &b = x.observations[i];
        INFO("observation " << a.source.path);
        checkSameSource(a.source, b.source);
        CHECK(a.subject == b.subject);
        CHECK(a.status == b.status);
        checkSameCodes(a.codes, b.codes);
        checkSameDate(a.effective, b.effective);
        checkSameDate(a.issued, b.issued);
        checkSameQuantity(a.quantity, b.quantity);
        checkSameCodes(a.valueCodes, b.valueCodes);
        checkSameDate(a.valueDateTime, b.valueDateTime);
        CHECK(a.valueText == b.valueText);
        REQUIRE(a.components.size() == b.components.size());
        for (size_t k = 0; k < a.components.size(); ++k) {
            checkSameCodes(a.components[k].codes, b.components[k].codes);
            checkSameQuantity(a.components[k].quantity, b.components[k].quantity);
        }
    }
    REQUIRE(j.conditions.size() == x.conditions.size());
    for (size_t i = 0; i < j.conditions.size(); ++i) {
        const Condition &a = j.conditions[i], &b = x.conditions[i];
        checkSameSource(a.source, b.source);
        CHECK(a.subject == b.subject);
        checkSameCodes(a.clinicalStatusCodings, b.clinicalStatusCodings);
        checkSameCodes(a.verificationStatusCodings, b.verificationStatusCodings);
        checkSameCodes(a.codes, b.codes);
        CHECK(a.codeText == b.codeText);
        checkSameDate(a.onset, b.onset);
        checkSameDate(a.recorded, b.recorded);
        checkSameDate(a.abatement, b.abatement);
    }
    REQUIRE(j.procedures.size() == x.procedures.size());
    for (size_t i = 0; i < j.procedures.size(); ++i) {
        const Procedure &a = j.procedures[i], &b = x.procedures[i];
        checkSameSource(a.source, b.source);
        CHECK(a.subject == b.subject);
        CHECK(a.status == b.status);
        checkSameCodes(a.codes, b.codes);
        checkSameDate(a.performed, b.performed);
    }
    REQUIRE(j.medications.size() == x.medications.size());
    for (size_t i = 0; i < j.medications.size(); ++i) {
        const Medication &a = j.medications[i], &b = x.medications[i];
        checkSameSource(a.source, b.source);
        CHECK(a.subject == b.subject);
        CHECK(a.status == b.status);
        checkSameCodes(a.codes, b.codes);
        CHECK(a.medicationReference == b.medicationReference);
        checkSameDate(a.authoredOn, b.authoredOn);
        checkSameDate(a.effective, b.effective);
        checkSameDate(a.dateAsserted, b.dateAsserted);
    }
    REQUIRE(j.allergies.size() == x.allergies.size());
    for (size_t i = 0; i < j.allergies.size(); ++i) {
        const Allergy &a = j.allergies[i], &b = x.allergies[i];
        checkSameSource(a.source, b.source);
        CHECK(a.subject == b.subject);
        checkSameCodes(a.clinicalStatusCodings, b.clinicalStatusCodings);
        checkSameCodes(a.verificationStatusCodings, b.verificationStatusCodings);
        checkSameCodes(a.codes, b.codes);
        checkSameDate(a.onset, b.onset);
        checkSameDate(a.recorded, b.recorded);
    }
    REQUIRE(j.encounters.size() == x.encounters.size());
    for (size_t i = 0; i < j.encounters.size(); ++i) {
        const Encounter &a = j.encounters[i], &b = x.encounters[i];
        checkSameSource(a.source, b.source);
        CHECK(a.subject == b.subject);
        checkSameCodes(a.types, b.types);
        checkSameDate(a.start, b.start);
    }
    REQUIRE(j.medicationDefinitions.size() == x.medicationDefinitions.size());
    for (size_t i = 0; i < j.medicationDefinitions.size(); ++i) {
        CHECK(j.medicationDefinitions[i].id == x.medicationDefinitions[i].id);
        CHECK(j.medicationDefinitions[i].fullUrl == x.medicationDefinitions[i].fullUrl);
        CHECK(j.medicationDefinitions[i].containedIn == x.medicationDefinitions[i].containedIn);
        checkSameCodes(j.medicationDefinitions[i].codes, x.medicationDefinitions[i].codes);
    }
}

}  // namespace

TEST_CASE("XML: real records in ../shared", "[fhir_xml][shared]") {
    std::string dir;
    if (!sharedDir(dir)) {
        WARN("SKIPPED: ../shared absent: skipped");
        return;
    }
    std::string data;

    SECTION("the vaginal day-6 vignette") {
        REQUIRE(readFile(dir + "/examples/vaginal-day-6.xml", data));
        RawRecord r = readFhirXml(data, ReadLimits{}, "vaginal-day-6.xml");
        CHECK(r.bundleType == "collection");
        CHECK(r.resourceCount == 8);
        REQUIRE(r.patients.size() == 1);
        CHECK(r.patients[0].gender == "female");
        REQUIRE(r.patients[0].birthDate);
        CHECK(formatIsoDate(*r.patients[0].birthDate) == "1994-05-10");
        CHECK(r.observations.size() == 4);
        REQUIRE(r.procedures.size() == 1);
        CHECK(r.procedures[0].codes.at(0).code == "177184002");
        REQUIRE(r.procedures[0].performed);
        CHECK(r.procedures[0].performed->text == "2025-11-09T08:00:00Z");
        CHECK(r.procedures[0].subject == r.patients[0].fullUrl);
        CHECK(r.conditions.size() == 1);
        CHECK(r.medications.size() == 1);
    }
    SECTION("the BFDR birth record: mother and child") {
        REQUIRE(readFile(dir + "/data/maternal-bfdr/BasicBirthRecord.xml", data));
        RawRecord r = readFhirXml(data, ReadLimits{}, "BasicBirthRecord.xml");
        CHECK(r.bundleType == "document");
        CHECK(r.resourceCount == 64);
        REQUIRE(r.patients.size() == 2);
        CHECK(r.patients[0].source.id == "patient-child-babyg-quinn");
        CHECK(r.patients[1].source.id == "patient-mother-jada-ann-quinn");
        CHECK(r.observations.size() == 36);
        CHECK(r.conditions.size() == 7);
        CHECK(r.procedures.size() == 7);
        CHECK(r.encounters.size() == 2);
    }
    SECTION("the Synthea Bennett146 bundle") {
        REQUIRE(readFile(
            dir + "/data/synthea-pathling/Bennett146_Swaniawski813_704c9750-f6e6-473b-ee83-fbd48e07fe3f.xml", data));
        RawRecord r = readFhirXml(data, ReadLimits{}, "Bennett146.xml");
        CHECK(r.bundleType == "transaction");
        CHECK(r.resourceCount == 176);
        REQUIRE(r.patients.size() == 1);
        CHECK(r.patients[0].source.id == "704c9750-f6e6-473b-ee83-fbd48e07fe3f");
        CHECK(r.patients[0].gender == "male");
        REQUIRE(r.patients[0].birthDate);
        CHECK(formatIsoDate(*r.patients[0].birthDate) == "1983-10-04");
        CHECK(r.observations.size() == 61);
        CHECK(r.conditions.size() == 22);
        CHECK(r.procedures.size() == 19);
        CHECK(r.encounters.size() == 17);
        CHECK(r.medications.size() == 2);
    }
}

TEST_CASE("XML and JSON twins give the same record", "[fhir_xml][shared]") {
    std::string dir;
    if (!sharedDir(dir)) {
        WARN("SKIPPED: ../shared absent: skipped");
        return;
    }
    struct Twin {
        const char* json;
        const char* xml;
    };
    const Twin twins[] = {
        {"/data/synthea-pathling/Bennett146_Swaniawski813_704c9750-f6e6-473b-ee83-fbd48e07fe3f.json",
         "/data/synthea-pathling/Bennett146_Swaniawski813_704c9750-f6e6-473b-ee83-fbd48e07fe3f.xml"},
        {"/data/fhir-r4-examples/json/patient-example.json", "/data/fhir-r4-examples/xml/patient-example.xml"},
        {"/data/fhir-r4-examples/json/patient-example-mom.json",
         "/data/fhir-r4-examples/xml/patient-example-mom(mom).xml"},
        {"/data/fhir-r4-examples/json/patient-example-newborn.json",
         "/data/fhir-r4-examples/xml/patient-example-newborn(newborn).xml"},
        {"/data/fhir-r4-examples/json/patient-example-animal.json",
         "/data/fhir-r4-examples/xml/patient-example-animal(animal).xml"},
    };
    for (const Twin& t : twins) {
        INFO(t.xml);
        std::string json, xml;
        REQUIRE(readFile(dir + t.json, json));
        REQUIRE(readFile(dir + t.xml, xml));
        RawRecord fromJson = readFhirJson(json, ReadLimits{}, "twin.json");
        RawRecord fromXml = readFhirXml(xml, ReadLimits{}, "twin.xml");
        checkSameRecord(fromJson, fromXml);
        if (!fromJson.observations.empty()) {
            checkSameCodes(fromJson.observations[0].codes, fromXml.observations[0].codes);
            checkSameQuantity(fromJson.observations[0].quantity, fromXml.observations[0].quantity);
        }
    }
    // Single non-Patient resources: both readers refuse them the same way.
    const Twin singles[] = {
        {"/data/fhir-r4-examples/json/observation-example-bloodpressure.json",
         "/data/fhir-r4-examples/xml/observation-example-bloodpressure(blood-pressure).xml"},
        {"/data/fhir-r4-examples/json/medicationrequest0331.json",
         "/data/fhir-r4-examples/xml/medicationrequest0331(medrx0331).xml"},
    };
    for (const Twin& t : singles) {
        INFO(t.xml);
        std::string json, xml;
        REQUIRE(readFile(dir + t.json, json));
        REQUIRE(readFile(dir + t.xml, xml));
        ppmg_status js = PPMG_OK, xs = PPMG_OK;
        try {
            readFhirJson(json, ReadLimits{}, "twin.json");
        } catch (const Error& e) {
            js = e.status();
        }
        try {
            readFhirXml(xml, ReadLimits{}, "twin.xml");
        } catch (const Error& e) {
            xs = e.status();
        }
        CHECK(js == PPMG_E_NO_PATIENT);
        CHECK(xs == PPMG_E_NO_PATIENT);
    }
}
