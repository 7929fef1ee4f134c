// The one mapping: from the neutral form every format parser writes (RawRecord) to the facts about
// one patient (PatientRecord). Everything that does not depend on the format is decided here,
// once, for all formats (read/patient_record.hpp says which fields):
//  - references read into {type, id, version} (relative, absolute, urn:uuid:/urn:oid:, #contained,
//    _history), and the resources they name;
//  - medications resolved: medicationReference to a Medication of the record (by fullUrl, by id,
//    or contained in the same resource); a reference to nothing is an unresolved medication;
//  - code systems named the one way the content knows them (an OID, urn:oid:OID or an HL7 v2
//    table 0396 name becomes the system's uri; the codings may then view the content's strings,
//    which outlive every request);
//  - the patient chosen (requested id, else the delivery's subject, else the only Patient);
//    repeated copies of one Patient (same id or fullUrl) are one patient;
//  - whose data each fact is: the patient's (kept), another patient's (dropped), or unknown (no
//    subject, or a subject naming no Patient of the record: kept, marked Whose::Unknown);
//  - the date that counts for each fact (clinical rules 1.1, rule 1);
//  - statuses read by system (rule 19): the HL7 coding, whatever its position, compared exactly;
//    two that disagree: the one under which the datum counts (the worse one).
// Repeated copies of one resource are all kept: a copy under which a datum counts, counts.
#pragma once

#include <string>
#include <string_view>

#include "read/patient_record.hpp"

namespace ppmg::core {

struct Content;

// A reference as written, read into its parts (views of `written`).
ResourceReference readReference(Text written);

// Chooses the patient and decides every fact (see above). Throws Error(PPMG_E_AMBIGUOUS_PATIENT)
// naming the candidates when no patient can be chosen, and when the requested id names none.
PatientRecord mapRecord(RawRecord&& raw, const std::string& requestedPatientId, const Content& content,
                        const std::string& sourceName);

// The HL7 code systems of the status CodeableConcepts (FHIR R4).
namespace status_system {
inline constexpr std::string_view kConditionClinical = "http://terminology.hl7.org/CodeSystem/condition-clinical";
inline constexpr std::string_view kConditionVerification = "http://terminology.hl7.org/CodeSystem/condition-ver-status";
inline constexpr std::string_view kAllergyClinical =
    "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical";
inline constexpr std::string_view kAllergyVerification =
    "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification";
}  // namespace status_system

// A canonical text of every fact of the record (patient, then each list in order), one line per
// fact: what the parity test compares across formats. With sources = false, each fact's source
// (resource type, id, path) is left out, for formats that name their entries differently.
std::string describeFacts(const PatientRecord& record, bool sources = true);

}  // namespace ppmg::core
