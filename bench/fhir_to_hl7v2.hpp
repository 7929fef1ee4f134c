// A FHIR R4 JSON record written as HL7 v2.5.1 messages that carry the same facts, as ppmg reads
// them (docs/hl7v2.md): the generator of the v2 twins of the parity test (every JSON vignette of
// the rule tests, tests/support/test_env.cpp) and of the benchmark's bundles
// (bench/run_bench_hl7v2.sh). Test and benchmark tooling: not part of the product.
//
// One patient's record becomes up to six messages, each with the same PID: ADT^A08 (PV1 per
// Encounter, PR1 per Procedure), PPR^PC1 (PRB per Condition), RDE^O11 (ORC + RXE per
// MedicationRequest), RAS^O17 (ORC + RXA per MedicationStatement), ORU^R01 (OBR, then OBX per
// Observation) and ADT^A60 (IAM per AllergyIntolerance). Code systems are written as v2 feeds
// write them: HL7 table 0396 names (SCT, LN, RXNORM, I10C, I10, WC, UCUM), else OIDs for urn:oid:
// systems, else the uri.
#pragma once

#include <optional>
#include <string>

namespace ppmg::bench {

// Two facts v2 cannot spell as FHIR does are written with the spelling v2 has, which means the
// same to the rules: a Procedure "completed" as a PR1, which has no status (a procedure done);
// an AllergyIntolerance clinically "active" as an IAM without IAM-17's inactive (no clinical
// status: it counts as active). A comparison of facts reads those two as equal.
struct Hl7v2Twin {
    std::string messages;  // the v2 messages, segments ending in CR
    // False when v2 carries facts in another shape, which reads to other facts with the same
    // meaning for the rules: a blood-pressure panel's components become one OBX each.
    bool sameFacts = true;
};

// nullopt when the record holds something v2 (as ppmg reads it) cannot carry the same way: not
// exactly one Patient, a fact without a subject or about someone else, a medicationReference, a
// status without a system or with no v2 equivalent, a date form v2 has no field for, ...; `why`
// then says what.
std::optional<Hl7v2Twin> fhirJsonToHl7v2(const std::string& json, std::string* why = nullptr);

}  // namespace ppmg::bench
