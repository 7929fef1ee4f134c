#include "write/html_view.hpp"

#include <libxml/parser.h>
#include <libxslt/transform.h>
#include <libxslt/xsltInternals.h>
#include <libxslt/xsltutils.h>

#include <climits>

#include "base/errors.hpp"

namespace ppmg::core {

HtmlView::HtmlView(const std::string& path) {
    xmlDocPtr doc = xmlReadFile(path.c_str(), nullptr, XML_PARSE_NONET);
    if (!doc) throw Error(PPMG_E_CONTENT, "cannot parse the stylesheet " + path, Location{path, "", "", 0});
    stylesheet_ = xsltParseStylesheetDoc(doc);  // takes the document
    if (!stylesheet_) {
        xmlFreeDoc(doc);
        throw Error(PPMG_E_CONTENT, "the stylesheet " + path + " is not valid XSLT", Location{path, "", "", 0});
    }
}

HtmlView::~HtmlView() {
    if (stylesheet_) xsltFreeStylesheet(stylesheet_);
}

std::string HtmlView::transform(std::string_view cda) const {
    if (cda.size() > static_cast<size_t>(INT_MAX)) throw Error(PPMG_E_LIMIT, "the CDA document is too large for HTML");
    xmlDocPtr doc = xmlReadMemory(cda.data(), static_cast<int>(cda.size()), "guidance.xml", nullptr, XML_PARSE_NONET);
    if (!doc) throw Error(PPMG_E_INTERNAL, "the CDA document could not be parsed back for HTML");
    xmlDocPtr html = xsltApplyStylesheet(stylesheet_, doc, nullptr);
    xmlFreeDoc(doc);
    if (!html) throw Error(PPMG_E_INTERNAL, "the HTML stylesheet failed");
    xmlChar* bytes = nullptr;
    int size = 0;
    const int rc = xsltSaveResultToString(&bytes, &size, html, stylesheet_);
    xmlFreeDoc(html);
    if (rc != 0 || !bytes) throw Error(PPMG_E_INTERNAL, "the HTML page could not be serialised");
    std::string out(reinterpret_cast<const char*>(bytes), static_cast<size_t>(size));
    xmlFree(bytes);
    return out;
}

}  // namespace ppmg::core
