// Readers: FHIR R4 JSON (simdjson) and FHIR R4 XML (libxml2, entities/DTD/network off) into
// one RawRecord; then the choice of the patient to assess.
//
// Both readers accept a Bundle of any type (collection, searchset, transaction, document,
// batch, ...) or a single Patient resource, and produce the same RawRecord for the same
// record (the JSON and XML twins in ../shared/data must give equal records). They:
//  - keep each fact's Source: resourceType, id (resource id; fullUrl if it has none) and the
//    FHIR path, e.g. "Bundle.entry[3].resource";
//  - read Patient, Observation, Condition, Procedure, MedicationRequest, MedicationStatement,
//    Medication, AllergyIntolerance and Encounter, and count (but skip) every other resource;
//  - take codes from CodeableConcept.coding[*] (system, code, display);
//  - take dates: Observation effectiveDateTime | effectivePeriod.start | effectiveInstant |
//    issued; Procedure performedDateTime | performedPeriod.start; Condition onsetDateTime |
//    onsetPeriod.start and recordedDate; MedicationRequest authoredOn; MedicationStatement
//    effectiveDateTime | effectivePeriod.start | dateAsserted; AllergyIntolerance recordedDate;
//    Encounter period.start;
//  - take Observation valueQuantity (value; unit = code, else unit), valueCodeableConcept,
//    valueDateTime, valueString, and component[*] (code, valueQuantity);
//  - take statuses: Observation/Procedure/Medication* status; Condition and
//    AllergyIntolerance clinicalStatus/verificationStatus coding[0].code (R4 CodeableConcept);
//  - take the subject as written: subject.reference (AllergyIntolerance: patient.reference);
//  - resolve MedicationRequest/Statement medicationReference to a Medication in the bundle
//    (by "Medication/id", by fullUrl, or "#id" contained) and copy its codes;
//  - refuse, with an Error carrying a status and a Location, input that is not well-formed
//    (PPMG_E_PARSE), over a limit (PPMG_E_LIMIT), not FHIR or the wrong JSON/XML type for a
//    field they need (PPMG_E_NOT_FHIR), or without any Patient (PPMG_E_NO_PATIENT).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ppmg/ppmg.h"
#include "read/patient_record.hpp"

namespace ppmg::core {

struct Content;

struct ReadLimits {
    uint64_t maxInputBytes = 64ull << 20;
    uint32_t maxDepth = 64;
    uint32_t maxResources = 100000;
    uint32_t maxStringBytes = 1u << 20;
};

RawRecord readFhirJson(std::string_view data, const ReadLimits& limits, const std::string& sourceName);
RawRecord readFhirXml(std::string_view data, const ReadLimits& limits, const std::string& sourceName);

// Checks size, UTF-8 and NUL bytes, sniffs the format when AUTO, then reads.
RawRecord readRecord(std::string_view data, ppmg_input_format format, const ReadLimits& limits,
                     const std::string& sourceName);

// The patient named in the request, else the subject of the delivery, else the only Patient;
// otherwise PPMG_E_AMBIGUOUS_PATIENT naming the candidates. Facts about other patients are
// dropped; facts with no subject stay with the chosen patient.
PatientRecord selectPatient(RawRecord&& raw, const std::string& requestedId, const Content& content,
                            const std::string& sourceName);

// True when the reference ("Patient/x", "urn:uuid:x", "http://.../Patient/x") names the patient.
bool referencesPatient(std::string_view reference, const Patient& p);

}  // namespace ppmg::core
