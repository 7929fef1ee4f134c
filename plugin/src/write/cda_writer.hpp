// The CDA R2 guidance document, written in one pass by a streaming writer that escapes as
// libxml2's xmlTextWriter does (write/xml_stream.hpp; no tree). Valid against the HL7
// CDA_SDTC.xsd. The narrative is complete on its own.
#pragma once

#include <string>

#include "assess/assessment.hpp"
#include "content/content.hpp"
#include "write/render_context.hpp"

namespace ppmg {

std::string writeCda(const Assessment& a, const Content& c, const RenderContext& ctx);

}  // namespace ppmg
