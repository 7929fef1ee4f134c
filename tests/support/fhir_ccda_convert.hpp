// A FHIR R4 JSON record (a Bundle, or a bare Patient) written as a C-CDA document that carries the
// same facts, the way a FHIR-to-C-CDA converter would write it (HL7's C-CDA on FHIR "FHIR to
// C-CDA" mapping pages and ConceptMaps): a CCD with Allergies, Medications, Problems, Procedures,
// Results, Vital Signs and Encounters sections, each entry under its C-CDA R2.1 template (or R1.1:
// no extension dates), the FHIR codings as code and translations with OIDs for codeSystems, the
// statuses as the format writes them (status observations, concern acts, statusCode, negationInd),
// and the dates as HL7 timestamps.
//
// Used by the parity test (every JSON vignette is also read as C-CDA) and by the benchmark's
// C-CDA twin of the reference bundle (ppmg_fhir_to_ccda). Not a product converter: it writes what
// ppmg reads.
#pragma once

#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace ppmg::test {

struct CcdaConversion {
    std::string xml;
    // True when the document carries exactly the FHIR record's facts, as ppmg reads them (some
    // FHIR statuses have no C-CDA counterpart, a blood-pressure panel becomes two observations,
    // a Condition's absent clinical status becomes its concern's status, ...); `losses` says what
    // was not carried exactly.
    bool exact = true;
    std::string losses;
};

// A record C-CDA cannot carry: several patients, or a fact whose subject is not the patient
// (in C-CDA, everything in a document is about its recordTarget).
struct NotExpressible : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct CcdaStyle {
    bool r11 = false;        // C-CDA R1.1: templateIds without extension dates
    bool narrative = true;   // each section's narrative table (a real document has one)
    std::string documentId;  // ClinicalDocument/id root; "" = a fixed UUID
};

// oidOf: the OID of a FHIR code system uri ("" when unknown: the uri is then written as it is).
CcdaConversion fhirJsonToCcda(const std::string& json, const std::function<std::string(std::string_view)>& oidOf,
                              const CcdaStyle& style = {});

}  // namespace ppmg::test
