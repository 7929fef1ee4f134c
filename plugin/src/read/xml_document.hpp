// The hardened XML parse that every XML format reader shares (FHIR XML, C-CDA): libxml2 with its
// own parser context per document (no global handlers, so many threads may parse at once), network
// access off, entities never substituted and no DTD ever loaded. A DOCTYPE stops the parser at once
// (before its internal subset is read), so an entity-expansion bomb or an external entity is
// refused without being expanded or fetched. Depth is counted while parsing; a tag with more than
// 256 attributes is refused before libxml2 sees it. After parsing, one linear walk over every node
// enforces the depth and string limits and refuses entity nodes (checkTree).
//
// `format` ("FHIR XML", "C-CDA") names the format in refusals.
#pragma once

#include <libxml/tree.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "read/record_reader.hpp"

namespace ppmg::core::xml {

struct DocDeleter {
    void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};
using DocPtr = std::unique_ptr<xmlDoc, DocDeleter>;

// Parses the bytes into a tree. Throws Error: PPMG_E_PARSE (not well-formed, empty),
// PPMG_E_LIMIT (depth, attributes per tag, libxml2's own caps), PPMG_E_NOT_FHIR (a DTD or an
// entity). strictNamespaces = false accepts a document that is well-formed XML but uses a prefix it
// does not declare (C-CDA written without xmlns:xsi): the attribute then keeps its prefixed name.
DocPtr parseDocument(std::string_view data, const ReadLimits& limits, const std::string& file, const char* format,
                     bool strictNamespaces = true);

// The document's root element after the checks every reader needs: no DTD or entity node anywhere,
// no element deeper than limits.maxDepth, no text or attribute value longer than
// limits.maxStringBytes. Throws Error as parseDocument does.
const xmlNode* checkedRoot(const xmlDoc* doc, const ReadLimits& limits, const std::string& file, const char* format);

inline std::string_view sv(const xmlChar* s) {
    return s ? std::string_view(reinterpret_cast<const char*>(s)) : std::string_view();
}

inline bool isElement(const xmlNode* n) { return n && n->type == XML_ELEMENT_NODE; }

// The text of an attribute. Without entity substitution or DTD an attribute holds one text node (or
// none when empty); anything else was refused by checkedRoot.
inline std::string_view attributeText(const xmlAttr* a) {
    if (!a || !a->children) return {};
    if (!a->children->next && a->children->type == XML_TEXT_NODE) return sv(a->children->content);
    return {};
}

// The line of a node in the input (0 when unknown).
long lineOf(const xmlNode* n);

bool xmlSpace(char c);
std::string_view trim(std::string_view s);

// An XML Schema / FHIR decimal: -?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)? (surrounding white space
// allowed); nullopt when the text is not one, or not finite.
std::optional<double> parseDecimal(std::string_view text);

}  // namespace ppmg::core::xml
