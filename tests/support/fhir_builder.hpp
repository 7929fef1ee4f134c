// Builds small FHIR R4 JSON bundles for vignette tests: one patient and the facts a rule reads.
#pragma once

#include <string>
#include <vector>

namespace ppmg::core {}
namespace ppmg::test {
using namespace ppmg::core;  // the tests read the plugin's internals

inline const char* kPpmSystem = "urn:oid:2.25.318214975805081609918790724903688664766.1";
inline const char* kSct = "http://snomed.info/sct";
inline const char* kLoinc = "http://loinc.org";
inline const char* kIcd10cm = "http://hl7.org/fhir/sid/icd-10-cm";
inline const char* kIcd10 = "http://hl7.org/fhir/sid/icd-10";
inline const char* kRxNorm = "http://www.nlm.nih.gov/research/umls/rxnorm";
inline const char* kAtc = "http://www.whocc.no/atc";

class Bundle {
public:
    explicit Bundle(std::string gender = "female", std::string birthDate = "1992-04-01",
                    std::string patientId = "pat-1")
        : patientId_(std::move(patientId)) {
        std::string p = R"({"resourceType":"Patient","id":")" + patientId_ + R"(","gender":")" + gender + "\"";
        if (!birthDate.empty()) p += R"(,"birthDate":")" + birthDate + "\"";
        p += R"(,"name":[{"family":"Vignette","given":["Test"]}]})";
        add(p);
    }

    // A bundle with the usual background: a problem list and a medication list with nothing
    // relevant, so the missing-data rules stay quiet unless a test removes them.
    static Bundle withBackground(std::string gender = "female", std::string birthDate = "1992-04-01") {
        Bundle b(std::move(gender), std::move(birthDate));
        b.condition(kSct, "72892002", "resolved");
        b.medicationStatement(kRxNorm, "161", "active");
        return b;
    }

    Bundle& add(const std::string& resource) {
        entries_.push_back(resource);
        return *this;
    }

    Bundle& procedure(const char* system, const std::string& code, const std::string& date,
                      const std::string& status = "completed") {
        return add(R"({"resourceType":"Procedure","id":"proc-)" + next() + R"(","status":")" + status + R"(","code":)" +
                   concept(system, code) + "," + subject() + R"(,"performedDateTime":")" + date + "\"}");
    }

    Bundle& condition(const char* system, const std::string& code, const std::string& clinical = "active",
                      const std::string& verification = "confirmed") {
        std::string r = R"({"resourceType":"Condition","id":"cond-)" + next() + "\"";
        if (!clinical.empty())
            r +=
                R"(,"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":")" +
                clinical + "\"}]}";
        if (!verification.empty())
            r +=
                R"(,"verificationStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":")" +
                verification + "\"}]}";
        return add(r + R"(,"code":)" + concept(system, code) + "," + subject() + "}");
    }

    Bundle& quantity(const std::string& loinc, double value, const std::string& unit, const std::string& when,
                     const std::string& status = "final") {
        return add(R"({"resourceType":"Observation","id":"obs-)" + next() + R"(","status":")" + status +
                   R"(","code":)" + concept(kLoinc, loinc) + "," + subject() + R"(,"effectiveDateTime":")" + when +
                   R"(","valueQuantity":{"value":)" + num(value) + R"(,"unit":")" + unit +
                   R"(","system":"http://unitsofmeasure.org","code":")" + unit + "\"}}");
    }

    Bundle& bloodPressure(double systolic, double diastolic, const std::string& when) {
        auto comp = [&](const char* code, double v) {
            return R"({"code":)" + concept(kLoinc, code) + R"(,"valueQuantity":{"value":)" + num(v) +
                   R"(,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}})";
        };
        return add(R"({"resourceType":"Observation","id":"bp-)" + next() + R"(","status":"final","code":)" +
                   concept(kLoinc, "85354-9") + "," + subject() + R"(,"effectiveDateTime":")" + when +
                   R"(","component":[)" + comp("8480-6", systolic) + "," + comp("8462-4", diastolic) + "]}");
    }

    Bundle& woundStatus(const std::string& status, const std::string& when) {
        return add(R"({"resourceType":"Observation","id":"wound-)" + next() + R"(","status":"final","code":)" +
                   concept(kPpmSystem, "cs-wound-status") + "," + subject() + R"(,"effectiveDateTime":")" + when +
                   R"(","valueCodeableConcept":)" + concept(kPpmSystem, status) + "}");
    }

    Bundle& deliveryDate(const std::string& when) {
        return add(R"({"resourceType":"Observation","id":"dd-)" + next() + R"(","status":"final","code":)" +
                   concept(kLoinc, "93857-1") + "," + subject() + R"(,"effectiveDateTime":")" + when +
                   R"(","valueDateTime":")" + when + "\"}");
    }

    Bundle& medicationRequest(const char* system, const std::string& code, const std::string& status = "active") {
        return add(R"({"resourceType":"MedicationRequest","id":"mr-)" + next() + R"(","status":")" + status +
                   R"(","intent":"order","medicationCodeableConcept":)" + concept(system, code) + "," + subject() +
                   "}");
    }

    Bundle& medicationStatement(const char* system, const std::string& code, const std::string& status = "active") {
        return add(R"({"resourceType":"MedicationStatement","id":"ms-)" + next() + R"(","status":")" + status +
                   R"(","medicationCodeableConcept":)" + concept(system, code) + "," + subject() + "}");
    }

    Bundle& allergy(const char* system, const std::string& code, const std::string& clinical = "active") {
        return add(
            R"({"resourceType":"AllergyIntolerance","id":"al-)" + next() +
            R"(","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical","code":")" +
            clinical + R"("}]},"code":)" + concept(system, code) + R"(,"patient":{"reference":"Patient/)" + patientId_ +
            "\"}}");
    }

    Bundle& encounter(const std::string& snomed, const std::string& start) {
        return add(R"({"resourceType":"Encounter","id":"enc-)" + next() + R"(","status":"finished","type":[)" +
                   concept(kSct, snomed) + "]," + subject() + R"(,"period":{"start":")" + start + "\"}}");
    }

    std::string json() const {
        std::string out = R"({"resourceType":"Bundle","type":"collection","entry":[)";
        for (size_t i = 0; i < entries_.size(); ++i) {
            if (i) out += ",";
            out += R"({"resource":)" + entries_[i] + "}";
        }
        return out + "]}";
    }

private:
    std::string next() { return std::to_string(++counter_); }
    std::string subject() const { return R"("subject":{"reference":"Patient/)" + patientId_ + "\"}"; }
    static std::string concept(const char* system, const std::string& code) {
        return R"({"coding":[{"system":")" + std::string(system) + R"(","code":")" + code + "\"}]}";
    }
    static std::string num(double v) {
        std::string s = std::to_string(v);
        while (!s.empty() && s.back() == '0') s.pop_back();
        if (!s.empty() && s.back() == '.') s.pop_back();
        return s;
    }
    std::string patientId_;
    std::vector<std::string> entries_;
    int counter_ = 0;
};

}  // namespace ppmg::test
