// The normalised patient record: what the readers produce and the rule engine reads.
// Every fact keeps its source (resource type, id, FHIR path) so findings can cite it.
//
// Strings are views into the record's TextArena (RawRecord::text, PatientRecord::text), or into
// static storage (literals): a fact is valid while its record's arena is alive. Copying a fact out
// of its record means keeping the arena too (Assessment::text does).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "base/clinical_date.hpp"
#include "base/text.hpp"
#include "base/text_arena.hpp"

namespace ppmg::core {

struct Coding {
    Text system;
    Text code;
    Text display;
};

// A CodeableConcept's codings: an array in the record's arena (or any array that outlives it).
class Codings {
public:
    Codings() = default;
    Codings(const Coding* data, size_t size) : data_(data), size_(size) {}
    const Coding* begin() const { return data_; }
    const Coding* end() const { return data_ + size_; }
    size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    const Coding& front() const { return data_[0]; }
    const Coding& operator[](size_t i) const { return data_[i]; }
    const Coding& at(size_t i) const {
        if (i >= size_) throw std::out_of_range("Codings::at");
        return data_[i];
    }

private:
    const Coding* data_ = nullptr;
    size_t size_ = 0;
};

struct Source {
    Text resourceType;        // "Observation"
    Text id;                  // resource id, or fullUrl when the resource has none
    Text path;                // "Bundle.entry[3].resource", or "" when entry says where
    size_t entry = kNoEntry;  // a Bundle entry's index, its path spelled out only when shown

    static constexpr size_t kNoEntry = static_cast<size_t>(-1);
    // The FHIR path of the resource: path, or "Bundle.entry[<entry>].resource".
    std::string pathText() const {
        if (entry == kNoEntry) return std::string(path);
        return "Bundle.entry[" + std::to_string(entry) + "].resource";
    }
};

struct Quantity {
    double value = 0;
    Text unit;  // UCUM code (valueQuantity.code), else the unit text
    bool present = false;
};

struct Observation {
    Source source;
    Text subject;  // reference as written, "" when absent
    Text status;
    Codings codes;
    std::optional<DateTime> effective;
    Quantity quantity;
    Codings valueCodes;  // valueCodeableConcept
    std::optional<DateTime> valueDateTime;
    Text valueText;  // valueString, for display
    struct Component {
        Codings codes;
        Quantity quantity;
    };
    std::vector<Component> components;
};

struct Condition {
    Source source;
    Text subject;
    Text clinicalStatus;      // "" when absent
    Text verificationStatus;  // "" when absent
    Codings codes;
    std::optional<DateTime> onset;
    std::optional<DateTime> recorded;
};

struct Procedure {
    Source source;
    Text subject;
    Text status;
    Codings codes;
    std::optional<DateTime> performed;
};

struct Medication {  // a MedicationRequest or MedicationStatement
    Source source;
    Text subject;
    Text status;
    Codings codes;                 // medicationCodeableConcept, or the referenced Medication's code
    Text medicationReference;      // resolved after reading
    std::optional<DateTime> date;  // authoredOn / effective[x]
};

struct Allergy {
    Source source;
    Text subject;
    Text clinicalStatus;
    Text verificationStatus;
    Codings codes;
    std::optional<DateTime> recorded;
};

struct Encounter {
    Source source;
    Text subject;
    Codings types;  // Encounter.type[*]
    std::optional<DateTime> start;
};

struct MedicationDefinition {  // a Medication resource, to resolve medicationReference
    Text id;
    Text fullUrl;
    Codings codes;
};

struct Identifier {
    Text system;
    Text value;
    Text type;  // the HL7 v2-0203 identifier type code ("MR" for the medical record number), or ""
};

constexpr std::string_view kIdentifierTypeSystem = "http://terminology.hl7.org/CodeSystem/v2-0203";

struct Patient {
    Source source;
    Text fullUrl;
    std::vector<Identifier> identifiers;
    Text family;
    std::vector<Text> given;
    Text nameText;
    Text gender;  // FHIR administrative gender, "" when absent
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
    Text bundleType;  // "" for a bare Patient
    size_t resourceCount = 0;
    std::shared_ptr<TextArena> text = std::make_shared<TextArena>();  // holds every string above
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
    std::shared_ptr<TextArena> text;  // the RawRecord's, which holds every string above
};

}  // namespace ppmg::core
