// The HTML view: the CDA document through the content's stylesheet (content/xsl/), the same path
// an EHR's CDA viewer takes. Loaded once per engine; transforming is safe from many threads.
#pragma once

#include <string>
#include <string_view>

typedef struct _xsltStylesheet xsltStylesheet;

namespace ppmg::core {

class HtmlView {
public:
    // Parses and compiles the stylesheet; throws Error(PPMG_E_CONTENT) when it is not valid XSLT.
    explicit HtmlView(const std::string& stylesheetPath);
    ~HtmlView();
    HtmlView(const HtmlView&) = delete;
    HtmlView& operator=(const HtmlView&) = delete;

    // The HTML page for a CDA document this plugin wrote; throws Error(PPMG_E_INTERNAL).
    std::string transform(std::string_view cda) const;

private:
    xsltStylesheet* stylesheet_ = nullptr;
};

}  // namespace ppmg::core
