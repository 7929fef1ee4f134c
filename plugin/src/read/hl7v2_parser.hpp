// The HL7 v2 parser: one or more v2.3-2.8 messages in ER7 (pipe) encoding, optionally in an FHS/BHS
// batch, into the neutral form (RawRecord, read/patient_record.hpp), in FHIR's vocabulary. Like
// the FHIR parsers it decides nothing: references, the patient choice, whose data a fact is, the
// date that counts, what a status means and the code systems' names are the mapping's
// (read/record_mapping.hpp). docs/hl7v2.md lists every field read and every translation.
//
// Syntax: segments end with CR, LF or CRLF; each MSH (and FHS/BHS) names its own field separator
// and encoding characters; repetitions, components and subcomponents; the escape sequences
// \F\ \S\ \T\ \R\ \E\ and \Xhh..\ (and the formatting ones: \.br\ is a line break); "" is an
// explicit null, read as no value (never as two quote marks).
//
// What it reads, per message (MSH): PID (a Patient per distinct PID-3 identifier set, its id the
// first identifier's ID, so `--patient ID` selects it; every later fact's subject names its
// message's PID), PV1 (Encounter), OBR/OBX (Observation), DG1 and PRB (Condition), PR1
// (Procedure), ORC with RXO/RXE (MedicationRequest) and RXA (MedicationStatement), AL1 and IAM
// (AllergyIntolerance). Other segments are skipped.
//
// Errors carry a Location whose fhirPath is the v2 position, "SEG[n]-f" or "SEG[n]-f.c" (the n-th
// SEG segment of its message, field f, component c), resourceId the message's control id (MSH-10)
// and line the segment's line in the input. PPMG_E_PARSE: not ER7 (no MSH, a line that is not a
// segment, bad encoding characters); PPMG_E_UNSUPPORTED: a version outside 2.3-2.8 (MSH-12);
// PPMG_E_NOT_FHIR: a field ppmg reads holds a value of the wrong type (a date, a number);
// PPMG_E_ENCODING: an escape that decodes to a NUL or to invalid UTF-8; PPMG_E_LIMIT: over a
// limit (resources, a field's length).
#pragma once

#include <string>
#include <string_view>

#include "read/patient_record.hpp"
#include "read/record_reader.hpp"

namespace ppmg::core {

RawRecord readHl7v2(std::string_view data, const ReadLimits& limits, const std::string& sourceName);

// True when the text (after any byte order mark and blank lines) starts like HL7 v2 ER7: "MSH",
// "FHS" or "BHS" followed by a field separator.
bool looksLikeHl7v2(std::string_view text);

}  // namespace ppmg::core
