// The CDA R2 guidance document, written in one pass by a streaming writer that escapes as
// libxml2's xmlTextWriter does (write/xml_stream.hpp; no tree). Valid against the HL7
// CDA_SDTC.xsd. The narrative is complete on its own.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "assess/assessment.hpp"
#include "content/content.hpp"
#include "write/render_context.hpp"

namespace ppmg::core {

// The parts of the narrative that depend on the content alone (warning signs, each massage type's
// technique, benefits and sources), written once, as the bytes writeCda would write for them, so
// that a document does no work on the content. Built by the engine when it loads the content.
struct CdaFragments {
    const Content* content = nullptr;  // the content these were written from
    std::string warningSigns;          // the intro paragraph and the list of signs
    struct Type {
        std::string technique;           // technique and precautions lists
        std::string tail;                // benefits, not supported, sources
        std::vector<size_t> references;  // Content::references indices the tail cites
    };
    std::vector<Type> types;  // by massage type
    struct RuleText {
        std::string head;                // a finding's item: bold id, " (label): reason ", reference links
        std::string links;               // the reference links alone (the findings table's last cell)
        std::vector<size_t> references;  // Content::references indices they cite
    };
    std::vector<RuleText> rules;  // by Content::rules index, for a finding of the rule's outcome
};

std::unique_ptr<const CdaFragments> prepareCdaFragments(const Content& c);

// fragments: from prepareCdaFragments(c), or nullptr to write everything from the content (same
// bytes; tests/unit/test_cda_writer.cpp checks that the two agree).
std::string writeCda(const Assessment& a, const Content& c, const RenderContext& ctx,
                     const CdaFragments* fragments = nullptr);

}  // namespace ppmg::core
