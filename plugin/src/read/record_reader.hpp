// The format parsers: one per format, each turning bytes into the neutral form (RawRecord,
// read/patient_record.hpp) and deciding nothing; read/record_mapping.hpp then makes the facts.
//
// The FHIR parsers (JSON with simdjson; XML with libxml2, entities, DTD and network off) accept a
// Bundle of any type (collection, searchset, transaction, document, batch, ...) or a single
// Patient resource, and write the same RawRecord for the same record (the parity test compares
// the facts of every fixture in both). They:
//  - keep each fact's Source: resourceType, id (resource id; fullUrl if it has none) and the
//    FHIR path, e.g. "Bundle.entry[3].resource";
//  - read Patient, Observation, Condition, Procedure, MedicationRequest, MedicationStatement,
//    Medication (also contained), AllergyIntolerance and Encounter, and count (but skip) every
//    other resource;
//  - take codes from CodeableConcept.coding[*] (system, code, display), and Condition.code.text;
//  - take every date the fact carries (the mapping chooses): Observation effectiveDateTime |
//    effectivePeriod.start | effectiveInstant, and issued; Procedure performedDateTime |
//    performedPeriod.start; Condition onsetDateTime | onsetPeriod.start, recordedDate and
//    abatementDateTime | abatementPeriod.end (else .start); MedicationRequest authoredOn;
//    MedicationStatement effectiveDateTime | effectivePeriod.start, and dateAsserted;
//    AllergyIntolerance onsetDateTime | onsetPeriod.start, and recordedDate; Encounter period.start;
//  - take Observation valueQuantity (value; unit = code, else unit), valueCodeableConcept,
//    valueDateTime, valueString, and component[*] (code, valueQuantity);
//  - take statuses as written: Observation/Procedure/Medication* status (a code); Condition and
//    AllergyIntolerance clinicalStatus/verificationStatus: every coding (a plain string, not R4,
//    as one coding without a system);
//  - take references as written: subject.reference (AllergyIntolerance: patient.reference),
//    medicationReference.reference;
//  - refuse, with an Error carrying a status and a Location, input that is not well-formed
//    (PPMG_E_PARSE), over a limit (PPMG_E_LIMIT), not FHIR or the wrong JSON/XML type for a
//    field they need (PPMG_E_NOT_FHIR), or without any Patient (PPMG_E_NO_PATIENT). JSON with a
//    repeated member name in an object ppmg reads is refused (PPMG_E_NOT_FHIR): FHIR forbids
//    it, and readers disagree on which copy wins.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ppmg/ppmg.h"
#include "read/patient_record.hpp"

namespace ppmg::core {

struct ReadLimits {
    uint64_t maxInputBytes = 64ull << 20;
    uint32_t maxDepth = 64;
    uint32_t maxResources = 100000;
    uint32_t maxStringBytes = 1u << 20;
};

RawRecord readFhirJson(std::string_view data, const ReadLimits& limits, const std::string& sourceName);
RawRecord readFhirXml(std::string_view data, const ReadLimits& limits, const std::string& sourceName);
// A C-CDA R2.1 or R1.1 document (read/ccda_parser.cpp, docs/ccda-input.md).
RawRecord readCcda(std::string_view data, const ReadLimits& limits, const std::string& sourceName);
// Whether XML input is CDA by its content: a root (or DOCTYPE) named ClinicalDocument, or a C-CDA
// fragment's root (section, entry, act, observation, ...) in the CDA namespace or in none.
bool isCcda(std::string_view xml);

// Checks size, UTF-8 and NUL bytes, sniffs the format when AUTO, then parses.
RawRecord readRecord(std::string_view data, ppmg_input_format format, const ReadLimits& limits,
                     const std::string& sourceName);

}  // namespace ppmg::core
