// The facts of a record, in two stages of one form:
//
//  1. The neutral form (RawRecord): what a format parser (FHIR JSON, FHIR XML, C-CDA, HL7 v2)
//     writes. A parser only turns bytes into these structs, in FHIR's vocabulary: the fields
//     marked "parsed" below, each as written (a reference as written, every coding of a status,
//     every date the format carries). It decides nothing.
//  2. The facts about one patient (PatientRecord): what the one mapping (read/record_mapping.hpp)
//     makes of a RawRecord, the same for every format. It reads references, resolves medications,
//     chooses the patient, decides whose data each fact is, which date counts for it and what its
//     statuses say: the fields marked "decided". The rule engine reads only PatientRecord.
//
// Every fact keeps its source (resource type, id, path; for a C-CDA entry also its id, section and
// template) so findings can cite it.
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

// Where a fact stands in a document that is not a FHIR resource (a C-CDA entry): what a clinician
// needs to find it in the source document. In the record's arena; parsed.
struct DocumentEntry {
    Text idRoot;             // the entry's id (its first): root
    Text idExtension;        // and extension ("" when none)
    Text sectionTemplateId;  // its section's templateId root ("" when the section has none)
    Text sectionTitle;       // its section's title as written
    Text templateId;         // the entry's template the fact was read by: "root" or "root:extension"
};

struct Source {
    Text resourceType;        // "Observation"
    Text id;                  // resource id, or fullUrl when the resource has none (C-CDA: the entry's id)
    Text path;                // "Bundle.entry[3].resource", or "" when entry says where (C-CDA: an XPath)
    size_t entry = kNoEntry;  // a Bundle entry's index, its path spelled out only when shown
    const DocumentEntry* document = nullptr;  // a C-CDA entry: its id, section and template; else null

    static constexpr size_t kNoEntry = static_cast<size_t>(-1);
    // The path of the resource: path, or "Bundle.entry[<entry>].resource".
    std::string pathText() const {
        if (entry == kNoEntry) return std::string(path);
        return "Bundle.entry[" + std::to_string(entry) + "].resource";
    }
};

// A reference read into its parts (readReference, read/record_mapping.hpp). Views of the text.
struct ResourceReference {
    enum class Kind : uint8_t {
        None,       // no reference
        Relative,   // "Patient/x", "Patient/x/_history/2"
        Absolute,   // "https://server/fhir/Patient/x[/_history/2]"
        Urn,        // "urn:uuid:...", "urn:oid:..."
        Contained,  // "#x"
        Bare,       // "x": an id alone (not FHIR, but written by some systems)
        Other       // anything else ("Patient", "https://server/", ...): names nothing here
    };
    Kind kind = Kind::None;
    Text type;     // "Patient" (Relative, Absolute)
    Text id;       // "x" (Relative, Absolute, Contained, Bare; Urn: the part after urn:uuid:)
    Text version;  // "2" of "/_history/2"
    Text url;      // Absolute: the URL without its _history part; Urn: the whole urn
};

// Whose data a fact is (decided by the mapping). Facts about another patient of the record are
// not kept.
enum class Whose : uint8_t {
    Patient,  // its subject names the assessed patient
    Unknown   // no subject, or a subject that names no Patient of the record
};

// A status CodeableConcept (Condition/AllergyIntolerance clinicalStatus, verificationStatus),
// decided by the mapping from its codings: the code of the coding in the HL7 code system, exactly.
struct StatusReading {
    enum class State : uint8_t {
        Absent,     // no status at all
        Read,       // code is the HL7 code
        Unreadable  // no HL7 coding, an unknown code, or two HL7 codings that disagree
    };
    State state = State::Absent;
    Text code;   // Read: the HL7 code ("active", "refuted", ...)
    Text shown;  // for people: the code, else the first coding's code or text as written
};

struct Quantity {
    double value = 0;
    Text unit;  // UCUM code (valueQuantity.code), else the unit text
    bool present = false;
};

struct Observation {
    Source source;
    Text subject;                           // parsed: the reference as written, "" when absent
    Text status;                            // parsed
    Codings codes;                          // parsed
    std::optional<DateTime> effective;      // parsed: effectiveDateTime | effectivePeriod.start | effectiveInstant
    std::optional<DateTime> issued;         // parsed
    Quantity quantity;                      // parsed: valueQuantity
    Codings valueCodes;                     // parsed: valueCodeableConcept
    std::optional<DateTime> valueDateTime;  // parsed
    Text valueText;                         // parsed: valueString, for display
    struct Component {
        Codings codes;
        Quantity quantity;
    };
    std::vector<Component> components;  // parsed
    std::optional<DateTime> when;       // decided: effective, else issued
    Whose whose = Whose::Patient;       // decided
};

struct Condition {
    Source source;
    Text subject;                       // parsed
    Codings clinicalStatusCodings;      // parsed: every coding (a bare code: one coding without system)
    Codings verificationStatusCodings;  // parsed
    Codings codes;                      // parsed
    Text codeText;                      // parsed: code.text
    std::optional<DateTime> onset;      // parsed: onsetDateTime | onsetPeriod.start
    std::optional<DateTime> recorded;   // parsed: recordedDate
    std::optional<DateTime> abatement;  // parsed: abatementDateTime | abatementPeriod.end (else .start)
    StatusReading clinicalStatus;       // decided
    StatusReading verificationStatus;   // decided
    std::optional<DateTime> when;       // decided: onset, else recorded
    Whose whose = Whose::Patient;       // decided
};

struct Procedure {
    Source source;
    Text subject;                       // parsed
    Text status;                        // parsed
    Codings codes;                      // parsed
    std::optional<DateTime> performed;  // parsed: performedDateTime | performedPeriod.start
    std::optional<DateTime> when;       // decided: performed
    Whose whose = Whose::Patient;       // decided
};

struct Medication {  // a MedicationRequest or MedicationStatement
    Source source;
    Text subject;                          // parsed
    Text status;                           // parsed
    Codings codes;                         // parsed: medicationCodeableConcept; decided: or the referenced Medication's
    Text medicationReference;              // parsed: as written
    std::optional<DateTime> authoredOn;    // parsed (MedicationRequest)
    std::optional<DateTime> effective;     // parsed (MedicationStatement): effectiveDateTime | effectivePeriod.start
    std::optional<DateTime> dateAsserted;  // parsed (MedicationStatement)
    std::optional<DateTime> when;          // decided: authoredOn; effective, else dateAsserted
    bool unresolved = false;               // decided: a medicationReference to nothing in the record
    Whose whose = Whose::Patient;          // decided
};

struct Allergy {
    Source source;
    Text subject;                       // parsed: AllergyIntolerance.patient
    Codings clinicalStatusCodings;      // parsed
    Codings verificationStatusCodings;  // parsed
    Codings codes;                      // parsed
    std::optional<DateTime> onset;      // parsed: onsetDateTime | onsetPeriod.start
    std::optional<DateTime> recorded;   // parsed: recordedDate
    StatusReading clinicalStatus;       // decided
    StatusReading verificationStatus;   // decided
    std::optional<DateTime> when;       // decided: onset, else recorded
    Whose whose = Whose::Patient;       // decided
};

struct Encounter {
    Source source;
    Text subject;                   // parsed
    Codings types;                  // parsed: Encounter.type[*]
    std::optional<DateTime> start;  // parsed: period.start
    std::optional<DateTime> when;   // decided: start
    Whose whose = Whose::Patient;   // decided
};

// A Medication resource, to resolve medicationReference. parsed.
struct MedicationDefinition {
    Text id;
    Text fullUrl;
    Codings codes;
    // A contained Medication: the index in RawRecord::medications of the resource that contains
    // it ("#id" references resolve only there); kNotContained for a resource of the record.
    size_t containedIn = kNotContained;
    static constexpr size_t kNotContained = static_cast<size_t>(-1);
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

// The neutral form: everything a parser read from one input, for all patients in it.
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

// The facts about one patient: what the mapping made of a RawRecord.
struct PatientRecord {
    Patient patient;
    std::vector<Observation> observations;
    std::vector<Condition> conditions;
    std::vector<Procedure> procedures;
    std::vector<Medication> medications;
    std::vector<Allergy> allergies;
    std::vector<Encounter> encounters;
    size_t patientCount = 1;          // the distinct Patients in the record
    std::shared_ptr<TextArena> text;  // the RawRecord's, which holds every string above
};

}  // namespace ppmg::core
