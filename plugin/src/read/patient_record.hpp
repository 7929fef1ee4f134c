// The normalised patient record: what the readers produce and the rule engine reads.
// Every fact keeps its source (resource type, id, FHIR path) so findings can cite it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "read/clinical_date.hpp"

namespace ppmg {

struct Coding {
    std::string system;
    std::string code;
    std::string display;
};

struct Source {
    std::string resourceType;  // "Observation"
    std::string id;            // resource id, or fullUrl when the resource has none
    std::string path;          // "Bundle.entry[3].resource", or "" when entry says where
    size_t entry = kNoEntry;   // a Bundle entry's index, its path spelled out only when shown

    static constexpr size_t kNoEntry = static_cast<size_t>(-1);
    // The FHIR path of the resource: path, or "Bundle.entry[<entry>].resource".
    std::string pathText() const {
        if (entry == kNoEntry) return path;
        return "Bundle.entry[" + std::to_string(entry) + "].resource";
    }
};

struct Quantity {
    double value = 0;
    std::string unit;  // UCUM code (valueQuantity.code), else the unit text
    bool present = false;
};

struct Observation {
    Source source;
    std::string subject;  // reference as written, "" when absent
    std::string status;
    std::vector<Coding> codes;
    std::optional<DateTime> effective;
    Quantity quantity;
    std::vector<Coding> valueCodes;      // valueCodeableConcept
    std::optional<DateTime> valueDateTime;
    std::string valueText;               // valueString, for display
    struct Component {
        std::vector<Coding> codes;
        Quantity quantity;
    };
    std::vector<Component> components;
};

struct Condition {
    Source source;
    std::string subject;
    std::string clinicalStatus;       // "" when absent
    std::string verificationStatus;   // "" when absent
    std::vector<Coding> codes;
    std::optional<DateTime> onset;
    std::optional<DateTime> recorded;
};

struct Procedure {
    Source source;
    std::string subject;
    std::string status;
    std::vector<Coding> codes;
    std::optional<DateTime> performed;
};

struct Medication {  // a MedicationRequest or MedicationStatement
    Source source;
    std::string subject;
    std::string status;
    std::vector<Coding> codes;         // medicationCodeableConcept, or the referenced Medication's code
    std::string medicationReference;   // resolved after reading
    std::optional<DateTime> date;      // authoredOn / effective[x]
};

struct Allergy {
    Source source;
    std::string subject;
    std::string clinicalStatus;
    std::string verificationStatus;
    std::vector<Coding> codes;
    std::optional<DateTime> recorded;
};

struct Encounter {
    Source source;
    std::string subject;
    std::vector<Coding> types;  // Encounter.type[*]
    std::optional<DateTime> start;
};

struct MedicationDefinition {  // a Medication resource, to resolve medicationReference
    std::string id;
    std::string fullUrl;
    std::vector<Coding> codes;
};

struct Identifier {
    std::string system;
    std::string value;
};

struct Patient {
    Source source;
    std::string fullUrl;
    std::vector<Identifier> identifiers;
    std::string family;
    std::vector<std::string> given;
    std::string nameText;
    std::string gender;  // FHIR administrative gender, "" when absent
    std::optional<Date> birthDate;
};

// Everything read from one input, for all patients in it.
struct RawRecord {
    std::vector<Patient> patients;
    std::vector<Observation> observations;
    std::vector<Condition> conditions;
    std::vector<Procedure> procedures;
    std::vector<Medication> medications;
    std::vector<Allergy> allergies;
    std::vector<Encounter> encounters;
    std::vector<MedicationDefinition> medicationDefinitions;
    std::string bundleType;  // "" for a bare Patient
    size_t resourceCount = 0;
};

// The facts about one patient, after selection.
struct PatientRecord {
    Patient patient;
    std::vector<Observation> observations;
    std::vector<Condition> conditions;
    std::vector<Procedure> procedures;
    std::vector<Medication> medications;
    std::vector<Allergy> allergies;
    std::vector<Encounter> encounters;
};

}  // namespace ppmg
