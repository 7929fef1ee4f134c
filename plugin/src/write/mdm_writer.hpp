// The guidance document as an HL7 v2.5.1 MDM^T02 message (original document notification and
// content), the way v2-only EHRs receive documents: MSH, EVN, PID, PV1, TXA, then one OBX of type
// ED whose OBX-5 carries the CDA document in Base64. docs/hl7v2.md lists every field.
#pragma once

#include <string>
#include <string_view>

#include "assess/assessment.hpp"
#include "write/render_context.hpp"

namespace ppmg::core {

// cda: the document writeCda wrote for the assessment, with ctx (its id and time are the
// message's: TXA-12 is the document id, MSH-10 derived from it).
std::string writeMdm(const Assessment& a, std::string_view cda, const RenderContext& ctx);

// RFC 4648 Base64 (with padding), appended to out.
void appendBase64(std::string& out, std::string_view bytes);

}  // namespace ppmg::core
